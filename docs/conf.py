"""Sphinx configuration for the musicgenre documentation.

Build with ``nox -s docs`` or ``sphinx-build -n -W --keep-going -b html docs docs/_build/html``.

Everything the pages show about the library's behaviour is computed at build time: the
figures by the ``.. plot::`` blocks in the pages (matplotlib's plot directive), the example
gallery by sphinx-gallery (every script of ``examples/`` run on small synthetic settings,
see ``docs/_ext/docs_gallery.py``; an example runs again only when its file changed), and
the files under ``docs/generated/`` (git-ignored) by :func:`generate`: the model's layer
table, ``--help`` of the example, the tables of "Choose a recipe" and "Performance" from
the committed results files (``docs/_ext/docs_results.py``), and one small run of
``examples/reproduce_gtzan.py`` whose output folder the getting-started and evaluation
pages show. That run is repeated only when the library, the example or this file changed
since.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pkgutil
import runpy
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.inspect import TypeAliasForwardRef

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "generated"
EXAMPLE = ROOT / "examples" / "reproduce_gtzan.py"
sys.path.insert(0, str(ROOT / "src"))  # build from the checkout even when not installed
sys.path.insert(0, str(DOCS / "_ext"))  # the gallery's settings and the results tables

import docs_results  # noqa: E402
import torch  # noqa: E402

import musicgenre  # noqa: E402
import musicgenre.io.decode  # noqa: E402

# musicgenre.io imports PyTorch only where it makes tensors; autodoc evaluates annotations
# in the module that defines the function, where ``torch.Tensor`` must then be found for
# ``StrPath`` and the rest to be spelt out.
musicgenre.io.decode.torch = torch  # type: ignore[attr-defined]

logger = logging.getLogger("musicgenre.docs")

# -- Project -------------------------------------------------------------------------
project = "musicgenre"
author = "The musicgenre developers"
project_copyright = "2026 The musicgenre developers"
release = musicgenre.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",  # only to render CHANGELOG.md inside changelog.rst
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
]
root_doc = "index"
# docs/generated/ is the build's; only the gallery's pages there are sources.
exclude_patterns = ["_build", "_ext", "generated/example-run", "Thumbs.db", ".DS_Store", "results_*.md"]
nitpicky = True
pygments_style = "sphinx"
add_module_names = False
python_use_unqualified_type_names = True
toc_object_entries_show_parents = "hide"

# -- autodoc / napoleon --------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
napoleon_use_ivar = False
napoleon_attr_annotations = True

# Names of other projects that appear in signatures and docstrings. Without network there
# is no intersphinx, so they cannot link anywhere; they are listed one by one, so that a
# broken reference to anything else (our own API above all) still fails the build.
_EXTERNAL = [
    # torch, by the public name and by the defining module that signatures show.
    "torch.Tensor", "torch.Generator", "torch._C.Generator", "torch.device", "torch.dtype", "torch.Size",
    "torch.nn.Module", "torch.nn.modules.module.Module", "torch.nn.Conv2d", "torch.nn.modules.conv.Conv2d",
    "torch.nn.Linear", "torch.nn.modules.linear.Linear",
    "torch.utils.data.Dataset", "torch.utils.data.dataset.Dataset", "torch.utils.data.Subset",
    "torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader",
    "torch.optim.Optimizer", "torch.optim.optimizer.Optimizer", "torch.optim.lr_scheduler.LRScheduler",
    # numpy
    "numpy.ndarray", "numpy.dtype", "numpy.int64", "numpy.float32", "numpy.float64", "numpy.random.Generator",
    "numpy.floating", "numpy.typing.NDArray", "numpy.typing.ArrayLike",
    # Pillow (the images extra)
    "PIL.Image.Image",
    # the standard library and matplotlib
    "pathlib.Path", "os.PathLike", "argparse.ArgumentParser", "matplotlib.figure.Figure",
    "collections.abc.Callable", "collections.abc.Iterable", "collections.abc.Iterator",
    "collections.abc.Mapping", "collections.abc.Sequence",
]  # fmt: skip
nitpick_ignore = [
    (role, name)
    for full in _EXTERNAL
    for name in (full, full.rsplit(".", 1)[-1])  # docstrings often give the short name
    for role in ("py:class", "py:data", "py:obj")
]
nitpick_ignore += [
    ("py:mod", "soundfile"),
    ("py:mod", "soxr"),
    ("py:func", "dataclasses.replace"),
    ("py:class", "abc.ABC"),
    # load_pretrained's overload returns the Musicnn subclass it is given (a TypeVar)
    ("py:class", "MusicnnT"),
    ("py:class", "musicgenre.models.pretrained.MusicnnT"),
    # optimize_for_inference returns a copy of the class it is given (a TypeVar)
    ("py:class", "ModuleT"),
    ("py:class", "musicgenre.models.fast.ModuleT"),
    ("py:class", "torch.utils.data.sampler.Sampler"),
    # musicgenre.parallel's jobs: any input (In), any result (R), any value (T)
    *(
        (role, f"{prefix}{name}")
        for role in ("py:class", "py:obj")
        for prefix in ("", "musicgenre.parallel.")
        for name in ("In", "R", "T")
    ),
    ("py:mod", "atexit"),
]
# Spelt-out numpy scalar types inside NDArray[...] in attribute annotations.
nitpick_ignore_regex = [(r"py:class", r"np\.(int64|float32|float64|floating)")]
# Keep numpy's huge ArrayLike union and our TypeVar readable in signatures.
autodoc_type_aliases = {
    "ArrayLike": "numpy.typing.ArrayLike",
    "ModelT": "musicgenre.models.cnn.GenreCNN",
    "ModelClass": "musicgenre.models.cnn.GenreCNN",
}


def _alias_repr(self: TypeAliasForwardRef) -> str:
    return self.name


# Sphinx 9 renders an alias inside a union (``groups: ArrayLike | None``) by its repr,
# "TypeAliasForwardRef('numpy.typing.ArrayLike')"; let the repr be the alias itself.
TypeAliasForwardRef.__repr__ = _alias_repr  # type: ignore[method-assign]

# -- HTML ----------------------------------------------------------------------------
# pydata-sphinx-theme: the theme of NumPy, SciPy, pandas, matplotlib and scikit-learn,
# whose conventions our readers know; light and dark modes, the page's table of contents
# beside the text, a phone layout, styles for sphinx-gallery, and a version switcher.
html_theme = "pydata_sphinx_theme"
html_title = f"musicgenre {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_sidebars = {"index": [], "choose_recipe": [], "performance": []}  # wide pages: no left column
# The version switcher reads a list of the published versions. The default is the list in
# docs/_static (this version only); a site that hosts several versions sets
# MUSICGENRE_DOCS_SWITCHER to the URL of its one shared list (e.g. on Read the Docs,
# https://musicgenre.readthedocs.io/en/latest/_static/switcher.json).
SWITCHER_JSON = os.environ.get("MUSICGENRE_DOCS_SWITCHER", "_static/switcher.json")
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "navbar_end": ["version-switcher", "theme-switcher", "navbar-icon-links"],
    "switcher": {"json_url": SWITCHER_JSON, "version_match": os.environ.get("READTHEDOCS_VERSION", "dev")},
    "check_switcher": not SWITCHER_JSON.startswith(("http://", "https://")),  # no network at build time
    "show_version_warning_banner": False,
    "secondary_sidebar_items": ["page-toc"],  # "On this page", beside the text
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "icon_links": [
        {"name": "GitHub", "url": "https://github.com/musicgenre/musicgenre", "icon": "fa-brands fa-github"},
    ],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}

# -- Copy buttons (sphinx-copybutton) ------------------------------------------------
# Copy the command, not the prompt or the output of a console session.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_exclude = ".linenos, .gp, .go"

# -- Example gallery (sphinx-gallery) ------------------------------------------------
# Every script of examples/ runs during the build, with the small synthetic settings and
# the output folder (outside the checkout) that docs/_ext/docs_gallery.py gives it; its
# printed output and the plots it saves are shown, and the script can be downloaded as a
# .py file or a Jupyter notebook. An example runs again only when its file changed (its
# MD5 is kept beside the page); a failing example stops the build.
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["generated/gallery"],
    "filename_pattern": r"/",  # run every example
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "docs_gallery.ExampleOrder",
    "reset_argv": "docs_gallery.reset_argv",
    "image_scrapers": ("matplotlib", "docs_gallery.saved_figures"),
    "abort_on_example_error": True,
    "write_computation_times": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "capture_repr": (),
    "show_memory": False,
    "first_notebook_cell": None,
}

# -- Figures (matplotlib's plot directive) -------------------------------------------
plot_formats = [("png", 100)]  # one format at one resolution keeps the build fast
plot_html_show_formats = False
plot_html_show_source_link = False
plot_include_source = False
plot_pre_code = """
import numpy as np
import matplotlib.pyplot as plt
import torch
import musicgenre as mg
"""
plot_rcparams = {
    "figure.figsize": (8.0, 3.0),
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "image.cmap": "magma",
}
plot_apply_rcparams = True

# -- MyST (CHANGELOG.md) -------------------------------------------------------------
myst_heading_anchors = 3


# -- Build-time content: docs/generated/ ---------------------------------------------
# The example run of the getting-started page: small enough for a docs build (about 20 s
# of CPU time), large enough for the validation and test parts to hold every genre.
# getting_started.rst shows this command line: keep the two in step.
EXAMPLE_ARGS = ["--clips-per-genre", "7", "--duration", "1.5", "--max-epochs", "8", "--seed", "42"]


#: How long the main job, ``examples/reproduce_gtzan.py`` on its synthetic default, takes
#: (its last line prints the time). The pages say it as ``|main-job-time|``; README.md
#: must say the same words, or the build fails (:func:`check_readme`).
MAIN_JOB_TIME = "about 50 s on a 2-core CPU"
rst_epilog = f"""
.. |main-job-time| replace:: {MAIN_JOB_TIME}
"""


def _newest_input() -> float:
    inputs = [*(ROOT / "src" / "musicgenre").rglob("*.py"), EXAMPLE, Path(__file__)]
    return max(p.stat().st_mtime for p in inputs)


def _fresh(target: Path) -> bool:
    return target.exists() and target.stat().st_mtime > _newest_input()


def _describe(module: Any) -> str:
    """A short description of a layer: ``Conv2d 1 -> 8, 3x3, padding 1``."""
    import torch

    if isinstance(module, torch.nn.Conv2d):
        k, p = module.kernel_size, module.padding
        return f"Conv2d {module.in_channels} -> {module.out_channels}, {k[0]}x{k[1]}, padding {p[0]}"  # type: ignore[index]
    if isinstance(module, torch.nn.MaxPool2d):
        return f"MaxPool2d {module.kernel_size}x{module.kernel_size}"
    if isinstance(module, torch.nn.Linear):
        return f"Linear {module.in_features:,} -> {module.out_features:,}"
    if isinstance(module, torch.nn.Dropout):
        return f"Dropout p={module.p}"
    if isinstance(module, torch.nn.BatchNorm2d):
        return f"BatchNorm2d {module.num_features}"
    return type(module).__name__


def _layer_rows() -> list[tuple[str, str, str, str]]:
    """Each leaf layer of the reference GenreCNN with its output shape and parameter count."""
    import torch

    model = musicgenre.GenreCNN(seed=0).eval()
    cfg = model.config
    rows = [("input", "log-mel spectrogram", f"1 x {cfg.n_mels} x {cfg.n_frames}", "")]

    def record(name: str, module: torch.nn.Module) -> Any:
        def hook(_: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if name == "embedding":  # forward_head flattens right before this layer
                rows.append(("(flatten)", "``torch.flatten``", f"{inputs[0].shape[1]:,}", ""))
            params = sum(p.numel() for p in module.parameters())
            shape = " x ".join(f"{d:,}" for d in output.shape[1:])
            rows.append((f"``{name}``", _describe(module), shape, f"{params:,}" if params else ""))
            if name == "embedding":  # and applies ReLU right after it
                rows.append(("(ReLU)", "``torch.relu``", shape, ""))

        return hook

    handles = [
        module.register_forward_hook(record(name, module))
        for name, module in model.named_modules()
        if name and not list(module.children()) and not isinstance(module, torch.nn.Identity)
    ]
    with torch.no_grad():
        model(torch.zeros(1, 1, cfg.n_mels, cfg.n_frames))
    for handle in handles:
        handle.remove()
    total = sum(p.numel() for p in model.parameters())
    rows.append(("**total**", "", "", f"**{total:,}**"))
    return rows


def _variant_rows() -> list[tuple[str, str, str]]:
    variants = [
        ("``GenreCNN()``", {}, "the reference"),
        ("``GenreCNN(batch_norm=True)``", {"batch_norm": True}, "BatchNorm2d after each convolution"),
        ("``GenreCNN(global_pool=True)``", {"global_pool": True}, "average-pool the last map: any input length"),
        ("``GenreCNN(channels=(16, 32, 64, 128))``", {"channels": (16, 32, 64, 128)}, "twice the channels"),
        ("``GenreCNN(n_classes=5)``", {"n_classes": 5}, "another label set"),
    ]
    rows = []
    for call, overrides, what in variants:
        model = musicgenre.GenreCNN(**overrides)
        rows.append((call, what, f"{sum(p.numel() for p in model.parameters()):,}"))
    return rows


def _list_table(header: tuple[str, ...], rows: list[tuple[str, ...]], widths: str) -> str:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in (header, *rows):
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _example_help() -> str:
    parse_args = runpy.run_path(str(EXAMPLE))["parse_args"]  # the script's own parser, not a copy
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        parse_args(["--help"])
    return out.getvalue().replace("usage: ", "usage: python examples/", 1)


def _run_example(out: Path) -> None:
    cmd = [sys.executable, str(EXAMPLE), "--out", str(out), *EXAMPLE_ARGS]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        logger.warning("examples/reproduce_gtzan.py failed (exit %d):\n%s", proc.returncode, proc.stdout[-3000:])
        return
    # The console output as a user sees it, with the build's folder replaced by the README's.
    log = proc.stdout.replace(str(out), "runs/reproduce")
    (out / "log.txt").write_text(log)
    logger.info("ran examples/reproduce_gtzan.py for the docs in %.1f s", time.perf_counter() - started)


def generate(app: Sphinx) -> None:
    """Write docs/generated/: model tables, the example's --help, the results tables and one example run."""
    GENERATED.mkdir(exist_ok=True)
    layers = GENERATED / "layers.rst.inc"
    if not _fresh(layers):
        widths = "20 44 20 16"
        layers.write_text(_list_table(("layer", "module", "output shape", "parameters"), _layer_rows(), widths))
        variants = _list_table(("model", "what changes", "parameters"), _variant_rows(), "45 40 15")
        (GENERATED / "variants.rst.inc").write_text(variants)
    help_text = GENERATED / "reproduce-help.txt"
    if not _fresh(help_text):
        help_text.write_text(_example_help())
    # From the committed results files: cheap, so always rewritten (only when changed, so
    # that Sphinx re-reads the pages that include them only then).
    _write_if_changed(GENERATED / "recipes.rst.inc", docs_results.recipe_table())
    throughput = docs_results.throughput_table()
    throughput += f"\nMeasured on {docs_results.throughput_dates()}; :ref:`performance-details` has every row.\n"
    _write_if_changed(GENERATED / "throughput.rst.inc", throughput)
    run = GENERATED / "example-run"
    if not _fresh(run / "log.txt"):
        _run_example(run)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def check_readme(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn (so fail under -W) if README.md gives the main job's time in other words than the pages."""
    if MAIN_JOB_TIME not in (ROOT / "README.md").read_text():
        logger.warning("README.md does not say the main job takes %r, as the docs do (conf.py)", MAIN_JOB_TIME)


# -- Cross-references through re-exports ---------------------------------------------
# Each object is documented once, in the module that defines it. Docstrings and pages may
# name it by any path it is importable from (``musicgenre.GenreCNN``,
# ``musicgenre.models.GenreCNN``) or by a name in scope in the docstring's module; such a
# reference resolves when that path imports to the very object documented elsewhere.
# A path that does not import (a typo, a removed name) stays broken and fails the build.
_MISSING = object()


def _import(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _identity(obj: Any) -> int:
    return id(getattr(obj, "__func__", obj))  # classmethods: the function, not a new bound method


_DOCUMENTED: dict[str, Any] = {}


def _documented(env: BuildEnvironment) -> dict[tuple[str, int], str]:
    """``(last name part, id(object)) -> documented full name`` of our documented objects."""
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    key = (id(env), len(objects))
    if _DOCUMENTED.get("key") != key:
        table = {}
        for fullname in objects:
            if fullname.startswith("musicgenre."):
                obj = _import(fullname)
                if obj is not _MISSING:
                    table[fullname.rsplit(".", 1)[-1], _identity(obj)] = fullname
        _DOCUMENTED.update(key=key, table=table)
    return _DOCUMENTED["table"]  # type: ignore[no-any-return]


def _candidates(node: nodes.Element) -> Iterator[str]:
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    yield target
    if module:
        yield f"{module}.{target}"
        if cls:
            yield f"{module}.{cls}.{target}"


def resolve_reexports(app: Sphinx, env: BuildEnvironment, node: nodes.Element, contnode: nodes.Element) -> Any:
    if node.get("refdomain") != "py":
        return None
    documented = _documented(env)
    for dotted in _candidates(node):
        if not dotted.startswith("musicgenre."):
            continue
        obj = _import(dotted)
        if obj is _MISSING:
            continue
        fullname = documented.get((dotted.rsplit(".", 1)[-1], _identity(obj)))
        if fullname is not None:
            domain = env.get_domain("py")
            return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", fullname, node, contnode)
    return None


def public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[type]) -> None:
    """Show a private base class (``_MonitorCallback``) as its nearest public ancestor."""
    for i, base in enumerate(bases):
        if base.__name__.startswith("_"):
            bases[i] = next(b for b in base.__mro__ if not b.__name__.startswith("_"))


def drop_object_base(app: Sphinx, doctree: nodes.document) -> None:
    """Remove the "Bases: object" line that show-inheritance gives plain classes."""
    for paragraph in list(doctree.findall(nodes.paragraph)):
        if paragraph.astext() == "Bases: object":
            paragraph.parent.remove(paragraph)


# -- Every public name documented ----------------------------------------------------
def check_coverage(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn (so fail under -W) if a public module or a name in an ``__all__`` is undocumented."""
    domain = env.get_domain("py")
    documented = domain.objects  # type: ignore[attr-defined]
    modules = domain.modules  # type: ignore[attr-defined]
    identities = {ident for _, ident in _documented(env)}
    for info in pkgutil.walk_packages(musicgenre.__path__, "musicgenre."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if not info.ispkg and info.name not in modules:
            logger.warning("module %s is not in the API reference (docs/api.rst)", info.name)
    for info in [*pkgutil.walk_packages(musicgenre.__path__, "musicgenre."), None]:
        name = "musicgenre" if info is None else info.name
        if any(part.startswith("_") for part in name.split(".")):
            continue
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public)
            if public == "__version__" or isinstance(obj, type(sys)):
                continue
            if f"{name}.{public}" not in documented and _identity(obj) not in identities:
                logger.warning("%s.%s is public (in __all__) but not documented in docs/api.rst", name, public)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    app.connect("missing-reference", resolve_reexports)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("doctree-read", drop_object_base)
    app.connect("env-check-consistency", check_coverage)
    app.connect("env-check-consistency", check_readme)
    return {"parallel_read_safe": True}
