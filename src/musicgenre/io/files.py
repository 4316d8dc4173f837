"""Finding audio files: a folder's files in a deterministic order, and the extensions that are audio.

Nothing here opens a file or imports PyTorch: listing a folder is instant, and the
command line's ``--help`` and file listing stay light.
"""

from __future__ import annotations

import os
from pathlib import Path

from musicgenre._config import StrPath

__all__ = ["AUDIO_EXTENSIONS", "find_audio_files", "walk_files"]

#: File extensions (lower case) that :func:`~musicgenre.io.load_audio` decodes and datasets look for.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def walk_files(root: Path) -> list[Path]:
    """Every file under *root*, recursively, in a deterministic (sorted) order; hidden files and folders are skipped.

    Parameters
    ----------
    root
        The folder to walk.

    Returns
    -------
    list of pathlib.Path
        The files, each folder's files in name order, folders depth first in name order.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b/2.wav", "a.wav", ".hidden/x.wav", "b/.1.wav"):
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     (root / name).touch()
    >>> [p.relative_to(root).as_posix() for p in walk_files(root)]
    ['a.wav', 'b/2.wav']
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return found


def find_audio_files(folder: StrPath) -> list[Path]:
    """The audio files under *folder*, recursively, in sorted order (hidden files and folders skipped).

    The extensions are :data:`~musicgenre.io.AUDIO_EXTENSIONS` (``.wav``, ``.flac``,
    ``.mp3``...), in any letter case.

    Parameters
    ----------
    folder
        The folder to search.

    Returns
    -------
    list of pathlib.Path
        The audio files, in :func:`~musicgenre.io.walk_files`'s order.
    """
    return [path for path in walk_files(Path(folder)) if path.suffix.lower() in AUDIO_EXTENSIONS]
