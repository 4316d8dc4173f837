"""Writing output files: atomically, with the permissions every other output gets, and typed errors.

Private to the package (no public name here); checkpoints and exports write through it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from musicgenre.errors import MusicGenreError

__all__ = ["atomic_write"]

#: Builds the error raised when the file cannot be written: ``error(message, path=target)``.
ErrorFactory = Callable[..., MusicGenreError]


def _problem(target: Path, exc: OSError) -> str:
    """What is in the way, in words: a parent that is a file, *target* a folder, or the system's reason."""
    for parent in target.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
    if target.is_dir():
        return "it is a folder"
    return exc.strerror or str(exc)


@contextmanager
def atomic_write(target: Path, *, error: ErrorFactory, what: str = "file") -> Iterator[BinaryIO]:
    """Write *target* through a hidden temporary file beside it, renamed over it when the block ends.

    The temporary file (``.NAME.XXXXXXXX``) is created as ``open(..., "xb")`` creates files,
    so the result has the permissions the umask gives any new file (``mkstemp`` would
    give 0600). It is flushed to disk before the rename, so a crash, a full disk or
    Ctrl-C leaves *target* as it was, and the temporary file is removed. The parent
    folders are created.

    Parameters
    ----------
    target
        The file to write.
    error
        The :class:`~musicgenre.errors.MusicGenreError` subclass (or a callable taking a
        message and ``path=``) raised, naming *target*, when it cannot be written there:
        a parent that is a file, a read-only folder, *target* a folder.
    what
        What the file is, for the message (``"checkpoint"``).

    Yields
    ------
    typing.BinaryIO
        The temporary file, open for writing. An exception inside the block propagates
        as it is (after the temporary file is removed).

    Examples
    --------
    >>> import tempfile
    >>> from musicgenre.errors import ConfigurationError
    >>> target = Path(tempfile.mkdtemp()) / "out" / "a.bin"
    >>> with atomic_write(target, error=ConfigurationError) as fh:
    ...     _ = fh.write(b"abc")
    >>> target.read_bytes()
    b'abc'
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(21, "it is a folder", str(target))
        while True:
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
            try:
                fh = tmp.open("xb")
                break
            except FileExistsError:  # pragma: no cover - 2**-32 per try
                continue
    except OSError as exc:
        raise error(f"cannot write the {what} here ({_problem(target, exc)})", path=target) from None
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            tmp.replace(target)
        except OSError as exc:
            raise error(f"cannot write the {what} here ({_problem(target, exc)})", path=target) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
