"""matplotlib for the library's figures: imported on first use, a clear error without it, one way to save.

Private to the package: :mod:`musicgenre.evaluation.plots` and :mod:`musicgenre.predict.plots`
draw with it. matplotlib is the ``plots`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgenre.errors import MissingDependencyError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` with a non-interactive backend unless one was chosen.

    Raises
    ------
    MissingDependencyError
        If matplotlib is not installed; the message names the install command.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib; install it with: pip install 'musicgenre[plots]'"
        ) from None
    return plt


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write *fig* to *path* (PNG, or what its suffix names) at 120 dpi and close it; its parent is created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    return target
