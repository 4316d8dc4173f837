"""Developer sessions: ``nox -s lint typecheck tests docs examples build install_test``."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs", "examples"]
nox.options.default_venv_backend = "venv"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TORCH = ["torch==2.14.1", "torchaudio==2.11.0"]  # the pair this project's CI machines run


@nox.session(reuse_venv=True)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The layer contracts in pyproject.toml; import-linter reads the source, so the package
    # (and torch) need not be installed, only found.
    session.run("lint-imports", env={"PYTHONPATH": "src"})


@nox.session(reuse_venv=True)
def typecheck(session: nox.Session) -> None:
    session.install(*TORCH, "-e", ".[dev]")
    session.run("mypy")


@nox.session(python=PYTHONS, reuse_venv=True)
def tests(session: nox.Session) -> None:
    session.install(*TORCH, "-e", ".[dev]")
    # python -m pytest, as the README runs it: the checkout's root is then on sys.path, which
    # spawned workers need to unpickle jobs defined in the tests (the pytest script's own
    # folder would be there instead).
    session.run("python", "-m", "pytest", *session.posargs)


# The lowest versions pyproject.toml admits of the libraries whose APIs the code leans on
# most. torch 2.5 is the first with torch.onnx.export(dynamo=...); torchaudio follows torch.
LOWEST = ["torch==2.5.0", "torchaudio==2.5.0", "numpy==1.24.4"]


@nox.session(python="3.11", reuse_venv=True)
def lowest(session: nox.Session) -> None:
    """The test suite on the lowest supported torch, torchaudio and numpy (a constraints file pins them)."""
    constraints = Path(session.create_tmp()) / "lowest.txt"
    constraints.write_text("\n".join(LOWEST) + "\n")
    session.install("-c", str(constraints), *LOWEST, "-e", ".[dev]")
    session.run(
        "python",
        "-c",
        "import torch, torchaudio, numpy; print(torch.__version__, torchaudio.__version__, numpy.__version__)",
    )
    session.run("python", "-m", "pytest", "-m", "not build", *session.posargs)


@nox.session(reuse_venv=True)
def docs(session: nox.Session) -> None:
    """The site, -n -W clean, with the example gallery run (only changed examples run again)."""
    session.install(*TORCH, "-e", ".[docs]")
    # The examples write their output folders here, outside the checkout.
    env = {"MUSICGENRE_GALLERY_RUNS": f"{session.create_tmp()}/gallery-runs"}
    session.run(
        "sphinx-build", "-n", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs, env=env
    )


@nox.session(reuse_venv=True)
def examples(session: nox.Session) -> None:
    session.install(*TORCH, "-e", ".[plots]")
    tmp = session.create_tmp()
    session.run("python", "examples/reproduce_gtzan.py", "--out", f"{tmp}/reproduce")


@nox.session(reuse_venv=True)
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel into a clean dist/ and check both with twine --strict."""
    session.install("build>=1.2", "twine>=5.1")
    shutil.rmtree("dist", ignore_errors=True)  # no stale artefact may be checked, tested or uploaded
    session.run("python", "-m", "build", "--outdir", "dist")
    artefacts = sorted(str(p) for p in Path("dist").iterdir())
    if len(artefacts) != 2:
        session.error(f"expected one sdist and one wheel in dist/, got {artefacts}")
    session.run("twine", "check", "--strict", *artefacts)


@nox.session(reuse_venv=True)
def install_test(session: nox.Session) -> None:
    """Install the wheel (not editable) in a fresh venv and use it from outside the repository.

    Builds the wheel unless given one: ``nox -s install_test -- --wheel dist/musicgenre-X-py3-none-any.whl``.
    """
    session.install("build>=1.2")
    session.run("python", "scripts/install_test.py", *(f"--pin={pin}" for pin in TORCH), *session.posargs)
