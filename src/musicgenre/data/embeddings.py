"""Window encodings: every window of every track of a feature store encoded once (a pretrained backbone's features).

:func:`embed_features` cuts each track's cached frames into a :class:`WindowEncoder`'s
windows and encodes them, in worker processes, into :class:`WindowEmbeddings`: one
``(windows, dim)`` array of rows, each track's windows a span of it (embeddings are not
spectrograms: no bands, no frames), optionally kept on disk like the frames
(:mod:`musicgenre.data.features`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre.data._store import FEATURE_VERSION, Store
from musicgenre.data.base import SkippedFile
from musicgenre.data.features import CacheMode, FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.parallel import default_workers, map_items

__all__ = ["WindowEmbeddings", "WindowEncoder", "embed_features"]


@dataclass(frozen=True)
class WindowEmbeddings:
    """Every window's encoding of every track: one ``(total_windows, dim)`` array, each track a span of rows.

    Attributes
    ----------
    storage
        The encodings, ``(total_windows, dim)``, tracks one after another.
    spans
        Track *i*'s windows are rows ``spans[i, 0]:spans[i, 1]`` (in the order the encoder cut them).
    targets, files, classes, skipped
        As in the :class:`~musicgenre.data.features.FeatureSet` the windows were cut from.
    track_ids
        An id per track, as :attr:`FeatureSet.track_ids <musicgenre.data.features.FeatureSet.track_ids>`.
    """

    storage: torch.Tensor
    spans: NDArray[np.int64]
    targets: list[int]
    files: list[Path]
    classes: tuple[str, ...]
    track_ids: list[str]
    skipped: list[SkippedFile] = field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Sequence[torch.Tensor], data: FeatureSet, dim: int) -> WindowEmbeddings:
        """Each track's ``(n_windows, dim)`` encodings, in *data*'s track order, as one store."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        stops = np.cumsum(lengths)
        spans = np.stack([stops - lengths, stops], axis=1) if len(rows) else np.zeros((0, 2), dtype=np.int64)
        storage = torch.cat(list(rows)).float() if rows else torch.zeros(0, dim)
        return cls(
            storage, spans, list(data.targets), list(data.files), data.classes, data.track_ids, list(data.skipped)
        )

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def dim(self) -> int:
        """The size of one window's encoding."""
        return int(self.storage.shape[1])

    def windows(self, index: int) -> torch.Tensor:
        """Track *index*'s encodings, ``(n_windows, dim)`` (a view, no copy)."""
        start, stop = self.spans[index]
        return self.storage[start:stop]


class WindowEncoder(Protocol):
    """What :func:`embed_features` needs: cut a track's cached frames into windows and encode them.

    :class:`~musicgenre.evaluation.transfer.BackboneEncoder` (a pretrained backbone) is one.
    """

    @property
    def key(self) -> str:
        """Everything that decides the encodings besides the frames (weights, layer, windows), as a string."""
        ...

    @property
    def dim(self) -> int:
        """Size of one window's encoding."""
        ...

    def windows(self, frames: torch.Tensor) -> torch.Tensor:
        """A track's ``(1, bands, frames)`` -> its model windows ``(n_windows, 1, bands, window_frames)``."""
        ...

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """A batch of windows ``(n, 1, bands, window_frames)`` -> ``(n, dim)`` encodings."""
        ...


def _frames_hash(frames: torch.Tensor) -> str:
    return hashlib.blake2b(frames.contiguous().numpy().tobytes(), digest_size=16).hexdigest()


class _Encode:
    """One track's job for :func:`~musicgenre.parallel.map_items`: its windows, encoded. Picklable."""

    def __init__(self, data: FeatureSet, encoder: WindowEncoder, batch_size: int) -> None:
        self.data = data
        self.encoder = encoder
        self.batch_size = batch_size

    def __call__(self, item: int) -> tuple[int, torch.Tensor]:
        windows = self.encoder.windows(self.data.spectrogram(item))
        with torch.inference_mode():
            encoded = torch.cat([self.encoder.encode(part) for part in torch.split(windows, self.batch_size)])
        return item, encoded.float().clone()


def embed_features(
    data: FeatureSet,
    encoder: WindowEncoder,
    *,
    batch_size: int = 64,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> WindowEmbeddings:
    """Encode every window of every track of *data* once (e.g. a pretrained backbone's features).

    The result is :class:`WindowEmbeddings` with *data*'s tracks (targets, files, classes):
    one row per **window**, ``(total_windows, dim)``, track *i*'s windows at ``spans[i]`` in
    the order :meth:`WindowEncoder.windows` cuts them (``windows(i)`` is ``(n_windows, dim)``).

    Parameters
    ----------
    data
        Cached frames (:func:`~musicgenre.data.features.extract_features` with the encoder's front end).
    encoder
        Cuts and encodes the windows (picklable, for the worker processes).
    batch_size
        Windows per :meth:`WindowEncoder.encode` call.
    cache, cache_dir
        ``"disk"`` keeps the encodings in *cache_dir* (``features-<key>.npy`` and its index,
        as :func:`~musicgenre.data.features.extract_features` does), keyed by a hash of each track's frames and by
        :attr:`WindowEncoder.key`, so a changed track or encoder is never served stale.
    progress
        tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
    num_workers
        Processes that encode tracks, one torch thread each
        (:func:`~musicgenre.parallel.map_items`; the encoder runs in each); 0 encodes in
        this process. ``None`` (default): :func:`~musicgenre.parallel.default_workers`
        for the tracks to encode.
    """
    if cache not in ("memory", "disk"):
        raise ConfigurationError(f"cache must be 'memory' or 'disk', got {cache!r}")
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    store: Store | None = None
    digests: list[str] = []
    if cache == "disk":
        if cache_dir is None:
            raise ConfigurationError("cache='disk' needs cache_dir")
        directory = Path(cache_dir)
        directory.mkdir(parents=True, exist_ok=True)
        blob = json.dumps({"v": FEATURE_VERSION, "encoder": encoder.key}, sort_keys=True)
        store = Store(directory, "emb-" + hashlib.sha256(blob.encode()).hexdigest()[:16], encoder.dim)
        digests = [_frames_hash(data.storage[a:b]) for a, b in data.spans]
    stored = store.load(mmap=True) if store is not None and store.spans else None
    results: dict[int, torch.Tensor] = {}  # item -> its (n_windows, dim) encodings
    todo: list[int] = []
    for i in range(len(data)):
        if store is not None and stored is not None and digests[i] in store.spans:
            a, b = store.spans[digests[i]]
            results[i] = stored[a:b].clone()
        else:
            todo.append(i)
    workers = default_workers(len(todo)) if num_workers is None else num_workers
    for batch in map_items(
        _Encode(data, encoder, batch_size), todo, num_workers=workers, progress=progress, desc="embeddings", unit="clip"
    ):
        results.update(batch)
    out = WindowEmbeddings.from_rows([results[i] for i in range(len(data))], data, encoder.dim)
    if store is not None and len(out):
        store.write(out, digests)
    return out
