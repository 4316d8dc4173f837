"""Progress bars: tqdm's, shown on a terminal, never where there is no standard error, and without a thread.

tqdm starts a monitor thread with its first bar (even a disabled one) and never stops it. A
second Python thread would make :mod:`musicgenre.io` stop capturing the MP3 decoder's
messages (it captures only while the decoding thread is the process's only one), so the
library's bars turn the monitor off.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool | None = None, **kwargs: Any) -> Any:
    """A tqdm bar over *iterable* (or updated by hand), shown when *show*.

    Parameters
    ----------
    iterable
        What to iterate, or ``None`` for a bar updated with ``.update(n)``.
    show
        ``True``, ``False``, or ``None`` for only on a terminal (tqdm's rule). Never where
        ``sys.stderr`` is ``None`` (a process started without standard error: ``2>&-``, a daemon).
    **kwargs
        Passed to ``tqdm`` (``total``, ``desc``, ``unit``, ``initial``...).
    """
    from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[type-arg]
        monitor_interval = 0  # no monitor thread

    disable = sys.stderr is None or (None if show is None else not show)
    return _Bar(iterable, disable=disable, **kwargs)
