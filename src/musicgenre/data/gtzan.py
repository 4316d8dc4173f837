"""GTZAN as a torch ``Dataset``: finds the clips in any of its layouts, reports what it skips.

GTZAN holds 1000 clips of 30 s in 10 genres. The label is the file name's prefix
(``jazz.00054.wav`` is jazz). Three layouts are common and all are found by walking the
root: the original archive (``genres/blues/blues.00000.au``), Kaggle's copy
(``Data/genres_original/blues/blues.00000.wav``, with or without ``Data/``), genre
folders directly under the root (``blues/blues.00000.flac``), or one flat folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
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
from musicgenre.genres import GENRES
from musicgenre.io import AUDIO_EXTENSIONS

__all__ = [
    "GTZAN_SHA256",
    "GTZANDataset",
    "download_gtzan",
    "parse_clip_name",
    "scan_clips",
    "track_id",
]

logger = logging.getLogger(__name__)

#: SHA-256 of the original GTZAN archive ``genres.tar.gz`` (1.2 GB,
#: ``genres/<genre>/<genre>.000NN.au``; the value torchaudio checks too). The authors'
#: server has been gone since 2022: fetch a copy you trust and pass its URL to
#: :func:`download_gtzan`, which checks it against this value.
GTZAN_SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"

_CLIP_NAME = re.compile(r"^(?P<genre>[a-z_-]+?)\.?(?P<number>\d+)$", re.IGNORECASE)
_LAYOUTS = (
    "original:  ROOT/genres/<genre>/<genre>.00000.au",
    "Kaggle:    ROOT/Data/genres_original/<genre>/<genre>.00000.wav (or without Data/)",
    "folders:   ROOT/<genre>/<genre>.00000.<ext>",
    "flat:      ROOT/<genre>.00000.<ext>",
)


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


def scan_clips(
    root: Path,
    classes: Sequence[str],
    extensions: Sequence[str],
    *,
    known_genres: Sequence[str] = GENRES,
    other_formats: Sequence[str] = OTHER_AUDIO_EXTENSIONS,
) -> tuple[list[Path], list[int], list[SkippedFile]]:
    """Find GTZAN-named files under *root*: ``(files, targets, skipped)``, sorted by genre and number.

    Files of a known genre that is not in *classes* are left out on purpose (a subset was
    asked for); everything else that is not used is returned in *skipped*.
    """
    index = {genre: i for i, genre in enumerate(classes)}
    chosen: dict[tuple[str, int], Path] = {}
    skipped: list[SkippedFile] = []
    for path in walk_files(root):
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
    classes
        Genre names in label order (default: all ten, :data:`~musicgenre.genres.GENRES`);
        files of other GTZAN genres are left out.
    sample_rate
        Rate every clip is resampled to.
    mono
        Mix channels to one.
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
        classes: Sequence[str] = GENRES,
        sample_rate: int = 22050,
        mono: bool = True,
        validate: bool = True,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.classes: tuple[str, ...] = tuple(classes)
        self.sample_rate = sample_rate
        self.mono = mono
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise DatasetError(f"classes must be distinct and non-empty, got {list(classes)}")
        layouts = "\n  ".join(_LAYOUTS)
        if not self.root.is_dir():
            raise DatasetError(
                "dataset root does not exist or is not a folder; pass the folder that holds "
                f"GTZAN in one of these layouts (the docs' dataset page says where to get it):\n  {layouts}",
                path=self.root,
            )
        files, targets, skipped = scan_clips(self.root, self.classes, AUDIO_EXTENSIONS)
        found = len(files) + len(skipped)
        if validate:
            files, targets, bad = keep_readable(files, targets)
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
        warn_skipped(type(self).__name__, self.root, skipped, found)

    _summary_keys = ("clips", "per_genre")

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


def download_gtzan(root: str | os.PathLike[str], *, url: str, sha256: str | None = GTZAN_SHA256) -> Path:
    """Download a GTZAN archive from *url* into *root*, verify its checksum, and unpack it.

    GTZAN has no official home any more (the authors' server went offline in 2022), so
    musicgenre ships no download address: give the URL of a copy you trust (a mirror,
    your own server, or a ``file://`` path). The default checksum is the original
    ``genres.tar.gz``'s, so a mirror of that archive is verified byte for byte.

    Parameters
    ----------
    root
        Folder to unpack into (created if needed); the original archive's clips land in
        ``root/genres/``.
    url
        Where to fetch the ``.tar`` / ``.tar.gz`` from.
    sha256
        Expected SHA-256 of the archive (default: :data:`GTZAN_SHA256`, the original
        archive's); ``None`` skips the check, for an archive you made yourself.

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
                _extract_safely(tar, target)
        except (tarfile.TarError, OSError) as exc:
            raise DatasetError(f"could not unpack {url}: {exc}", path=target) from None
    return target


def _extract_safely(tar: tarfile.TarFile, target: Path) -> None:
    """Unpack *tar* into *target*, refusing members that would land outside it."""
    if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: the library's own check
        tar.extractall(target, filter="data")
        return
    root = target.resolve()
    for member in tar.getmembers():  # older Pythons: the same rule for paths, links refused
        destination = (root / member.name).resolve()
        if not destination.is_relative_to(root) or member.issym() or member.islnk() or member.isdev():
            raise tarfile.TarError(f"unsafe member {member.name!r} in the archive")
    tar.extractall(target)  # every member was checked above
