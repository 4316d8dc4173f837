"""Packaging: the version's single source, the built artefacts, the declared dependencies, lazy imports.

The tests marked ``build`` run ``python -m build`` once (sdist, then the wheel from the
sdist, as a release does) and inspect the results; they take a few seconds and can be
deselected with ``-m "not build"``. The fresh-venv install test of the wheel is
``scripts/install_test.py`` (``nox -s install_test``), too slow for the unit tests.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import musicgenre

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "musicgenre"
needs_source = pytest.mark.skipif(not SRC.is_dir(), reason="needs the source tree (src/musicgenre)")

# ``import musicgenre`` must not import these (a module counts with its submodules). Each
# is only needed by a function that imports it when called: plots (matplotlib), metrics,
# splits and t-SNE (scikit-learn, which brings scipy), ONNX export, image features (PIL),
# the progress bar (tqdm.auto, which pulls in the notebook widgets under Jupyter), and
# torchaudio (only the windowed-sinc resample() needs it, and a CPU-only torch build
# cannot load it). torch itself imports tqdm's core, so plain ``tqdm`` is not on the list.
HEAVY_MODULES = (
    "torchaudio",
    "matplotlib",
    "sklearn",
    "scipy",
    "onnx",
    "onnxruntime",
    "PIL",
    "pandas",
    "tqdm.auto",
    "tqdm.autonotebook",
    "tqdm.notebook",
    "ipywidgets",
    "IPython",
)
# What the base install imports anyway; the lazy-import rule is about what musicgenre adds.
BASELINE_IMPORT = "import numpy, soundfile, soxr, torch"

# The wheel holds the library and nothing else: code, plus the package data listed here
# (the pretrained weights with their licence and provenance, and the filtered-split list).
WHEEL_LIBRARY_SUFFIXES = {".py", ".pyi", ".typed"}
PACKAGE_DATA = {
    "musicgenre/gtzan_filtered_split.tsv",
    "musicgenre/models/weights/MSD_musicnn.safetensors",
    "musicgenre/models/weights/MTT_musicnn.safetensors",
    "musicgenre/models/weights/LICENSE-musicnn.md",
    "musicgenre/models/weights/PROVENANCE.json",
}
WHEEL_BUDGET_BYTES = 12_000_000  # issue 15: weights included, 12 MB in all
FORBIDDEN_PARTS = {
    "tests",
    "docs",
    "examples",
    "benchmarks",
    "scripts",
    "__pycache__",
    ".github",
    ".ci",
    "_build",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".nox",
    ".git",
    "runs",
    "dist",
}
FORBIDDEN_SUFFIXES = {".pyc", ".pyo", ".wav", ".au", ".flac", ".mp3", ".ckpt", ".pt", ".pth", ".onnx", ".npy", ".npz"}
CACHE_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def _source_version() -> str:
    """``__version__`` as written in ``src/musicgenre/_version.py`` (read without importing it)."""
    tree = ast.parse((SRC / "_version.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise AssertionError("src/musicgenre/_version.py does not assign __version__ a string literal")


def _toml_table(text: str, name: str) -> str:
    """The body of ``[name]`` in a TOML file, up to the next table header (enough for flat tables)."""
    match = re.search(rf"(?ms)^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text)
    assert match is not None, f"pyproject.toml has no [{name}] table"
    return match.group(1)


def _files_under(root: Path, *, skip: set[str] = CACHE_PARTS) -> list[Path]:
    """Files below *root* (relative to the repository), without caches, compiled files and dotfiles."""
    files = []
    for path in root.rglob("*"):
        parts = path.relative_to(REPO).parts
        hidden = any(part.startswith(".") for part in parts)
        if path.is_file() and not hidden and not skip & set(parts) and path.suffix not in {".pyc", ".pyo"}:
            files.append(path.relative_to(REPO))
    return sorted(files)


# -- the version -------------------------------------------------------------------------


def test_version_is_a_canonical_pep440_version() -> None:
    assert str(Version(musicgenre.__version__)) == musicgenre.__version__


def test_installed_distribution_version_equals_package_version() -> None:
    installed = importlib.metadata.version("musicgenre")
    assert installed == musicgenre.__version__, (
        f"the installed metadata says {installed}, musicgenre.__version__ is {musicgenre.__version__}: "
        "reinstall the package (pip install -e .) after changing src/musicgenre/_version.py"
    )


@needs_source
def test_version_has_one_source() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    project = _toml_table(pyproject, "project")
    assert re.search(r'(?m)^dynamic\s*=\s*\[[^]]*"version"', project), "[project] must declare the version dynamic"
    assert not re.search(r"(?m)^version\s*=", project), "[project] must not set a static version"
    hatch_version = _toml_table(pyproject, "tool.hatch.version")
    assert re.search(r'(?m)^path\s*=\s*"src/musicgenre/_version.py"\s*$', hatch_version)
    if Path(musicgenre.__file__).resolve().parent == SRC.resolve():
        assert musicgenre.__version__ == _source_version()
    # No second copy: no other module assigns __version__, and CITATION.cff, if it names a
    # version, names this one.
    others = [
        str(p.relative_to(REPO))
        for p in SRC.rglob("*.py")
        if p.name != "_version.py" and re.search(r"(?m)^__version__\s*=", p.read_text(encoding="utf-8"))
    ]
    assert not others, f"__version__ is assigned outside _version.py: {others}"
    citation = REPO / "CITATION.cff"
    if citation.is_file():
        cited = re.search(r"(?m)^version:\s*['\"]?([^'\"\s]+)", citation.read_text(encoding="utf-8"))
        assert cited is None or cited.group(1) == _source_version(), "CITATION.cff names another version"


# -- lazy imports ------------------------------------------------------------------------


def _modules_added_by(code: str, *, after: str) -> set[str]:
    """Modules that running *code* adds to ``sys.modules`` in a fresh interpreter that first ran *after*."""
    script = (
        f"{after}\nimport json, sys\nbefore = set(sys.modules)\n{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return set(modules)


def _is_heavy(module: str) -> bool:
    return any(module == heavy or module.startswith(heavy + ".") for heavy in HEAVY_MODULES)


def test_import_musicgenre_imports_no_heavy_optional_module() -> None:
    added = _modules_added_by("import musicgenre", after=BASELINE_IMPORT)
    assert "musicgenre" in added
    heavy = sorted(m for m in added if _is_heavy(m))
    assert not heavy, (
        f"import musicgenre imported {heavy}; import these inside the functions that need them "
        "(see the lazy-import rule in tests/test_packaging.py)"
    )


def test_the_command_and_file_listing_import_no_pytorch() -> None:
    """``import musicgenre``, its command's parser and listing files import no PyTorch:
    ``--version`` and ``--help`` answer at once."""
    code = (
        "import musicgenre, musicgenre.io, musicgenre.cli\n"
        "musicgenre.cli.build_parser().parse_args(['predict', '-c', 'model.ckpt', 'song.mp3'])\n"
        "musicgenre.io.find_audio_files('.')\n"
        "assert isinstance(musicgenre.MusicGenreError('x'), Exception)\n"
    )
    added = _modules_added_by(code, after="import numpy, soundfile, soxr")
    assert "musicgenre.io" in added
    assert not [m for m in added if m == "torch" or m.startswith("torch.")]


def test_top_level_names_load_on_first_use() -> None:
    code = (
        "import sys, musicgenre as mg\n"
        "assert 'torch' not in sys.modules\n"
        "from musicgenre import GenreCNN, Trainer\n"
        "assert GenreCNN is mg.models.GenreCNN and mg.GenreCNN is GenreCNN\n"
        "assert all(hasattr(mg, name) for name in mg.__all__)\n"
        "assert set(mg.__all__) <= set(dir(mg))\n"
        "try:\n    mg.no_such_name\nexcept AttributeError as exc:\n    assert 'no_such_name' in str(exc)\n"
        "else:\n    raise AssertionError('no AttributeError')\n"
    )
    added = _modules_added_by(code, after="import numpy")
    assert "torch" in added


def test_base_install_works_and_names_the_missing_extra(tmp_path: Path) -> None:
    """With the optional extras hidden, the package imports and each extra's function names its extra."""
    code = f"""
import sys
from pathlib import Path
for name in ("matplotlib", "onnx", "onnxruntime", "PIL"):
    sys.modules[name] = None  # as if the extra were not installed: importing it raises ImportError
import musicgenre as mg
from musicgenre.data.images import load_image
from musicgenre.evaluation import plot_confusion_matrix
from musicgenre.export import export_onnx

tmp = Path({str(tmp_path)!r})
(tmp / "blues00000.png").write_bytes(b"never decoded")
metrics = mg.classification_metrics([0, 1, 1], [0, 1, 0], ["a", "b"])
calls = {{
    "plots": lambda: plot_confusion_matrix(metrics, tmp / "confusion.png"),
    "onnx": lambda: export_onnx(mg.GenreCNN(seed=0), tmp / "model.onnx"),
    "images": lambda: load_image(tmp / "blues00000.png"),
}}
for extra, call in calls.items():
    try:
        call()
    except mg.MissingDependencyError as exc:
        assert isinstance(exc, ImportError)
        print(extra, "->", exc)
    else:
        raise AssertionError(f"the {{extra}} function worked without its extra")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" -> ", 1) for line in result.stdout.strip().splitlines())
    assert set(lines) == {"plots", "onnx", "images"}, result.stdout
    for extra, message in lines.items():
        assert f"musicgenre[{extra}]" in message, message


# -- the built artefacts -----------------------------------------------------------------


@dataclass(frozen=True)
class Artefacts:
    wheel: Path
    sdist: Path
    wheel_files: list[str]
    sdist_files: list[str]  # relative to the sdist's top folder
    metadata: Message
    metadata_body: str


def _read_metadata(text: str) -> tuple[Message, str]:
    message = Parser().parsestr(text)
    body = message.get_payload()
    return message, body if isinstance(body, str) else ""


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    """``python -m build`` of this checkout: the sdist, and the wheel built from it."""
    pytest.importorskip("build", reason="needs the 'build' package (the dev extra)")
    if not SRC.is_dir():
        pytest.skip("needs the source tree")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1, wheels
    assert len(sdists) == 1, sdists
    with zipfile.ZipFile(wheels[0]) as zf:
        wheel_files = zf.namelist()
        dist_info = next(n.split("/")[0] for n in wheel_files if n.endswith(".dist-info/METADATA"))
        metadata, body = _read_metadata(zf.read(f"{dist_info}/METADATA").decode("utf-8"))
    with tarfile.open(sdists[0]) as tf:
        members = [m.name for m in tf.getmembers() if m.isfile()]
    top = {PurePosixPath(m).parts[0] for m in members}
    assert len(top) == 1, f"the sdist must unpack into one folder, has {top}"
    sdist_files = [str(PurePosixPath(*PurePosixPath(m).parts[1:])) for m in members]
    return Artefacts(wheels[0], sdists[0], wheel_files, sdist_files, metadata, body)


def _forbidden(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(FORBIDDEN_PARTS & set(path.parts)) or path.suffix in FORBIDDEN_SUFFIXES


@pytest.mark.build
def test_wheel_is_pure_python(artefacts: Artefacts) -> None:
    version = _source_version()
    assert artefacts.wheel.name == f"musicgenre-{version}-py3-none-any.whl"
    with zipfile.ZipFile(artefacts.wheel) as zf:
        wheel_meta = zf.read(f"musicgenre-{version}.dist-info/WHEEL").decode()
    assert "Root-Is-Purelib: true" in wheel_meta
    assert re.findall(r"(?m)^Tag: (.+)$", wheel_meta) == ["py3-none-any"]


@pytest.mark.build
def test_wheel_holds_the_library_and_nothing_else(artefacts: Artefacts) -> None:
    version = _source_version()
    dist_info = f"musicgenre-{version}.dist-info"
    names = set(artefacts.wheel_files)
    library = {n for n in names if n.startswith("musicgenre/")}
    metadata = {n for n in names if n.startswith(f"{dist_info}/")}
    assert names == library | metadata, f"files outside the package: {sorted(names - library - metadata)}"

    expected = {f"musicgenre/{p.relative_to('src/musicgenre').as_posix()}" for p in _files_under(SRC)}
    assert "musicgenre/py.typed" in expected
    assert "musicgenre/__init__.py" in expected
    missing, stray = sorted(expected - library), sorted(library - expected)
    assert not missing, f"files of src/musicgenre missing from the wheel: {missing}"
    assert not stray, f"files in the wheel that are not in src/musicgenre: {stray}"
    not_code = sorted(n for n in library if PurePosixPath(n).suffix not in WHEEL_LIBRARY_SUFFIXES)
    assert set(not_code) == PACKAGE_DATA, (
        f"non-code files in the wheel other than the package data: {sorted(set(not_code) - PACKAGE_DATA)}; "
        f"package data missing: {sorted(PACKAGE_DATA - set(not_code))} (allow new package data in PACKAGE_DATA)"
    )
    forbidden = sorted(n for n in names if _forbidden(n))
    assert not forbidden, f"files that are not the library in the wheel: {forbidden}"

    assert metadata == {
        f"{dist_info}/{name}" for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE")
    }


@pytest.mark.build
def test_wheel_fits_the_size_budget_and_carries_the_pretrained_weights(artefacts: Artefacts) -> None:
    size = artefacts.wheel.stat().st_size
    assert size <= WHEEL_BUDGET_BYTES, f"the wheel is {size:,} bytes, over the {WHEEL_BUDGET_BYTES:,}-byte budget"
    from musicgenre.models.pretrained import PRETRAINED

    with zipfile.ZipFile(artefacts.wheel) as zf:
        for entry in PRETRAINED.values():
            data = zf.read(f"musicgenre/models/weights/{entry.weights}")
            assert hashlib.sha256(data).hexdigest() == entry.sha256, f"{entry.weights} differs from the registry's"
        licence = zf.read("musicgenre/models/weights/LICENSE-musicnn.md").decode()
        provenance = json.loads(zf.read("musicgenre/models/weights/PROVENANCE.json"))
    assert "Permission to use, copy, modify, and/or distribute" in licence  # the ISC licence text
    assert "Music Technology Group, Universitat Pompeu Fabra 2019" in licence
    assert (provenance["source_package"], provenance["source_version"]) == ("musicnn", "0.1.0")
    assert {m["weights_sha256"] for m in provenance["models"].values()} == {e.sha256 for e in PRETRAINED.values()}


@pytest.mark.build
def test_console_script_points_into_the_wheel(artefacts: Artefacts) -> None:
    version = _source_version()
    with zipfile.ZipFile(artefacts.wheel) as zf:
        entry_points = zf.read(f"musicgenre-{version}.dist-info/entry_points.txt").decode()
    scripts = dict(re.findall(r"(?m)^(\S+)\s*=\s*(\S+)\s*$", entry_points.split("[console_scripts]", 1)[-1]))
    assert scripts.get("musicgenre") == "musicgenre.cli:run"
    for target in scripts.values():
        module, _, function = target.partition(":")
        base = module.replace(".", "/")
        # A module, or a package's __init__ (musicgenre.cli is a package: one module per command).
        path = next((p for p in (f"{base}.py", f"{base}/__init__.py") if p in artefacts.wheel_files), f"{base}.py")
        assert path in artefacts.wheel_files, f"console script target {target}: {path} is not in the wheel"
        tree = ast.parse((SRC.parent / path).read_text(encoding="utf-8"))
        assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, target


@pytest.mark.build
def test_sdist_holds_what_builds_and_tests_the_library(artefacts: Artefacts) -> None:
    names = set(artefacts.sdist_files)
    required = {"PKG-INFO", "pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "noxfile.py"}
    required |= {n for n in ("CITATION.cff", "RELEASING.md") if (REPO / n).is_file()}
    for folder in ("src", "tests", "examples", "scripts", "benchmarks"):
        if (REPO / folder).is_dir():
            required |= {p.as_posix() for p in _files_under(REPO / folder)}
    if (REPO / "docs").is_dir():
        required |= {p.as_posix() for p in _files_under(REPO / "docs", skip=CACHE_PARTS | {"_build", "generated"})}
    assert "src/musicgenre/py.typed" in required
    missing = sorted(required - names)
    assert not missing, f"files missing from the sdist: {missing}"
    junk = sorted(
        n
        for n in names
        if CACHE_PARTS & set(PurePosixPath(n).parts)
        or PurePosixPath(n).suffix in {".pyc", ".pyo"}
        or n.startswith(("docs/_build/", "docs/generated/", "dist/", "build/", ".nox/", ".git/", "runs/", ".venv/"))
    )
    assert not junk, f"build outputs or caches in the sdist: {junk}"


@pytest.mark.build
def test_metadata_is_complete(artefacts: Artefacts) -> None:
    meta = artefacts.metadata
    assert meta["Name"] == "musicgenre"
    assert meta["Version"] == _source_version()
    assert meta["Summary"]
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert not [c for c in meta.get_all("Classifier", []) if c.startswith("License ::")], (
        "PEP 639: the SPDX expression replaces License classifiers"
    )
    assert meta["Author"] or meta["Author-email"]
    assert "gtzan" in (meta["Keywords"] or "").split(",")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert artefacts.metadata_body.lstrip().startswith("# musicgenre"), "the README is the long description"

    classifiers = set(meta.get_all("Classifier", []))
    assert "Typing :: Typed" in classifiers
    pythons = {
        c.rsplit(" ", 1)[-1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert pythons == {"3.10", "3.11", "3.12", "3.13"}

    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert {"Documentation", "Source", "Issues", "Changelog"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values()), urls


@pytest.mark.build
def test_dependencies_are_lower_bounded_not_pinned(artefacts: Artefacts) -> None:
    requirements = [Requirement(r) for r in artefacts.metadata.get_all("Requires-Dist", [])]
    assert requirements
    for req in requirements:
        if canonicalize_name(req.name) == "musicgenre":
            continue  # the dev/docs extras pull in other extras
        operators = {spec.operator for spec in req.specifier}
        assert ">=" in operators, f"{req}: give a lower bound"
        assert not operators & {"==", "===", "~="}, f"{req}: do not pin a library's dependency"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Top-level names imported by *path*, each with whether the import runs at module import time.

    Imports inside functions, under ``if TYPE_CHECKING:`` or in a ``try`` that handles
    ``ImportError`` are optional (``False``); relative and ``musicgenre`` imports are left out.
    """
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, eager: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_eager = eager
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                child_eager = False
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            elif isinstance(child, ast.Try) and any(
                h.type is not None and re.search(r"\b(ImportError|ModuleNotFoundError)\b", ast.unparse(h.type))
                for h in child.handlers
            ):
                child_eager = False
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], child_eager) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], child_eager))
            visit(child, child_eager)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return [(name, eager) for name, eager in found if name != "musicgenre"]


