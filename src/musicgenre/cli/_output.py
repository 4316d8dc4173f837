"""What the commands write: JSON, aligned tables, and the per-file results of ``predict`` and ``tags``.

``predict`` and ``tags`` turn each input's outcome into a :class:`FileRow` and describe
their columns with a :class:`Layout`; :func:`write_results` then writes every format
(table, JSON, JSONL, CSV) and the error lines the same way for both. Standard output gets
the results, standard error one ``error: ...`` line per failed input and a count at the end.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

__all__ = [
    "FileRow",
    "Layout",
    "nan_to_none",
    "print_json",
    "show_warning",
    "stderr_or_nothing",
    "write_results",
    "write_table",
]


# -- standard error --------------------------------------------------------------------
class _Nowhere(io.TextIOBase):
    """A text stream that takes everything and keeps nothing, like ``/dev/null`` without a descriptor."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


_NOWHERE = cast(TextIO, _Nowhere())


@contextmanager
def stderr_or_nothing() -> Iterator[None]:
    """While the body runs, ``sys.stderr`` is a stream, one that discards what it is given if there is none.

    Python sets ``sys.stderr`` to ``None`` when it starts with descriptor 2 closed
    (``musicgenre ... 2>&-``, a daemon) and a program may set it so. Then ``print(...,
    file=sys.stderr)`` writes to *standard output* (a ``file`` of ``None`` means stdout), and
    tqdm, :mod:`logging` and ``sys.stderr.flush()`` fail. A command's diagnostics then go
    nowhere, as the caller asked, and its results still go to standard output.
    """
    if sys.stderr is not None:
        yield
        return
    sys.stderr = _NOWHERE
    try:
        yield
    finally:
        if sys.stderr is _NOWHERE:
            sys.stderr = None  # as it was


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A :func:`warnings.showwarning` that writes one ``warning: ...`` line to stderr, no source excerpt."""
    print(f"warning: {message}", file=sys.stderr)


# -- JSON and tables -------------------------------------------------------------------
def print_json(data: Any) -> None:
    """Write *data* to stdout as indented JSON (no NaN; other objects as their ``str``)."""
    json.dump(data, sys.stdout, indent=2, allow_nan=False, default=str)
    sys.stdout.write("\n")


def nan_to_none(value: Any) -> Any:
    """*value* with every float NaN replaced by ``None``, in nested dicts, lists and tuples.

    JSON has no NaN: metrics without a validation set become ``null``.

    Examples
    --------
    >>> nan_to_none({"loss": float("nan"), "epochs": [1, float("nan")]})
    {'loss': None, 'epochs': [1, None]}
    """
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nan_to_none(v) for v in value]
    return value


def write_table(rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Write *rows* (the first one a header) to *out* (default stdout) in left-aligned columns.

    Examples
    --------
    >>> write_table([["file", "genre"], ["a.wav", "jazz"]])
    file   genre
    a.wav  jazz
    """
    out = sys.stdout if out is None else out
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        out.write("  ".join(cells).rstrip() + "\n")


# -- predict's and tags' results -------------------------------------------------------
@dataclass(frozen=True)
class FileRow:
    """One input's outcome, as the output formats show it.

    Attributes
    ----------
    path
        The input, as given or found.
    record
        Its JSON object (the result's ``to_dict()``).
    top_k
        The best names (genres, tags) and their probabilities, best first; empty if it failed.
    cells
        Its CSV cells after the ranks (:attr:`Layout.columns`); empty if it failed.
    error
        Why it failed (naming the file), or ``None``.
    """

    path: str
    record: dict[str, Any]
    top_k: Sequence[tuple[str, float]] = ()
    cells: Sequence[str] = ()
    error: str | None = None

    @classmethod
    def failure(cls, path: Path, error: str) -> FileRow:
        """The row of an input that failed: its JSON object holds the path and the *error* only."""
        return cls(str(path), {"path": str(path), "error": error}, error=error)


@dataclass(frozen=True)
class Layout:
    """How a command lays out its :class:`FileRow` s.

    Attributes
    ----------
    noun
        What is ranked ("genre", "tag"): the table's ``genre``, ``genre 2``... columns and
        CSV's ``genre_1``, ``probability_1``...
    k
        Ranks shown.
    verb
        Ends the count of failed inputs: "N of M inputs could not be *verb*".
    header
        JSON: the fields before ``files``, ``failed`` and ``results``.
    columns
        CSV: the columns after the ranks, before ``error``.
    width
        Table: the width of a name, or ``None`` for the widest name shown.
    """

    noun: str
    k: int
    verb: str
    header: dict[str, Any] = field(default_factory=dict)
    columns: Sequence[str] = ()
    width: int | None = None


def _write_csv(rows: Sequence[FileRow], layout: Layout) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    ranks = [col for i in range(1, layout.k + 1) for col in (f"{layout.noun}_{i}", f"probability_{i}")]
    writer.writerow(["path", *ranks, *layout.columns, "error"])
    for row in rows:
        if row.error is None:
            pairs = [v for name, p in row.top_k for v in (name, f"{p:.6f}")]
            writer.writerow([row.path, *pairs, *row.cells, ""])
        else:
            writer.writerow([row.path, *[""] * (len(ranks) + len(layout.columns)), row.error])


def _write_ranks(rows: Sequence[FileRow], layout: Layout) -> None:
    ok = [row for row in rows if row.error is None]
    if not ok:
        return
    noun = layout.noun
    header = ["file", *(f"{noun} {i}" if i > 1 else noun for i in range(1, layout.k + 1))]
    width = layout.width if layout.width is not None else max(len(name) for row in ok for name, _ in row.top_k)
    write_table([header] + [[row.path, *(f"{n:<{width}} {p:6.1%}" for n, p in row.top_k)] for row in ok])


def write_results(rows: Sequence[FileRow], fmt: str, layout: Layout) -> int:
    """Write every input's outcome in format *fmt*; return the exit status (1 if any input failed).

    Each failed input's error goes to stderr first, then the results to stdout: ``json``
    (one document: *layout*'s header, ``files``, ``failed`` and every result), ``jsonl``
    (one object per input), ``csv`` (one row per input, failed ones with their ``error``)
    or a table of the inputs that did not fail (any other *fmt*); last, when some failed,
    a line that counts them.
    """
    failed = [row for row in rows if row.error is not None]
    for row in failed:
        print(f"error: {row.error}", file=sys.stderr)
    if fmt == "json":
        results = [row.record for row in rows]
        print_json({**layout.header, "files": len(rows), "failed": len(failed), "results": results})
    elif fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row.record, allow_nan=False, default=str) + "\n")
    elif fmt == "csv":
        _write_csv(rows, layout)
    else:
        _write_ranks(rows, layout)
    if failed:
        print(f"error: {len(failed)} of {len(rows)} inputs could not be {layout.verb}", file=sys.stderr)
        return 1
    return 0
