"""Install the built wheel into a fresh virtual environment and use it from outside the repository.

This is the release gate for the artefact itself, not for the source tree: it catches a
wheel that misses a module, a runtime dependency that is not declared, an import that
only works from ``src/``, a console script that points nowhere, and optional extras that
are needed by the base install. Steps:

1. build the wheel (or take ``--wheel``), in a temporary folder outside the repository;
2. create a virtual environment there (no system site-packages) and ``pip install`` the
   wheel, not editable, with only the pins given by ``--pin`` (no extras);
3. from that folder, import the public API and check the install: the version equals the
   distribution's, the package is the installed copy, ``py.typed`` is there,
   ``import musicgenre`` pulls in none of the heavy optional modules, and a function that
   needs a missing extra raises :class:`~musicgenre.errors.MissingDependencyError` naming
   the extra;
4. run ``musicgenre --help`` (and ``python -m musicgenre --help``);
5. check that the pretrained weights and musicnn's licence are in the installed package,
   write a generated audio file outside the repository and tag it with ``musicgenre tags``
   with the network disabled (a ``sitecustomize`` that makes every socket connection fail);
6. run a copy of ``examples/reproduce_gtzan.py`` on its synthetic default for one epoch.

Usage (the repository's ``nox -s install_test`` and ``.ci/run`` call it)::

    python scripts/install_test.py --pin torch==2.14.1 --pin torchaudio==2.11.0
    python scripts/install_test.py --wheel dist/musicgenre-0.2.0-py3-none-any.whl

Only the standard library is used here; building without ``--wheel`` needs ``build``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "reproduce_gtzan.py"

# Modules that ``import musicgenre`` must leave alone (tests/test_packaging.py holds the same rule).
FORBIDDEN_AT_IMPORT = (
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
# Distributions that come only with an extra: the base install must not have them.
EXTRAS_ONLY = {"matplotlib": "plots", "onnx": "onnx", "onnxruntime": "onnx", "PIL": "images"}

# Runs inside the fresh environment, from a folder outside the repository.
CHECK_INSTALL = r"""
import sys

import musicgenre  # first: the lazy-import rule looks at what this one import brought in

FORBIDDEN = {forbidden!r}
EXTRAS_ONLY = {extras_only!r}
REPO = {repo!r}
loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
assert not loaded, f"import musicgenre imported heavy optional modules: {{loaded}}"

import importlib.metadata
import importlib.util
import json
import tempfile
from pathlib import Path

import musicgenre as mg

package_dir = Path(mg.__file__).resolve().parent
assert Path(sys.prefix).resolve() in package_dir.parents, f"not the installed copy: {{package_dir}}"
assert not str(package_dir).startswith(REPO), f"imported from the source tree: {{package_dir}}"
dist = importlib.metadata.distribution("musicgenre")
assert dist.version == mg.__version__, (dist.version, mg.__version__)
direct_url = json.loads(dist.read_text("direct_url.json") or "{{}}")
assert not direct_url.get("dir_info", {{}}).get("editable"), f"editable install: {{direct_url}}"
assert (package_dir / "py.typed").is_file(), "py.typed is missing"

missing = [name for name in mg.__all__ if not hasattr(mg, name)]
assert not missing, f"public names missing: {{missing}}"
for name in mg.__all__:
    getattr(mg, name)

present = [m for m in EXTRAS_ONLY if importlib.util.find_spec(m) is not None]
assert not present, f"not a base install: {{present}} installed (extras only)"

# A function that needs an extra says which one (and is an ImportError).
def expect_missing(extra, call):
    try:
        call()
    except mg.MissingDependencyError as exc:
        assert isinstance(exc, ImportError)
        assert f"musicgenre[{{extra}}]" in str(exc), f"the error does not name the {{extra}} extra: {{exc}}"
        checked.append(extra)
    else:
        raise AssertionError(f"{{call}} worked without the {{extra}} extra")


checked = []
scratch = Path(tempfile.mkdtemp())
from musicgenre.evaluation import plot_confusion_matrix

metrics = mg.classification_metrics([0, 1, 1], [0, 1, 0], ["a", "b"])
expect_missing("plots", lambda: plot_confusion_matrix(metrics, scratch / "confusion.png"))
if importlib.util.find_spec("musicgenre.export") is not None:
    from musicgenre.export import export_onnx

    expect_missing("onnx", lambda: export_onnx(mg.GenreCNN(seed=0), scratch / "model.onnx"))
