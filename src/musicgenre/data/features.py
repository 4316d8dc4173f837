"""Feature extraction: decode and transform every clip once, into one store reused across epochs and runs.

The reference recomputes decode -> mono -> resample -> log-mel for every clip in every
epoch. :func:`extract_features` does that work once (in parallel worker processes) and
returns a :class:`FeatureSet` whose items are the cached log-mel spectrograms, passed
through a cheap per-epoch *view* (a crop, SpecAugment...).

What is stored is the whole track's frames as the shared front end computes them
(:meth:`musicgenre.audio.windowing.LogMelFrontEnd.frames`: the mel spectrogram in dB,
without the ``top_db`` floor, which is applied per model window), so evaluation on the
store and :class:`~musicgenre.predict.GenreClassifier` on the files run the same
arithmetic.

A :class:`FeatureSet` keeps every track in **one** preallocated array, frames
concatenated along time, with each item's ``[start, stop)`` frames in :attr:`FeatureSet.spans`;
an item is a view into that array, never a copy. Memory is one block, not thousands of
small tensors that fragment the heap.

With ``cache="disk"`` the store is also written to *cache_dir*, one pair of files per
feature settings: ``features-<key>.npy`` (the array, which ``np.load(mmap_mode="r")``
maps) and ``features-<key>.json`` (its index: each track's content hash, file, id,
target and span, and the settings' key). Loading a cached set is one read of the array,
or, with ``mmap=True``, a memory map, so a set larger than memory works too. A track is
served from the store only if its file's content hash and the settings' key match, so a
changed file or setting never serves stale features; only the changed files are decoded
again, and the store is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from musicgenre._random import item_generator
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import FrontEnd, LogMelFrontEnd
from musicgenre.data._store import FEATURE_VERSION, FrameBuffer, Store
from musicgenre.data.base import SkippedFile, warn_skipped
from musicgenre.data.gtzan import parse_clip_name, track_id
from musicgenre.errors import ConfigurationError
from musicgenre.genres import GENRES
from musicgenre.io import load_audio
from musicgenre.parallel import default_workers, map_files, reissue

__all__ = [
    "CacheMode",
    "ClipSource",
    "FeatureSet",
    "RandomView",
    "View",
    "content_hash",
    "extract_features",
    "feature_key",
    "item_generator",
]

#: Where :func:`extract_features` keeps the spectrograms (``"disk"`` also stores them in *cache_dir*).
CacheMode = Literal["memory", "disk"]
#: A per-item transform of a ``(1, n_mels, frames)`` spectrogram (a crop, a fixed window...).
View = Callable[[torch.Tensor], torch.Tensor]
#: A per-item transform that draws random numbers, from the generator it is given
#: (:meth:`FeatureSet.with_view` with a *seed* gives each item its own, see :func:`item_generator`).
RandomView = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


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


def feature_key(config: FeatureConfig, max_samples: int | None, front_end: str | None = None) -> str:
    """Short hash of everything that decides a clip's cached features besides its bytes.

    *front_end* names a front end other than *config*'s log-mel (its ``key``), if one is used.
    """
    settings = {"v": FEATURE_VERSION, "features": config.to_dict(), "max_samples": max_samples}
    if front_end is not None:
        settings["front_end"] = front_end
    blob = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def content_hash(path: str | os.PathLike[str]) -> str:
    """A file's content fingerprint: the hex BLAKE2b-128 digest of its bytes.

    The disk cache keys tracks by it, and checkpoints record it for the tracks of each part.
    """
    digest = hashlib.blake2b(digest_size=16)
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FeatureSet(Dataset[tuple[torch.Tensor, int]]):
    """Cached spectrograms of a dataset's clips, as ``(view(spectrogram), target)`` pairs.

    Build it with :func:`extract_features`, or from separate tensors with
    :meth:`from_spectrograms`. Each item's spectrogram is ``(1, n_mels, frames)``, a view
    into :attr:`storage`; tracks may differ in length.

    The constructor takes :attr:`storage`, :attr:`spans` and the other attributes, in the
    order listed below. :attr:`storage` is ``(total_frames, n_mels)``: every track's frames,
    one after another (time-major, so that one track is one contiguous block, also in a
    memory map); item *i*'s frames are ``storage[spans[i, 0]:spans[i, 1]]``, and items may
    share frames (a subset with repeats, see :meth:`with_view`).

    Attributes
    ----------
    storage : torch.Tensor
        The one array holding the spectrograms (possibly a memory map of the disk cache).
    spans : numpy.ndarray
        ``[start, stop)`` frames of each item in :attr:`storage`.
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
        the cached spectrogram. With :attr:`seed` set it is a :data:`RandomView`.
    seed : int or None
        With a seed, item *i* of epoch *e* is ``view(spectrogram, item_generator(seed, e, i))``.
    epoch : int
        The epoch the items are drawn for (:meth:`set_epoch`; the trainer sets it).

    Examples
    --------
    >>> tracks = [torch.zeros(1, 4, 3), torch.ones(1, 4, 5)]
    >>> data = FeatureSet.from_spectrograms(tracks, [0, 1], [Path("a.wav"), Path("b.wav")], ("x", "y"))
    >>> tuple(data.storage.shape), data.spans.tolist(), tuple(data[1][0].shape)
    ((8, 4), [[0, 3], [3, 8]], (1, 4, 5))
    """

    def __init__(
        self,
        storage: torch.Tensor,
        spans: NDArray[np.int64],
        targets: list[int],
        files: list[Path],
        classes: tuple[str, ...],
        skipped: list[SkippedFile],
        view: View | RandomView | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        if storage.dim() != 2 or not len(spans) == len(targets) == len(files):
            raise ConfigurationError(
                f"a FeatureSet needs a (frames, n_mels) storage and one span, target and file per item; got "
                f"storage {tuple(storage.shape)}, {len(spans)} spans, {len(targets)} targets, {len(files)} files"
            )
        self.storage = storage
        self.spans = spans
        self.targets = targets
        self.files = files
        self.classes = classes
        self.skipped = skipped
        self.view = view
        self.seed = seed
        self.epoch = 0

    @classmethod
    def from_spectrograms(
        cls,
        spectrograms: Sequence[torch.Tensor],
        targets: Sequence[int],
        files: Sequence[Path],
        classes: tuple[str, ...],
        skipped: Sequence[SkippedFile] = (),
        view: View | None = None,
        *,
        n_mels: int | None = None,
    ) -> FeatureSet:
        """Copy ``(1, n_mels, frames)`` spectrograms into one preallocated store.

        *n_mels* is only needed when *spectrograms* is empty.
        """
        bands = n_mels if n_mels is not None else (spectrograms[0].shape[-2] if spectrograms else 0)
        lengths = np.array([s.shape[-1] for s in spectrograms], dtype=np.int64)
        stops = np.cumsum(lengths)
        spans = np.stack([stops - lengths, stops], axis=1) if len(lengths) else np.zeros((0, 2), dtype=np.int64)
        dtype = spectrograms[0].dtype if spectrograms else torch.float32
        storage = torch.empty((int(stops[-1]) if len(stops) else 0, bands), dtype=dtype)
        for (start, stop), spectrogram in zip(spans, spectrograms, strict=True):
            storage[start:stop] = spectrogram.reshape(bands, -1).T
        return cls(storage, spans, list(targets), list(files), classes, list(skipped), view)

    def __len__(self) -> int:
        return len(self.spans)

    def spectrogram(self, index: int) -> torch.Tensor:
        """Item *index*'s cached spectrogram, ``(1, n_mels, frames)``: a view into :attr:`storage`, no copy."""
        start, stop = self.spans[index]
        return self.storage[start:stop].T.unsqueeze(0)

    @property
    def spectrograms(self) -> list[torch.Tensor]:
        """Every item's spectrogram (views into :attr:`storage`), in item order."""
        return [self.spectrogram(i) for i in range(len(self))]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.spectrogram(index)
        if self.view is None:
            return x, self.targets[index]
        if self.seed is None:
            return cast(View, self.view)(x), self.targets[index]
        generator = item_generator(self.seed, self.epoch, index)
        return cast(RandomView, self.view)(x, generator), self.targets[index]

    def set_epoch(self, epoch: int) -> None:
        """Draw the items of *epoch* (a seeded view draws anew each epoch); call it before each epoch's loader pass."""
        self.epoch = epoch

    def with_view(
        self, view: View | RandomView | None, indices: Sequence[int] | None = None, *, seed: int | None = None
    ) -> FeatureSet:
        """A set sharing this one's storage (no copy) with another *view*, optionally a subset (repeats allowed).

        Without *seed*, *view* is a :data:`View`, called with the spectrogram. With *seed*, it
        is a :data:`RandomView`, called with the spectrogram and the item's own generator,
        :func:`item_generator` ``(seed, epoch, index)``: a picklable view (a module-level
        class or function, such as :class:`~musicgenre.recipes.TrainView`) then gives the same
        items with any number of loader workers, under fork or spawn.
        """
        idx = list(range(len(self))) if indices is None else [int(i) for i in indices]
        return FeatureSet(
            self.storage,
            self.spans[idx] if idx else np.zeros((0, 2), dtype=np.int64),
            [self.targets[i] for i in idx],
            [self.files[i] for i in idx],
            self.classes,
            self.skipped,
            view,
            seed=seed,
        )

    @property
    def track_ids(self) -> list[str]:
        """An id for each track, ``"<genre>.<number>"`` where every file has a GTZAN name, else its path.

        GTZAN ids match :attr:`musicgenre.data.GTZANDataset.track_ids` (and the filtered
        split's lists). Other datasets, such as an
        :class:`~musicgenre.data.folder.AudioFolderDataset`, get each file's path relative to
        the folder that holds them all (``calm/live/take 1.wav``): unique, whatever the file
        names, so checkpoints record and ``musicgenre evaluate`` finds exactly the tracks.
        """
        gtzan = [_gtzan_id(path) for path in self.files]
        if self.files and all(gtzan) and len(set(gtzan)) == len(gtzan):
            return cast(list[str], gtzan)
        if not self.files:
            return []
        common = Path(os.path.commonpath([str(path.parent) for path in self.files]))
        return [path.relative_to(common).as_posix() for path in self.files]

    @property
    def nbytes(self) -> int:
        """Size of :attr:`storage` in bytes (shared by the sets :meth:`with_view` makes)."""
        return self.storage.element_size() * self.storage.nelement()


