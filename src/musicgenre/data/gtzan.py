"""GTZAN as a torch ``Dataset``: finds the clips in any of its layouts, reports what it skips.

GTZAN holds 1000 clips of 30 s in 10 genres. The label is the file name's prefix
(``jazz.00054.wav`` is jazz). Three layouts are common and all are found by walking the
root: the original archive (``genres/blues/blues.00000.au``), Kaggle's copy
(``Data/genres_original/blues/blues.00000.wav``, with or without ``Data/``), genre
folders directly under the root (``blues/blues.00000.flac``), or one flat folder.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from musicgenre.errors import AudioDecodeError, DatasetError, MusicGenreError
from musicgenre.io import AUDIO_EXTENSIONS, audio_info, load_audio

__all__ = [
    "GENRES",
    "GTZAN_SHA256",
    "GTZAN_URL",
    "AudioFileDataset",
    "GTZANDataset",
    "LabelledFileDataset",
    "SkippedFile",
    "download_gtzan",
    "parse_clip_name",
    "scan_clips",
    "track_id",
]

logger = logging.getLogger(__name__)

#: The ten GTZAN genres, in label order (label ``i`` is ``GENRES[i]``).
GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

#: Where the original GTZAN archive (1.2 GB, ``genres/<genre>/<genre>.000NN.au``) is served.
GTZAN_URL = "http://opihi.cs.uvic.ca/sound/genres.tar.gz"
#: SHA-256 of that archive (the value torchaudio checks too).
GTZAN_SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"

# Audio-like files that libsndfile cannot decode: reported, not silently ignored.
_OTHER_AUDIO = (".m4a", ".aac", ".wma", ".opus", ".webm", ".mp4", ".ape", ".alac")
_CLIP_NAME = re.compile(r"^(?P<genre>[a-z_-]+?)\.?(?P<number>\d+)$", re.IGNORECASE)
_LAYOUTS = (
    "original:  ROOT/genres/<genre>/<genre>.00000.au",
    "Kaggle:    ROOT/Data/genres_original/<genre>/<genre>.00000.wav (or without Data/)",
    "folders:   ROOT/<genre>/<genre>.00000.<ext>",
    "flat:      ROOT/<genre>.00000.<ext>",
)


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


def parse_clip_name(name: str) -> tuple[str, int] | None:
    """Split a GTZAN file name into ``(genre, number)``.

    Accepts the audio names (``jazz.00054.wav``) and Kaggle's image names
    (``jazz00054.png``, no dot). Returns ``None`` for other names.

    Examples
    --------
    >>> parse_clip_name("jazz.00054.wav")
    ('jazz', 54)
    >>> parse_clip_name("classical00003.png")
    ('classical', 3)
    >>> parse_clip_name("notes.txt") is None
    True
    """
    stem = name.rsplit(".", 1)[0] if "." in name else name
    match = _CLIP_NAME.match(stem)
    if match is None:
        return None
    return match.group("genre").lower(), int(match.group("number"))


def track_id(path: Path) -> str:
    """``"<genre>.<number>"`` of a GTZAN-named file (``jazz.00054.wav`` -> ``"jazz.00054"``).

    Raises :class:`~musicgenre.errors.DatasetError` for other names.
    """
    parsed = parse_clip_name(path.name)
    if parsed is None:
        raise DatasetError("name is not <genre>.<number> (e.g. blues.00000.wav)", path=path)
    return f"{parsed[0]}.{parsed[1]:05d}"


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return found


def scan_clips(
    root: Path,
    classes: Sequence[str],
    extensions: Sequence[str],
    *,
    known_genres: Sequence[str] = GENRES,
    other_formats: Sequence[str] = _OTHER_AUDIO,
) -> tuple[list[Path], list[int], list[SkippedFile]]:
    """Find GTZAN-named files under *root*: ``(files, targets, skipped)``, sorted by genre and number.

    Files of a known genre that is not in *classes* are left out on purpose (a subset was
    asked for); everything else that is not used is returned in *skipped*.
    """
    index = {genre: i for i, genre in enumerate(classes)}
    chosen: dict[tuple[str, int], Path] = {}
    skipped: list[SkippedFile] = []
    for path in _walk(root):
        suffix = path.suffix.lower()
        if suffix in other_formats:
            skipped.append(SkippedFile(path, f"unsupported format {suffix!r}; convert it to WAV or FLAC"))
            continue
        if suffix not in extensions:
            continue
        parsed = parse_clip_name(path.name)
        if parsed is None:
            skipped.append(SkippedFile(path, "name is not <genre>.<number> (e.g. blues.00000.wav)"))
            continue
        genre, number = parsed
        if genre not in index:
            if genre not in known_genres:
                skipped.append(SkippedFile(path, f"genre {genre!r} is not one of {list(classes)}"))
            continue
        key = (genre, number)
        if key in chosen:
            skipped.append(SkippedFile(path, f"duplicate of {chosen[key]}"))
            continue
        chosen[key] = path
    keys = sorted(chosen, key=lambda k: (index[k[0]], k[1]))
    return [chosen[k] for k in keys], [index[k[0]] for k in keys], skipped


def _warn_skipped(kind: str, root: Path, skipped: Sequence[SkippedFile], total: int) -> None:
    if not skipped:
        return
    shown = "; ".join(f"{s.path.name} ({s.reason})" for s in skipped[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    warnings.warn(
        f"{kind} skipped {len(skipped)} of {total} files under {root}: {shown}{more}. "
        "See the dataset's .skipped for the full list.",
        stacklevel=3,
    )


def _keep_readable(
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


class GTZANDataset(AudioFileDataset):
    """GTZAN clips as ``(features, target)`` pairs.

    Each item decodes one file, mixes it to mono and resamples it to *sample_rate* (with
    soxr), then applies *transform* (for the reference,
    :class:`~musicgenre.audio.ClipFeatures`: 5-s crop and 64-band log-mel).

    Parameters
    ----------
    root
        Folder holding GTZAN in any layout (see the module docs); searched recursively.
    transform
        Applied to the ``(1, time)`` waveform (``(channels, time)`` if ``mono=False``).
        ``None`` returns the waveform itself.
    genres
        Class names in label order; files of other GTZAN genres are left out.
    sample_rate
        Rate every clip is resampled to.
    mono
        Mix channels to one.
    download
        If *root* holds no clip, download and unpack the original archive there first.
    validate
        Read every file's header now and skip (and report) the unreadable ones, such as
        Kaggle's corrupt ``jazz.00054.wav``. Without it, a bad file raises
        :class:`~musicgenre.errors.AudioDecodeError` when its item is read.

    Attributes
    ----------
    files : list of pathlib.Path
        The clips used, sorted by genre then number.
    targets : list of int
        Label of each clip, an index into :attr:`classes`.
    classes : tuple of str
        Genre names.
    skipped : list of SkippedFile
        Files found but not used, with the reason; a warning summarises them.

    Raises
    ------
    DatasetError
        If *root* does not exist or holds no usable clip; the message lists the layouts
        looked for.

    Examples
    --------
    >>> import tempfile
    >>> from musicgenre.synthetic import make_synthetic_gtzan
    >>> root = make_synthetic_gtzan(tempfile.mkdtemp(), clips_per_genre=2, duration=1.0)
    >>> ds = GTZANDataset(root)
    >>> len(ds), ds.classes[ds.targets[0]], ds.files[0].name
    (20, 'blues', 'blues.00000.wav')
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        genres: Sequence[str] = GENRES,
        sample_rate: int = 22050,
        mono: bool = True,
        download: bool = False,
        validate: bool = True,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.classes: tuple[str, ...] = tuple(genres)
        self.sample_rate = sample_rate
        self.mono = mono
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise DatasetError(f"genres must be distinct and non-empty, got {list(genres)}")
        if download and not self._has_clips():
            download_gtzan(self.root)
        layouts = "\n  ".join(_LAYOUTS)
        if not self.root.is_dir():
            raise DatasetError(
                "dataset root does not exist or is not a folder; pass the folder that holds "
                f"GTZAN in one of these layouts, or download=True to fetch it:\n  {layouts}",
                path=self.root,
            )
        files, targets, skipped = scan_clips(self.root, self.classes, AUDIO_EXTENSIONS)
        found = len(files) + len(skipped)
        if validate:
            files, targets, bad = _keep_readable(files, targets)
            skipped.extend(bad)
        if not files:
            raise DatasetError(
                f"no usable clip of {list(self.classes)} found ({len(skipped)} skipped). "
                f"Looked for these layouts:\n  {layouts}",
                path=self.root,
            )
        self.files: list[Path] = files
        self.targets: list[int] = targets
        self.skipped: list[SkippedFile] = skipped
        _warn_skipped(type(self).__name__, self.root, skipped, found)

    _summary_keys = ("clips", "per_genre")

    def _has_clips(self) -> bool:
        return self.root.is_dir() and bool(scan_clips(self.root, self.classes, AUDIO_EXTENSIONS)[0])

    @property
    def track_ids(self) -> list[str]:
        """``"<genre>.<number>"`` of each clip (e.g. ``"jazz.00054"``), as the split lists name them."""
        return [track_id(path) for path in self.files]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_gtzan(root: str | os.PathLike[str], *, url: str = GTZAN_URL, sha256: str | None = GTZAN_SHA256) -> Path:
    """Download the GTZAN archive into *root*, verify its checksum, and unpack it.

    Parameters
    ----------
    root
        Folder to unpack into (created if needed); the clips land in ``root/genres/``.
    url
        Where to fetch the ``.tar.gz`` from.
    sha256
        Expected SHA-256 of the archive; ``None`` skips the check.

    Returns
    -------
    pathlib.Path
        *root*.

    Raises
    ------
    DatasetError
        If the download fails (e.g. offline), the checksum does not match, or the archive
        cannot be unpacked. Nothing partial is left in *root*.
    """
    target = Path(root)
    target.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s into %s", url, target)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        archive = Path(tmp) / "gtzan.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DatasetError(
                f"could not download GTZAN from {url} ({exc}). If this machine is offline, "
                "download the archive elsewhere, unpack it, and pass its folder as root",
                path=target,
            ) from None
        if sha256 is not None:
            actual = _sha256(archive)
            if actual != sha256:
                raise DatasetError(
                    f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; "
                    "the download is corrupt or altered, try again",
                    path=target,
                )
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(target, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DatasetError(f"could not unpack {url}: {exc}", path=target) from None
    return target
