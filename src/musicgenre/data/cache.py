"""Feature extraction and caching: decode and transform every clip once, reuse across epochs and runs.

The reference recomputes decode -> mono -> resample -> log-mel for every clip in every
epoch. :func:`extract_features` does that work once (in parallel worker processes) and
returns a :class:`FeatureSet` whose items are the cached log-mel spectrograms, passed
through a cheap per-epoch *view* (a crop, SpecAugment...). With ``cache="disk"`` the
spectrograms are also stored as ``.npy`` files keyed by the file's content hash and the
feature settings, so a changed file or setting never serves stale features.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from musicgenre.audio.transforms import FeatureConfig, LogMelSpectrogram
from musicgenre.data.gtzan import SkippedFile, _warn_skipped, parse_clip_name, track_id
from musicgenre.errors import AudioDecodeError, ConfigurationError
from musicgenre.io import load_audio

__all__ = ["CacheMode", "ClipSource", "FeatureSet", "extract_features", "feature_key"]

#: Where :func:`extract_features` keeps the spectrograms (``"disk"`` also stores them as ``.npy`` files).
CacheMode = Literal["memory", "disk"]
View = Callable[[torch.Tensor], torch.Tensor]
_FEATURE_VERSION = 1  # bump when the extraction code changes its output


class ClipSource(Protocol):
    """What :func:`extract_features` needs of a dataset: its files, labels, classes and skip report.

    :class:`~musicgenre.data.gtzan.GTZANDataset` and
    :class:`~musicgenre.data.folder.AudioFolderDataset` are clip sources.
    """

    @property
    def root(self) -> Path:
        """The dataset's folder (named in warnings)."""
        ...

    @property
    def files(self) -> Sequence[Path]:
        """Audio files, one per item."""
        ...

    @property
    def targets(self) -> Sequence[int]:
        """Label of each file, an index into :attr:`classes`."""
        ...

    @property
    def classes(self) -> tuple[str, ...]:
        """Label names."""
        ...

    @property
    def skipped(self) -> Sequence[SkippedFile]:
        """Files found but not used, with the reason."""
        ...


def feature_key(config: FeatureConfig, max_samples: int | None) -> str:
    """Short hash of everything that decides a clip's cached features besides its bytes."""
    blob = json.dumps({"v": _FEATURE_VERSION, "features": config.to_dict(), "max_samples": max_samples}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Extracted:
    index: int
    features: torch.Tensor | None
    error: str | None


class _Extractor(Dataset[_Extracted]):
    """Worker-side: decode, mix, resample, crop and log-mel one file (or read it from disk)."""

    def __init__(
        self, files: Sequence[Path], config: FeatureConfig, max_samples: int | None, cache_dir: Path | None
    ) -> None:
        self.files = list(files)
        self.config = config
        self.max_samples = max_samples
        self.cache_dir = cache_dir
        self.key = feature_key(config, max_samples)
        self.log_mel = LogMelSpectrogram.from_config(config)

    def __len__(self) -> int:
        return len(self.files)

    def compute(self, path: Path) -> torch.Tensor:
        wave, _ = load_audio(path, sample_rate=self.config.sample_rate, mono=True)
        if self.max_samples is not None:
            wave = wave[..., : self.max_samples]
        with torch.no_grad():
            features: torch.Tensor = self.log_mel(wave)
        return features

    def __getitem__(self, index: int) -> _Extracted:
        path = self.files[index]
        try:
            if self.cache_dir is None:
                return _Extracted(index, self.compute(path), None)
            entry = self.cache_dir / f"{_content_hash(path)}-{self.key}.npy"
            if entry.is_file():
                return _Extracted(index, torch.from_numpy(np.load(entry)), None)
            features = self.compute(path)
            tmp = entry.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, features.numpy())
            tmp.replace(entry)
            return _Extracted(index, features, None)
        except AudioDecodeError as exc:
            return _Extracted(index, None, exc.reason)


def _release_free_memory() -> None:
    # Extraction interleaves large short-lived buffers (decoded audio, STFTs) with the
    # small long-lived spectrograms, which fragments glibc's heap: without this the
    # process keeps several times the cache's size. A no-op where glibc is absent.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def _identity(items: list[_Extracted]) -> list[_Extracted]:
    return items