def _gtzan_id(path: Path) -> str | None:
    """``"<genre>.<number>"`` of a file named as GTZAN names its clips, else ``None``."""
    parsed = parse_clip_name(path.name)
    return track_id(path) if parsed is not None and parsed[0] in GENRES else None


@dataclass(frozen=True)
class _Extracted:
    features: torch.Tensor | None  # None: served from the store
    digest: str | None = None  # content hash, with the disk cache


class _Extractor:
    """One file's job for :func:`~musicgenre.parallel.map_files`: hash, decode, crop, frames. Picklable.

    With the disk cache, a file whose content hash the store holds is only hashed.
    """

    def __init__(
        self,
        config: FeatureConfig,
        max_samples: int | None,
        stored: frozenset[str] | None,
        front_end: FrontEnd | None = None,
    ) -> None:
        self.config = config
        self.max_samples = max_samples
        self.stored = stored  # content hashes the store holds; None without a disk cache
        self.front_end: FrontEnd = front_end if front_end is not None else LogMelFrontEnd(config)

    def compute(self, path: Path) -> torch.Tensor:
        wave, _ = load_audio(path, sample_rate=self.front_end.sample_rate, mono=True)
        if self.max_samples is not None:
            wave = wave[..., : self.max_samples]
        return self.front_end.frames(wave)

    def __call__(self, path: Path) -> _Extracted:
        if self.stored is None:
            return _Extracted(self.compute(path))
        digest = content_hash(path)
        if digest in self.stored:
            return _Extracted(None, digest)
        return _Extracted(self.compute(path), digest)


