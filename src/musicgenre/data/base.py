"""What musicgenre's datasets share: the labelled-file base classes, the folder walk, validation and skip reports.

:class:`~musicgenre.data.gtzan.GTZANDataset`, :class:`~musicgenre.data.folder.AudioFolderDataset`
and :class:`~musicgenre.data.images.GTZANImageDataset` are built from these pieces: each walks
its root with :func:`walk_files`, checks its files with :func:`keep_readable`, lists what it
leaves out as :class:`SkippedFile` entries and summarises them with :func:`warn_skipped`.
A new dataset layout (see ``CONTRIBUTING.md``) does the same.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from musicgenre.errors import AudioDecodeError, MusicGenreError
from musicgenre.io import audio_info, load_audio, walk_files

__all__ = [
    "OTHER_AUDIO_EXTENSIONS",
    "AudioFileDataset",
    "LabelledFileDataset",
    "SkippedFile",
    "keep_readable",
    "walk_files",
    "warn_skipped",
]

#: Audio-like suffixes that libsndfile cannot decode (datasets report such files, never silently ignore them).
OTHER_AUDIO_EXTENSIONS: tuple[str, ...] = (".m4a", ".aac", ".wma", ".opus", ".webm", ".mp4", ".ape", ".alac")


@dataclass(frozen=True)
class SkippedFile:
    """A file a dataset found but did not use, and why.

    Attributes
    ----------
    path
        The file.
    reason
        Why it was left out (corrupt, unknown genre, duplicate, unsupported format...).
    """

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def warn_skipped(kind: str, root: Path, skipped: Sequence[SkippedFile], total: int) -> None:
    """Warn once, naming the first three of *skipped* (files of *total* found under *root*), if there are any.

    *kind* names who skipped them (a dataset class, ``"extract_features"``). The warning
    points at the code that built the dataset.
    """
    if not skipped:
        return
    shown = "; ".join(f"{s.path.name} ({s.reason})" for s in skipped[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    warnings.warn(
        f"{kind} skipped {len(skipped)} of {total} files under {root}: {shown}{more}. "
        "See the dataset's .skipped for the full list.",
        stacklevel=3,
    )


def keep_readable(
    files: list[Path],
    targets: list[int],
    check: Callable[[Path], object] = audio_info,
    error: type[MusicGenreError] = AudioDecodeError,
) -> tuple[list[Path], list[int], list[SkippedFile]]:
    """Run *check* on each file: ``(passing files, their targets, the failing ones as skipped)``.

    The default reads each audio file's header; *error* is what *check* raises for a bad file.
    """
    good_files: list[Path] = []
    good_targets: list[int] = []
    bad: list[SkippedFile] = []
    for path, target in zip(files, targets, strict=True):
        try:
            check(path)
        except error as exc:
            bad.append(SkippedFile(path, exc.reason))
            continue
        good_files.append(path)
        good_targets.append(target)
    return good_files, good_targets, bad


class LabelledFileDataset(Dataset[tuple[torch.Tensor, int]], abc.ABC):
    """What musicgenre's datasets share: labelled files, a skip report and a per-item transform.

    Subclasses find their files in ``__init__`` (setting :attr:`root`, :attr:`files`,
    :attr:`targets`, :attr:`classes`, :attr:`skipped` and :attr:`transform`) and implement
    :meth:`load`; items are ``(transform(load(i)), targets[i])``.

    Attributes
    ----------
    root : pathlib.Path
        The folder searched.
    files : list of pathlib.Path
        The files used, in a deterministic order.
    targets : list of int
        Label of each file, an index into :attr:`classes`.
    classes : tuple of str
        Class names.
    skipped : list of SkippedFile
        Files found but not used, with the reason; a warning summarises them.
    transform
        Applied to what :meth:`load` returns, or ``None``.
    """

    root: Path
    files: list[Path]
    targets: list[int]
    classes: tuple[str, ...]
    skipped: list[SkippedFile]
    transform: Callable[[torch.Tensor], torch.Tensor] | None
    # Keys of summary(): the item count and the per-class counts.
    _summary_keys: tuple[str, str] = ("files", "per_class")

    @abc.abstractmethod
    def load(self, index: int) -> torch.Tensor:
        """Item *index* before the transform."""

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.load(index)
        return (self.transform(item) if self.transform is not None else item), self.targets[index]

    def summary(self) -> dict[str, Any]:
        """Counts per class, and the skipped files with their reasons (for reports)."""
        counts = dict.fromkeys(self.classes, 0)
        for target in self.targets:
            counts[self.classes[target]] += 1
        size_key, counts_key = self._summary_keys
        return {
            "root": str(self.root),
            size_key: len(self),
            counts_key: counts,
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
        }


class AudioFileDataset(LabelledFileDataset):
    """A :class:`LabelledFileDataset` of audio files, decoded mono (if asked) at :attr:`sample_rate`.

    Attributes
    ----------
    sample_rate : int
        Rate every file is resampled to (soxr).
    mono : bool
        Whether channels are mixed to one.
    """

    sample_rate: int
    mono: bool

    def load(self, index: int) -> torch.Tensor:
        """Decoded waveform of file *index*, ``(1, time)`` (mono) at :attr:`sample_rate`, before the transform."""
        wave, _ = load_audio(self.files[index], sample_rate=self.sample_rate, mono=self.mono)
        return wave
