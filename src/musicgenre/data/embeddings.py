"""Window encodings: every window of every track of a feature store encoded once (a pretrained backbone's features).

:func:`embed_features` cuts each track's cached frames into a :class:`WindowEncoder`'s
windows and encodes them, in worker processes, into one store of ``(windows, dim)`` rows,
optionally kept on disk like the frames (:mod:`musicgenre.data.features`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

import torch

from musicgenre.data._store import FEATURE_VERSION, Store
from musicgenre.data.features import CacheMode, FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.parallel import default_workers, map_items

__all__ = ["WindowEncoder", "embed_features"]


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
) -> FeatureSet:
    """Encode every window of every track of *data* once (e.g. a pretrained backbone's features).

    The result is a :class:`FeatureSet` like *data* (same items, targets, files, classes)
    whose storage holds, instead of frames, one row per **window**: ``(total_windows, dim)``,
    item *i*'s windows at ``spans[i]`` in the order :meth:`WindowEncoder.windows` cuts them
    (so ``data.spectrogram(i)`` is ``(1, dim, n_windows)``).

    Parameters
    ----------
    data
        Cached frames (:func:`extract_features` with the encoder's front end).
    encoder
        Cuts and encodes the windows (picklable, for the worker processes).
    batch_size
        Windows per :meth:`WindowEncoder.encode` call.
    cache, cache_dir
        ``"disk"`` keeps the encodings in *cache_dir* (``features-<key>.npy`` and its index,
        as :func:`extract_features` does), keyed by a hash of each track's frames and by
        :attr:`WindowEncoder.key`, so a changed track or encoder is never served stale.
    progress
        tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
    num_workers
        Processes that encode tracks, one torch thread each
        (:func:`~musicgenre.parallel.map_items`; the encoder runs in each); 0 encodes in
        this process. ``None`` (default): :func:`~musicgenre.parallel.default_workers`
        for the tracks to encode. On a 2-core CPU two single-threaded workers encode
        about 1.5 times as fast as one process with two threads.
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
    rows = [results[i] for i in range(len(data))]
    out = FeatureSet.from_spectrograms(
        [r.T.unsqueeze(0) for r in rows], data.targets, data.files, data.classes, data.skipped, n_mels=encoder.dim
    )
    if store is not None and len(out):
        store.write(out, digests)
    return out