@pytest.mark.build
@needs_source
def test_base_dependencies_cover_every_import(artefacts: Artefacts) -> None:
    """Module-level imports need base dependencies; imports inside functions a base or an extra one."""
    base: set[str] = set()
    extras: set[str] = set()
    for text in artefacts.metadata.get_all("Requires-Dist", []):
        req = Requirement(text)
        (extras if req.marker is not None and "extra" in str(req.marker) else base).add(canonicalize_name(req.name))
    providers = importlib.metadata.packages_distributions()
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        for name, eager in _imports(path):
            if name in sys.stdlib_module_names:
                continue
            dists = {canonicalize_name(d) for d in providers.get(name, [])}
            where = f"{path.relative_to(REPO)} imports {name}"
            if not dists:
                problems.append(f"{where}, which no installed distribution provides")
            elif eager and not dists & base:
                problems.append(f"{where} at import time; add {sorted(dists)} to [project] dependencies")
            elif not dists & (base | extras):
                problems.append(f"{where}; declare {sorted(dists)} in dependencies or an extra")
    assert not problems, "\n".join(problems)


@pytest.mark.build
def test_twine_check_strict_passes(artefacts: Artefacts) -> None:
    pytest.importorskip("twine", reason="needs the 'twine' package (the dev extra)")
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(artefacts.wheel), str(artefacts.sdist)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout
