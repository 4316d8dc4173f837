"""Your own labelled audio as a torch ``Dataset``: one folder per label, like torchvision's ``ImageFolder``.

The label of a file is the name of the folder directly under the root that holds it, at
any depth below that folder::

    root/calm/evening.flac          -> "calm"
    root/calm/live/2019/intro.wav   -> "calm"
    root/loud/track01.mp3           -> "loud"
    root/notes.wav                  -> skipped: not in a label folder

Classes are the label folders' names, sorted (or the ones you pass, in your order).
Files are found, validated and reported exactly as :class:`~musicgenre.data.gtzan.GTZANDataset`
does it, so everything that takes a GTZAN dataset (for example
:func:`~musicgenre.data.cache.extract_features`) takes this one too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from musicgenre.data.base import (
    OTHER_AUDIO_EXTENSIONS,
    AudioFileDataset,
    SkippedFile,
    keep_readable,
    walk_files,
    warn_skipped,
)
from musicgenre.errors import DatasetError
from musicgenre.io import AUDIO_EXTENSIONS

__all__ = ["AudioFolderDataset"]


def _scan_folder(
    root: Path, classes: Sequence[str] | None = None, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> tuple[tuple[str, ...], list[Path], list[int], list[SkippedFile]]:
    """Find the audio files in the label folders under *root*: ``(classes, files, targets, skipped)``.

    Parameters
    ----------
    root
        Folder holding one subfolder per label.
    classes
        Label names in label order; ``None`` takes every label folder that holds audio,
        sorted. Folders not in *classes* are left out on purpose and not reported.
    extensions
        Audio file suffixes to use (lower case, with the dot).

    Returns
    -------
    tuple
        The classes, the files (sorted by label, then path), their labels, and the files
        found but not used (outside any label folder, or in a format that cannot be read).
    """
    found: dict[str, list[Path]] = {}
    skipped: list[SkippedFile] = []
    for path in walk_files(root):
        suffix = path.suffix.lower()
        if suffix not in extensions and suffix not in OTHER_AUDIO_EXTENSIONS:
            continue  # not audio (cover art, notes...)
        parts = path.relative_to(root).parts
        if len(parts) == 1:
            skipped.append(SkippedFile(path, "not in a label folder; move it into root/<label>/"))
        elif suffix in OTHER_AUDIO_EXTENSIONS:
            skipped.append(SkippedFile(path, f"unsupported format {suffix!r}; convert it to WAV or FLAC"))
        else:
            found.setdefault(parts[0], []).append(path)
    names = tuple(sorted(found)) if classes is None else tuple(classes)
    files = [path for name in names for path in sorted(found.get(name, []))]
    targets = [label for label, name in enumerate(names) for _ in found.get(name, [])]
    return names, files, targets, skipped


class AudioFolderDataset(AudioFileDataset):
    """Audio files labelled by their folder, as ``(features, target)`` pairs.

    Each item decodes one file, mixes it to mono and resamples it to *sample_rate* (with
    soxr), then applies *transform* (e.g. :class:`~musicgenre.audio.ClipFeatures`).

    Parameters
    ----------
    root
        Folder with one subfolder per label (``root/<label>/**/<file>.<ext>``); any
        supported format (WAV, FLAC, OGG, MP3, AU, AIFF), rate and channel count.
    transform
        Applied to the ``(1, time)`` waveform (``(channels, time)`` if ``mono=False``).
        ``None`` returns the waveform itself.
    classes
        Label names in label order; ``None`` takes the label folders' names, sorted. Files
        in other folders are left out.
    sample_rate
        Rate every file is resampled to.
    mono
        Mix channels to one.
    validate
        Read every file's header now and skip (and report) the unreadable ones. Without
        it, a bad file raises :class:`~musicgenre.errors.AudioDecodeError` when its item
        is read.

    Attributes
    ----------
    files : list of pathlib.Path
        The files used, sorted by label then path.
    targets : list of int
        Label of each file, an index into :attr:`classes`.
    classes : tuple of str
        Label names.
    skipped : list of SkippedFile
        Files found but not used, with the reason (corrupt, unsupported format, directly
        under *root*); a warning summarises them.

    Raises
    ------
    DatasetError
        If *root* is not a folder, *classes* has duplicates, or no usable file is found.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> root = Path(tempfile.mkdtemp())
    >>> for label in ("loud", "calm"):
    ...     (root / label).mkdir()
    ...     sf.write(root / label / "a.wav", np.zeros(2205, dtype=np.float32), 22050)
    >>> ds = AudioFolderDataset(root)
    >>> ds.classes, ds.targets, len(ds)
    (('calm', 'loud'), [0, 1], 2)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        classes: Sequence[str] | None = None,
        sample_rate: int = 22050,
        mono: bool = True,
        validate: bool = True,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.sample_rate = sample_rate
        self.mono = mono
        if classes is not None and (len(set(classes)) != len(classes) or not classes):
            raise DatasetError(f"classes must be distinct and non-empty, got {list(classes)}")
        if not self.root.is_dir():
            raise DatasetError(
                "dataset root does not exist or is not a folder; pass the folder that holds one "
                "subfolder of audio files per label (root/<label>/<file>.wav)",
                path=self.root,
            )
        names, files, targets, skipped = _scan_folder(self.root, classes)
        found = len(files) + len(skipped)
        if validate:
            files, targets, bad = keep_readable(files, targets)
            skipped.extend(bad)
        if not files:
            raise DatasetError(
                f"no usable audio file found in label folders ({len(skipped)} skipped); "
                "expected root/<label>/<file>.<ext> with one folder per label",
                path=self.root,
            )
        self.classes: tuple[str, ...] = names
        self.files: list[Path] = files
        self.targets: list[int] = targets
        self.skipped: list[SkippedFile] = skipped
        warn_skipped(type(self).__name__, self.root, skipped, found)
