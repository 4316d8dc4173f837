"""Architecture: no module imports another module's private names, and the layer contracts hold.

The layers themselves are import-linter contracts in ``pyproject.toml`` (``lint-imports``,
run by ``nox -s lint`` and CI); docs/architecture.rst draws them. The private-name rule is
checked here because import-linter looks at modules, not at the names imported from them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "musicgenre"
needs_source = pytest.mark.skipif(not SRC.is_dir(), reason="needs the source tree (src/musicgenre)")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private_imports(text: str, here: str) -> list[str]:
    """``from musicgenre.x import _y`` (or ``import musicgenre._x.y``) in module *here*'s *text*, x another module.

    Dunder names and the private modules' own names (``from musicgenre._version import
    __version__``) are allowed.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "musicgenre" or node.module == here:
                continue
            found.extend(
                f"line {node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            )
        elif isinstance(node, ast.Import):
            found.extend(
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] == "musicgenre"
                and any(p.startswith("_") and not p.startswith("__") for p in alias.name.split(".")[1:-1])
            )
    return found


@needs_source
def test_no_module_imports_another_modules_private_names() -> None:
    problems = [
        f"{path.relative_to(REPO)} {imp}"
        for path in sorted(SRC.rglob("*.py"))
        for imp in _private_imports(path.read_text(encoding="utf-8"), _module_name(path))
    ]
    assert not problems, "give these names a public, documented name in their module:\n" + "\n".join(problems)


def test_the_private_import_check_can_fail() -> None:
    text = (
        "from musicgenre.data.gtzan import _CLIP_NAME, scan_clips\n"
        "from musicgenre._version import __version__\n"
        "from musicgenre.data.images import _decode\n"
    )
    assert _private_imports(text, "musicgenre.data.folder") == [
        "line 1: from musicgenre.data.gtzan import _CLIP_NAME",
        "line 3: from musicgenre.data.images import _decode",
    ]
    assert _private_imports(text, "musicgenre.data.images") == ["line 1: from musicgenre.data.gtzan import _CLIP_NAME"]


@needs_source
def test_layer_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).is_file():
        pytest.skip("needs import-linter (the dev extra)")
    result = subprocess.run(
        [lint_imports, "--no-cache"], capture_output=True, text=True, check=False, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


#: One job per module: a module growing past this is doing two (CONTRIBUTING, "Rules review holds").
MAX_MODULE_LINES = 600


@needs_source
def test_no_module_is_over_600_lines() -> None:
    sizes = {_module_name(p): p.read_text().count("\n") for p in SRC.rglob("*.py")}
    assert len(sizes) > 50
    assert not {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}


@needs_source
def test_the_layer_contracts_count_type_checking_imports() -> None:
    """An import under ``if TYPE_CHECKING:`` is still a dependency: a cycle through one is a cycle."""
    lines = [line.replace(" ", "") for line in (REPO / "pyproject.toml").read_text().splitlines()]
    assert "exclude_type_checking_imports=false" in lines
    assert "exclude_type_checking_imports=true" not in lines
