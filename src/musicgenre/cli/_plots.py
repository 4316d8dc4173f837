"""``--plot``: the timelines of ``predict`` and ``tags`` drawn to PNG files."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgenre.cli._options import PROG

if TYPE_CHECKING:
    from musicgenre.predict.plots import TimedResult

__all__ = ["StreamedTimeline", "plot_check", "write_plots"]


def plot_check(args: Any, formats: Sequence[str]) -> str | None:
    """Why ``--timeline``/``--plot`` cannot go with the other options, or ``None``."""
    if args.plot is not None and not args.timeline:
        return "--plot draws the timeline: add --timeline"
    if args.timeline and args.plot is None and args.format not in formats:
        return f"--timeline needs --format {' or '.join(formats)} (or --plot PATH)"
    return None


@dataclass
class StreamedTimeline:
    """A file's windows as they were written (``--format jsonl --timeline``), kept for ``--plot``."""

    path: Path | None
    duration: float = 0.0
    timeline: list[Any] = field(default_factory=list)


def write_plots(results: Sequence[TimedResult], target: Path) -> list[Path]:
    """Draw each result's timeline: one file to *target*, several to ``<target stem>-<file stem><suffix>``."""
    from musicgenre.predict.plots import plot_timeline

    drawn = [r for r in results if r.timeline]
    written = []
    for result in drawn:
        name = result.path.stem if result.path is not None else "audio"
        path = target if len(drawn) == 1 else target.with_name(f"{target.stem}-{name}{target.suffix or '.png'}")
        written.append(plot_timeline(result, path))
    if sys.stderr is not None:
        for path in written:
            print(f"{PROG}: wrote {path}", file=sys.stderr)
    return written
