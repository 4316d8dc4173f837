"""The catalogue table: its schema, its rows, the Parquet parts it is written in, and the resume rule.

A catalogue is a directory (``OUT.parquet/``) of Parquet files named ``part-*.parquet``,
each written whole (to a hidden temporary name, then renamed), so that a part is either
absent or complete: an interrupted run loses at most the rows it had not yet written.
Read together (pandas, DuckDB, pyarrow, Spark: any Parquet reader takes the directory)
they hold one row per input file.

**When a file counts as done.** A file is done when a part holds a row with its ``path``,
``size`` (bytes) and ``mtime_ns`` (modification time, nanoseconds), the three of them
equal to what the file has now: the row is then kept and the file skipped. A file that
changed since (another size or time) is computed again and its old row removed (its part
rewritten without it). An error row counts as done too: delete the row, or touch the file,
to try it again. An input that does not exist is an error row with null ``size`` and
``mtime_ns``, done as long as it stays missing.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from musicgenre.errors import ConfigurationError

__all__ = [
    "FIXED_COLUMNS",
    "FileEntry",
    "Job",
    "PartWriter",
    "fingerprint",
    "make_schema",
    "open_catalogue",
    "read_catalogue",
]

Job = Literal["predict", "tags", "embed"]
"""What a catalogue holds, genre probabilities (``"predict"``), musicnn tags or embeddings."""

#: The columns every catalogue has, in order, before its result columns.
FIXED_COLUMNS: tuple[str, ...] = ("path", "size", "mtime_ns", "fingerprint", "model", "duration_s", "error")

_KEY = ("path", "size", "mtime_ns")
Key = tuple[str, int | None, int | None]


@dataclass(frozen=True)
class FileEntry:
    """One input file as listed before a run: its name and what the resume rule compares.

    Attributes
    ----------
    path
        The name written in the table: a local path as given (folders expanded), or a URI
        (``s3://bucket/key.mp3``).
    size, mtime_ns
        The file's size in bytes and modification time in nanoseconds; ``None`` for an
        input that could not be listed.
    error
        Why the input is an error row without being read (a missing file, a folder
        without audio), or ``None``.
    """

    path: str
    size: int | None
    mtime_ns: int | None
    error: str | None = None

    @property
    def key(self) -> Key:
        """``(path, size, mtime_ns)``: what the resume rule compares."""
        return (self.path, self.size, self.mtime_ns)


def fingerprint(data: bytes) -> str:
    """The content fingerprint of a file's bytes: BLAKE2b, 128 bits, in hex.

    >>> fingerprint(b"")
    'cae66941d9efbd404e4d88758ea67670'
    """
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def make_schema(job: Job, model: str, columns: Sequence[str] | int) -> Any:
    """The ``pyarrow.Schema`` of a catalogue.

    Parameters
    ----------
    job
        ``"predict"``: a ``genre`` string column and one float64 probability column per
        class; ``"tags"``: one float64 column per tag; ``"embed"``: an ``embedding`` column,
        a fixed-size list of float32.
    model
        The model's name, stored in the schema's metadata (and in every row).
    columns
        The class or tag names, in the model's order; for ``"embed"`` the embedding's size.

    Raises
    ------
    ConfigurationError
        If a class or tag name is a fixed column's name or repeats.
    """
    import pyarrow as pa

    fields = [
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("fingerprint", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("duration_s", pa.float64()),
        pa.field("error", pa.string()),
    ]
    if job == "embed":
        if not isinstance(columns, int):
            raise ConfigurationError("an embedding catalogue needs the embedding's size")
        fields.append(pa.field("embedding", pa.list_(pa.float32(), columns)))
    else:
        names = [str(c) for c in columns] if not isinstance(columns, int) else []
        clash = sorted({n for n in names if n in FIXED_COLUMNS or n == "genre" or names.count(n) > 1})
        if clash:
            raise ConfigurationError(f"class or tag names {clash} clash with the catalogue's columns")
        if job == "predict":
            fields.append(pa.field("genre", pa.string()))
        fields.extend(pa.field(n, pa.float64()) for n in names)
    return pa.schema(fields, metadata={"musicgenre.job": job, "musicgenre.model": model})


def _rows_table(schema: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


class PartWriter:
    """Collects finished rows and writes them as ``part-*.parquet`` files, *rows_per_part* at a time.

    Each part is written to a hidden temporary file and renamed, so a part is whole or
    absent. Rows for a key written before in this run are dropped (an engine that
    retries may deliver a row twice): the table holds each file once.

    Parameters
    ----------
    folder
        The catalogue directory (created by :func:`open_catalogue`).
    schema
        From :func:`make_schema`.
    entries
        The files of this run, by name: their ``size`` and ``mtime_ns`` go into the rows.
    rows_per_part
        Rows per part file.
    """

    def __init__(self, folder: Path, schema: Any, entries: Mapping[str, FileEntry], rows_per_part: int) -> None:
        if rows_per_part < 1:
            raise ConfigurationError(f"files_per_part must be at least 1, got {rows_per_part}")
        self.folder = folder
        self.schema = schema
        self.entries = entries
        self.rows_per_part = rows_per_part
        self.model = schema.metadata[b"musicgenre.model"].decode()
        self.written: set[str] = set()
        self.parts = 0
        self.failed = 0
        self._pending: list[dict[str, Any]] = []
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"  # unique: never overwrites a part

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue finished rows (each with at least ``path``), writing a part whenever enough are queued."""
        for row in rows:
            path = str(row["path"])
            entry = self.entries.get(path)
            if entry is None or path in self.written:
                continue
            self.written.add(path)
            self.failed += row.get("error") is not None
            self._pending.append({**row, "size": entry.size, "mtime_ns": entry.mtime_ns, "model": self.model})
            if len(self._pending) >= self.rows_per_part:
                self.flush()

    def flush(self) -> None:
        """Write the queued rows as one part (nothing if none are queued)."""
        if not self._pending:
            return
        import pyarrow.parquet as pq

        table = _rows_table(self.schema, self._pending)
        name = f"part-{self._run}-{self.parts:06d}.parquet"
        tmp = self.folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(self.folder / name)
        self.parts += 1
        self._pending = []


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def read_catalogue(folder: str | os.PathLike[str]) -> Any:
    """Every part of a catalogue as one ``pyarrow.Table`` (what ``pandas.read_parquet(folder)`` reads too).

    Raises
    ------
    ConfigurationError
        If *folder* holds no part.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = _parts(Path(folder))
    if not parts:
        raise ConfigurationError(f"{folder}: no catalogue parts (part-*.parquet) here")
    return pa.concat_tables([pq.read_table(p) for p in parts])


def open_catalogue(folder: Path, schema: Any, entries: Sequence[FileEntry]) -> set[str]:
    """Prepare *folder* for a run and return the names of the *entries* already done.

    Creates the folder; checks that its parts were written by the same job and model
    (same schema); removes the rows of files that changed since (and any repeated row),
    rewriting their parts; and returns the names whose ``(path, size, mtime_ns)`` a part
    holds (the module's resume rule).

    Raises
    ------
    ConfigurationError
        If *folder* is a file, or holds parts of another job, model or schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(f"{folder}: the output must be a directory of Parquet parts, not a file")
    folder.mkdir(parents=True, exist_ok=True)
    for tmp in folder.glob(".part-*.parquet.tmp"):  # left by a run killed while writing
        tmp.unlink(missing_ok=True)
    wanted = {e.path: e.key for e in entries}
    seen: set[Key] = set()
    done: set[str] = set()
    model = schema.metadata[b"musicgenre.model"].decode()
    for part in _parts(folder):
        stored = pq.read_schema(part)
        if not stored.equals(schema, check_metadata=False) or stored.metadata != schema.metadata:
            theirs = (stored.metadata or {}).get(b"musicgenre.model", b"?").decode()
            raise ConfigurationError(
                f"{folder} holds a catalogue of another job or model ({theirs}, not {model}): "
                "choose another output, or delete it"
            )
        keys = pq.read_table(part, columns=list(_KEY)).to_pylist()
        keep: list[bool] = []
        for row in keys:
            key: Key = (row["path"], row["size"], row["mtime_ns"])
            current = wanted.get(key[0])
            ok = key not in seen and (current is None or current == key)
            keep.append(ok)
            seen.add(key)
            if ok and current is not None:
                done.add(key[0])
        if not all(keep):
            table = pq.read_table(part).filter(pa.array(keep))
            if len(table):
                tmp = folder / f".{part.name}.tmp"
                pq.write_table(table, tmp)
                tmp.replace(part)
            else:
                part.unlink()
    return done