@dataclass(frozen=True)
class _Placed:
    """Where an extracted clip went: its frames in the fresh buffer, or (span None) the store."""

    index: int
    error: str | None
    digest: str | None
    span: tuple[int, int] | None


def extract_features(
    dataset: ClipSource,
    config: FeatureConfig | None = None,
    *,
    max_seconds: float | None = None,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    mmap: bool = False,
    num_workers: int | None = None,
    progress: bool | None = None,
    front_end: FrontEnd | None = None,
) -> FeatureSet:
    """Compute every clip's log-mel spectrogram once, into one contiguous :class:`~musicgenre.data.cache.FeatureSet`.

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
        ``"memory"``: keep the spectrograms in RAM only; ``"disk"``: also keep them in
        *cache_dir* (one array and its index per feature settings, see the module docs),
        served again for every file whose content hash is unchanged.
    cache_dir
        Folder of the disk cache (created if needed); required with ``cache="disk"``.
    mmap
        With the disk cache, memory-map the stored array instead of reading it, for sets
        larger than memory (pages are read when items are; the set's storage is a
        copy-on-write map, so the file is never changed through it).
    num_workers
        Worker processes (each with one torch thread; :func:`~musicgenre.parallel.map_files`);
        0 extracts in this process. ``None`` (default):
        :func:`~musicgenre.parallel.default_workers` for the number of files.
    progress
        tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
    front_end
        Compute the frames with this front end instead of *config*'s log-mel (a pretrained
        model's, e.g. :class:`~musicgenre.audio.frontends.MusicnnFrontEnd`); *config* must
        then give its sample rate and bands, and the front end's ``key`` (or ``repr``)
        enters the disk cache's key.

    Returns
    -------
    FeatureSet
        Clips that failed to decode are left out, listed in ``skipped`` with the reason,
        and summarised in a warning.
    """
    cfg = config or FeatureConfig()
    if cache not in ("memory", "disk"):
        raise ConfigurationError(f"cache must be 'memory' or 'disk', got {cache!r}")
    store: Store | None = None
    max_samples = None if max_seconds is None else cfg.sample_rate // 1000 * round(max_seconds * 1000)
    if cache == "disk":
        if cache_dir is None:
            raise ConfigurationError("cache='disk' needs cache_dir")
        directory = Path(cache_dir)
        directory.mkdir(parents=True, exist_ok=True)
        named = None if front_end is None else str(getattr(front_end, "key", repr(front_end)))
        store = Store(directory, feature_key(cfg, max_samples, named), cfg.n_mels)
    elif mmap:
        raise ConfigurationError("mmap=True needs cache='disk' (it maps the stored array)")
    known = None if store is None else frozenset(store.spans)
    extractor = _Extractor(cfg, max_samples, known, front_end)
    # Each computed spectrogram is copied into one growing buffer as it arrives, and dropped:
    # no small long-lived tensor stays between the decoding's large short-lived buffers, so
    # the heap does not fragment (see FrameBuffer).
    fresh = FrameBuffer(cfg.n_mels)
    results: list[_Placed] = []
    count = len(dataset.files)
    workers = default_workers(count) if num_workers is None else num_workers
    for batch in map_files(
        extractor, dataset.files, num_workers=workers, files_per_batch=8, progress=progress, desc="features"
    ):
        for outcome in batch:
            reissue(outcome, stacklevel=4)
            got = outcome.value
            if got is None:
                reason = outcome.exception.reason if outcome.exception is not None else str(outcome.error)
                results.append(_Placed(outcome.index, reason, None, None))
            else:
                span = None if got.features is None else fresh.append(got.features, count - outcome.index)
                results.append(_Placed(outcome.index, None, got.digest, span))
        del batch
    failed = [
        SkippedFile(dataset.files[r.index], r.error or "could not be decoded") for r in results if r.error is not None
    ]
    used = [r for r in results if r.error is None]
    warn_skipped("extract_features", dataset.root, failed, len(results))
    targets = [dataset.targets[r.index] for r in used]
    files = [dataset.files[r.index] for r in used]
    skipped = [*dataset.skipped, *failed]

    if store is not None and used and all(r.span is None for r in used):
        # Every track is in the store: one read (or a memory map), items are views into it.
        spans = np.array([store.spans[str(r.digest)] for r in used], dtype=np.int64)
        return FeatureSet(store.load(mmap=mmap), spans, targets, files, dataset.classes, skipped)

    # Assemble the set in item order into one array of its exact size: fresh spectrograms
    # from the buffer, the unchanged ones from the store.
    stored = store.load(mmap=True) if store is not None and any(r.span is None for r in used) else None
    sources = []
    for r in used:
        if r.span is not None:
            sources.append(fresh.buffer[r.span[0] : r.span[1]])
        else:  # from the store (only with the disk cache)
            assert stored is not None
            assert store is not None
            start, stop = store.spans[str(r.digest)]
            sources.append(stored[start:stop])
    lengths = np.array([len(x) for x in sources], dtype=np.int64)
    stops = np.cumsum(lengths)
    spans = np.stack([stops - lengths, stops], axis=1) if len(used) else np.zeros((0, 2), dtype=np.int64)
    storage = torch.empty((int(stops[-1]) if len(used) else 0, cfg.n_mels), dtype=torch.float32)
    for (start, stop), source in zip(spans, sources, strict=True):
        storage[start:stop] = source
    digests = [str(r.digest) for r in used]
    del sources, stored, fresh  # the buffer is one large allocation: freeing it returns it to the system
    data = FeatureSet(storage, spans, targets, files, dataset.classes, skipped)
    if store is not None and len(data):
        store.write(data, digests)
        if mmap:
            data = FeatureSet(store.load(mmap=True), data.spans, data.targets, data.files, data.classes, data.skipped)
    return data