if importlib.util.find_spec("musicgenre.data.images") is not None:
    from musicgenre.data.images import load_image

    (scratch / "blues00000.png").write_bytes(b"not decoded: Pillow is checked first")
    expect_missing("images", lambda: load_image(scratch / "blues00000.png"))
print(f"musicgenre {{mg.__version__}} from {{package_dir}}: public API imports ({{len(mg.__all__)}} names), "
      f"no heavy module at import; missing extras reported: {{', '.join(checked)}}")

# The pretrained weights ship in the package, with musicnn's licence and their provenance.
from musicgenre.models.pretrained import PRETRAINED, load_pretrained

weights = package_dir / "models" / "weights"
licence = (weights / "LICENSE-musicnn.md").read_text(encoding="utf-8")
assert "Universitat Pompeu Fabra" in licence and "Permission to use, copy, modify" in licence, licence[:200]
assert json.loads((weights / "PROVENANCE.json").read_text(encoding="utf-8"))["source_package"] == "musicnn"
for name in PRETRAINED:
    model = load_pretrained(name)  # checks the sha256 of the installed file
    print(f"{{name}}: {{(weights / PRETRAINED[name].weights).stat().st_size:,}} bytes, sha256 checked, "
          f"{{sum(p.numel() for p in model.parameters()):,}} parameters")
"""

# Put first on the path of the tagging run: any network access fails loudly.
NO_NETWORK = r"""
import socket


def _no_network(*args, **kwargs):
    raise OSError("network access is disabled in the install test")


socket.socket.connect = _no_network
socket.socket.connect_ex = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network
"""

PROBE_NETWORK = """
import socket
try:
    socket.create_connection(("pypi.org", 443), 1)
except OSError as exc:
    print(exc)
"""

WRITE_SONG = r"""
import sys

import soundfile as sf

from musicgenre.synthetic import synthesize_clip

sf.write(sys.argv[1], synthesize_clip("rock", duration=10.0, sample_rate=22050, seed=1), 22050)
"""


def _run(cmd: Sequence[str | Path], *, cwd: Path, env: dict[str, str], capture: bool = False) -> tuple[str, str]:
    """Run *cmd*, echo it, fail with its output on a non-zero exit; return (stdout, stderr) when captured."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, text=True, capture_output=capture, check=False)
    if result.returncode != 0:
        if capture:
            sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"install test failed: {' '.join(str(c) for c in cmd)} exited {result.returncode}")
    return (result.stdout, result.stderr) if capture else ("", "")


