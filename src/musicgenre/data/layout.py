"""Which kind of labelled folder a root holds: GTZAN (labels from file names) or one folder per label.

:func:`detect_layout` tells them apart; :func:`open_dataset` opens the root as the
dataset of that layout (:class:`~musicgenre.data.gtzan.GTZANDataset` or
:class:`~musicgenre.data.folder.AudioFolderDataset`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from musicgenre.data.base import AudioFileDataset, walk_files
from musicgenre.data.folder import AudioFolderDataset
from musicgenre.data.gtzan import GTZANDataset
from musicgenre.errors import ConfigurationError, DatasetError
from musicgenre.genres import GENRES
from musicgenre.io import AUDIO_EXTENSIONS

__all__ = ["LAYOUTS", "Layout", "detect_layout", "open_dataset"]

#: A root's layout, ``"gtzan"`` (GTZAN's names and layouts) or ``"folder"`` (one folder per label).
Layout = Literal["gtzan", "folder"]

#: The layouts a command accepts, ``"auto"`` (:func:`detect_layout`), ``"gtzan"`` or ``"folder"``.
LAYOUTS = ("auto", "gtzan", "folder")

_GTZAN_NAME = re.compile(r"^(?P<genre>[a-z]+)\.\d{5}\.[a-z0-9]+$")


def _gtzan_placed(path: Path, root: Path) -> bool:
    """Whether *path* is named ``<genre>.<5 digits>.<ext>`` and lies where GTZAN's layouts put it."""
    match = _GTZAN_NAME.match(path.name.lower())
    if match is None or match.group("genre") not in GENRES:
        return False
    # Flat (directly under the root) or in a folder named after its genre (original, Kaggle, folders).
    return path.parent == root or path.parent.name.lower() == match.group("genre")


def detect_layout(root: str | os.PathLike[str]) -> Layout:
    """``"gtzan"`` when most audio files under *root* are GTZAN's, in GTZAN's layouts; else ``"folder"``.

    A GTZAN file is named ``<genre>.<5 digits>.<ext>`` (``jazz.00054.wav``) with one of
    GTZAN's ten genres, and lies directly under the root or in a folder named after its
    genre (the original archive's, Kaggle's and the genre-folder layouts). Anything else
    (your own labels, any file names) is a folder of labels: ``root/<label>/**/<file>``.

    Raises
    ------
    DatasetError
        If *root* is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> from musicgenre.synthetic import make_synthetic_gtzan
    >>> detect_layout(make_synthetic_gtzan(tempfile.mkdtemp(), clips_per_genre=1, duration=0.5))
    'gtzan'
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError("dataset root does not exist or is not a folder", path=base)
    gtzan = other = 0
    for path in walk_files(base):
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        if _gtzan_placed(path, base):
            gtzan += 1
        else:
            other += 1
    return "gtzan" if gtzan and gtzan >= other else "folder"


def open_dataset(root: str | os.PathLike[str], layout: str = "auto", *, sample_rate: int = 22050) -> AudioFileDataset:
    """The labelled dataset under *root*, read as *layout* (``"auto"``: :func:`detect_layout`).

    Parameters
    ----------
    root
        The folder.
    layout
        ``"auto"``, ``"gtzan"`` or ``"folder"``.
    sample_rate
        Rate every file is resampled to.

    Raises
    ------
    ConfigurationError
        If *layout* is not one of :data:`LAYOUTS`.
    DatasetError
        If *root* is not a folder or holds no usable file.
    """
    if layout not in LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose from {list(LAYOUTS)}")
    chosen = detect_layout(root) if layout == "auto" else layout
    if chosen == "gtzan":
        return GTZANDataset(root, sample_rate=sample_rate)
    return AudioFolderDataset(root, sample_rate=sample_rate)