class FeatureSet(Dataset[tuple[torch.Tensor, int]]):
    """Cached spectrograms of a dataset's clips, as ``(view(features), target)`` pairs.

    Build it with :func:`extract_features`. Each item's features are ``(1, n_mels, frames)``;
    tracks may differ in length.

    Attributes
    ----------
    features : list of torch.Tensor
        One log-mel spectrogram per clip.
    targets : list of int
        Labels.
    files : list of pathlib.Path
        Source files.
    classes : tuple of str
        Class names.
    skipped : list of SkippedFile
        The dataset's skipped files plus those that failed to decode during extraction.
    view
        Per-item transform applied in ``__getitem__`` (crop, augmentation); ``None`` returns
        the cached tensor.
    """

    def __init__(
        self,
        features: list[torch.Tensor],
        targets: list[int],
        files: list[Path],
        classes: tuple[str, ...],
        skipped: list[SkippedFile],
        view: View | None = None,
    ) -> None:
        self.features = features
        self.targets = targets
        self.files = files
        self.classes = classes
        self.skipped = skipped
        self.view = view

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.features[index]
        return (self.view(x) if self.view is not None else x), self.targets[index]

    def with_view(self, view: View | None, indices: Sequence[int] | None = None) -> FeatureSet:
        """A set sharing these cached tensors (no copy) with another *view*, optionally a subset."""
        idx = list(range(len(self))) if indices is None else [int(i) for i in indices]
        return FeatureSet(
            [self.features[i] for i in idx],
            [self.targets[i] for i in idx],
            [self.files[i] for i in idx],
            self.classes,
            self.skipped,
            view,
        )

    @property
    def track_ids(self) -> list[str]:
        """An id per clip, ``"<genre>.<number>"`` for GTZAN names, else the file name's stem.

        GTZAN ids match :attr:`musicgenre.data.GTZANDataset.track_ids` (and the filtered
        split's lists); other datasets, such as an
        :class:`~musicgenre.data.folder.AudioFolderDataset`, get their files' stems.
        """
        return [track_id(path) if parse_clip_name(path.name) else path.stem for path in self.files]

    @property
    def nbytes(self) -> int:
        """Memory held by the cached tensors."""
        return sum(f.element_size() * f.nelement() for f in self.features)


def extract_features(
    dataset: ClipSource,
    config: FeatureConfig | None = None,
    *,
    max_seconds: float | None = None,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    progress: bool | None = None,
) -> FeatureSet:
    """Compute every clip's log-mel spectrogram once.

    Parameters
    ----------
    dataset
        Supplies the files, labels and skip report (its own transform is not used): a
        :class:`~musicgenre.data.gtzan.GTZANDataset`, an
        :class:`~musicgenre.data.folder.AudioFolderDataset` or any :class:`ClipSource`.
    config
        Feature settings (default: the reference's).
    max_seconds
        Keep only the first *max_seconds* of each clip, counted as
        ``clip_samples(sample_rate, max_seconds * 1000)`` (the reference keeps the first
        5 s, so its crop can be cached exactly); ``None`` keeps the whole track.
    cache
        ``"memory"``: keep the tensors in RAM only; ``"disk"``: also read/write ``.npy``
        files in *cache_dir*, keyed by the file's content hash and the settings.
    cache_dir
        Folder of the disk cache (created if needed); required with ``cache="disk"``.
    num_workers
        Worker processes (each with one torch thread); 0 extracts in this process.
    progress
        tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.

    Returns
    -------
    FeatureSet
        Clips that failed to decode are left out, listed in ``skipped`` with the reason,
        and summarised in a warning.
    """
    from tqdm.auto import tqdm

    cfg = config or FeatureConfig()
    if cache not in ("memory", "disk"):
        raise ConfigurationError(f"cache must be 'memory' or 'disk', got {cache!r}")
    directory: Path | None = None
    if cache == "disk":
        if cache_dir is None:
            raise ConfigurationError("cache='disk' needs cache_dir")
        directory = Path(cache_dir)
        directory.mkdir(parents=True, exist_ok=True)
    max_samples = None if max_seconds is None else cfg.sample_rate // 1000 * round(max_seconds * 1000)
    extractor = _Extractor(dataset.files, cfg, max_samples, directory)
    loader = DataLoader(
        extractor,
        batch_size=8,
        num_workers=num_workers,
        collate_fn=_identity,
        worker_init_fn=_one_thread if num_workers > 0 else None,
    )
    results: list[_Extracted] = []
    with tqdm(
        total=len(extractor), desc="features", unit="clip", disable=None if progress is None else not progress
    ) as bar:
        for batch in loader:
            results.extend(batch)
            bar.update(len(batch))
    features, targets, files = [], [], []
    skipped = list(dataset.skipped)
    failed: list[SkippedFile] = []
    for item in sorted(results, key=lambda r: r.index):
        if item.features is None:
            failed.append(SkippedFile(dataset.files[item.index], item.error or "could not be decoded"))
            continue
        features.append(item.features)
        targets.append(dataset.targets[item.index])
        files.append(dataset.files[item.index])
    _warn_skipped("extract_features", dataset.root, failed, len(results))
    del results
    _release_free_memory()
    return FeatureSet(features, targets, files, dataset.classes, skipped + failed)
