"""The in-process engine: batches of files through the library's own batch calls, no Ray needed.

Genres and tags go through ``predict_many``/``tag_many`` on
:func:`~musicgenre.parallel.map_files` (worker processes, one torch thread each);
embeddings one file after another. Each batch is one part of the catalogue, written
before the next batch starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from musicgenre.catalogue.compute import ModelSpec, RowMaker
from musicgenre.catalogue.inputs import is_uri
from musicgenre.catalogue.table import FileEntry, PartWriter

__all__ = ["run_local"]


def _read_uri(name: str) -> bytes | None:
    import pyarrow.fs as pafs

    filesystem, path = pafs.FileSystem.from_uri(name)
    try:
        with filesystem.open_input_file(path) as stream:
            return bytes(stream.read())
    except OSError:
        return None


def run_local(
    spec: ModelSpec,
    todo: Sequence[FileEntry],
    writer: PartWriter,
    *,
    num_workers: int | None = None,
    maker: RowMaker | None = None,
) -> None:
    """Compute the rows of *todo* in this process and hand them to *writer*, one part per batch.

    Parameters
    ----------
    spec
        The model.
    todo
        The files to compute (none with an ``error`` of their own).
    writer
        Writes the parts (its ``rows_per_part`` is the batch size).
    num_workers
        Decoding processes (``None``: one per usable core; 0: this process only).
    maker
        A loaded model to use instead of loading *spec*'s.
    """
    rows = maker or RowMaker(spec, num_workers=num_workers)
    try:
        step = writer.rows_per_part
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            local = [e.path for e in batch if not is_uri(e.path)]
            if local:
                writer.add(rows.rows(local))
            remote = [e.path for e in batch if is_uri(e.path)]
            contents = {name: _read_uri(name) for name in remote}
            readable = [n for n in remote if contents[n] is not None]
            if readable:
                writer.add(rows.rows_from_bytes(readable, [contents[n] or b"" for n in readable]))
            writer.add(
                {"path": n, "duration_s": None, "error": f"{n}: cannot be read"} for n in remote if contents[n] is None
            )
            writer.flush()
    finally:
        if maker is None:
            rows.close()