def _clean_env() -> dict[str, str]:
    """Environment without anything that would make the fresh venv see the source tree or another venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def build_wheel(outdir: Path) -> Path:
    """Build the wheel with ``python -m build --wheel`` into *outdir* and return its path."""
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", outdir, REPO], cwd=REPO, env=dict(os.environ))
    wheels = sorted(outdir.glob("musicgenre-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one pure-Python wheel in {outdir}, found {[w.name for w in wheels]}")
    return wheels[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the install test; return 0 on success (failures exit with a message)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="wheel to test (default: build one from this checkout)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the fresh venv (default: this one)")
    parser.add_argument(
        "--pin", action="append", default=[], metavar="REQ", help="extra requirement to install first (repeatable)"
    )
    parser.add_argument("--workdir", type=Path, help="empty folder outside the repository (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (venv, outputs) afterwards")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.workdir is not None:
        if args.workdir.exists() and any(args.workdir.iterdir()):
            raise SystemExit(f"the work folder {args.workdir} must be empty (it is deleted afterwards unless --keep)")
        if args.workdir.resolve() == REPO or REPO in args.workdir.resolve().parents:
            raise SystemExit(f"the work folder {args.workdir} must be outside the repository {REPO}")
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="musicgenre-install-test-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = _clean_env()
    try:
        wheel = args.wheel.resolve() if args.wheel else build_wheel(work / "dist")
        if not wheel.is_file() or not wheel.name.endswith("-py3-none-any.whl"):
            raise SystemExit(f"not a pure-Python wheel: {wheel}")
        print(f"== install test of {wheel.name} ({wheel.stat().st_size:,} bytes) in {work}", flush=True)

        venv = work / "venv"
        _run([args.python, "-m", "venv", venv], cwd=work, env=env)
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        python = bindir / ("python.exe" if os.name == "nt" else "python")
        env = {**env, "VIRTUAL_ENV": str(venv), "PATH": os.pathsep.join([str(bindir), env.get("PATH", "")])}
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if args.pin:
            _run([*pip, *args.pin], cwd=work, env=env)
        _run([*pip, wheel], cwd=work, env=env)  # a plain, non-editable install with the wheel's own dependencies
        _run([python, "-m", "pip", "check"], cwd=work, env=env)

        print("== public API, version, lazy imports, missing extras", flush=True)
        check = work / "check_install.py"
        check.write_text(
            CHECK_INSTALL.format(forbidden=FORBIDDEN_AT_IMPORT, extras_only=EXTRAS_ONLY, repo=str(REPO)),
            encoding="utf-8",
        )
        _run([python, "-I", check], cwd=work, env=env)

        print("== musicgenre --help", flush=True)
        script = bindir / ("musicgenre.exe" if os.name == "nt" else "musicgenre")
        help_text, _ = _run([script, "--help"], cwd=work, env=env, capture=True)
        if "usage" not in help_text.lower():
            raise SystemExit(f"musicgenre --help printed no usage:\n{help_text}")
        print(help_text.strip().splitlines()[0])
        if (REPO / "src" / "musicgenre" / "__main__.py").is_file():
            module_help, _ = _run([python, "-m", "musicgenre", "--help"], cwd=work, env=env, capture=True)
            if "usage" not in module_help.lower():
                raise SystemExit(f"python -m musicgenre --help printed no usage:\n{module_help}")

        print("== musicgenre tags on a generated file outside the repository, network disabled", flush=True)
        offline = work / "offline"
        offline.mkdir()
        (offline / "sitecustomize.py").write_text(NO_NETWORK, encoding="utf-8")
        offline_env = {**env, "PYTHONPATH": str(offline)}
        said, _ = _run([python, "-c", PROBE_NETWORK], cwd=work, env=offline_env, capture=True)
        if "disabled in the install test" not in said:
            raise SystemExit(f"the network block did not load: {said!r}")
        song = work / "songs" / "song.wav"
        song.parent.mkdir()
        (work / "write_song.py").write_text(WRITE_SONG, encoding="utf-8")
        _run([python, work / "write_song.py", song], cwd=work, env=env)
        stdout, _ = _run(
            [script, "tags", song.parent, "--format", "json", "--top-k", "3"], cwd=work, env=offline_env, capture=True
        )
        tagged = json.loads(stdout)
        result = tagged["results"][0] if tagged.get("results") else {}
        if (
            tagged.get("failed") != 0
            or result.get("path") != str(song)
            or len(result.get("tags", {})) != 50
            or len(result.get("top_k", [])) != 3
            or result.get("patches") != 3
        ):
            raise SystemExit(f"musicgenre tags did not tag {song} as expected: {stdout[:2000]}")
        print(f"tagged {song.name}: " + ", ".join(f"{t['tag']} {t['probability']:.2f}" for t in result["top_k"]))

        print("== the example on its synthetic default, one epoch", flush=True)
        example = work / "example" / EXAMPLE.name
        example.parent.mkdir()
        shutil.copy2(EXAMPLE, example)
        out = work / "reproduce"
        tiny = ["--max-epochs", "1", "--clips-per-genre", "8", "--duration", "5.5"]
        stdout, stderr = _run([python, example, "--out", out, *tiny], cwd=work, env=env, capture=True)
        print("\n".join(stdout.strip().splitlines()[-2:]))
        for name in ("metrics.json", "report.txt", "model.ckpt"):
            if not (out / name).is_file() or (out / name).stat().st_size == 0:
                raise SystemExit(f"the example did not write {name}")
        result = json.loads(stdout.strip().splitlines()[-1])
        if result.get("epochs") != 1:
            raise SystemExit(f"expected the example to train one epoch, it reports {result}")
        if "musicgenre[plots]" not in stdout + stderr:
            raise SystemExit("the example did not say that plots need the 'plots' extra")
        print(f"install test passed in {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
