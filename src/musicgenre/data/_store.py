"""The feature store's disk format: one array and its index per feature setting (private).

``features-<key>.npy`` holds every track's rows (frames, or window encodings) concatenated;
``features-<key>.json`` holds its index: each track's content hash, file, id, target and
``[start, stop)`` rows, and the setting's key. :func:`~musicgenre.data.features.extract_features`
and :func:`~musicgenre.data.embeddings.embed_features` both keep their results in it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray

#: Bump when the extraction code changes its output (2: dB without the top_db floor).
FEATURE_VERSION = 2
_STORE_FORMAT = "musicgenre.features"
_STORE_VERSION = 1


class StoredSet(Protocol):
    """What the store writes: rows ``(n, width)`` and each track's span, id, file, target and the classes."""

    @property
    def storage(self) -> torch.Tensor:
        """The rows, ``(total, width)``."""
        ...

    @property
    def spans(self) -> NDArray[np.int64]:
        """Each track's ``[start, stop)`` rows."""
        ...

    @property
    def track_ids(self) -> list[str]:
        """An id per track."""
        ...

    @property
    def files(self) -> Sequence[Path]:
        """A file per track."""
        ...

    @property
    def targets(self) -> Sequence[int]:
        """A class index per track."""
        ...

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names."""
        ...


class FrameBuffer:
    """A ``(frames, n_mels)`` buffer that spectrograms are appended to as they arrive.

    It grows by reallocation (room for the clips still to come, at the length of the one
    arriving), which is rare. Its pages are only touched as they are written, so room
    reserved for clips that turn out shorter costs address space, not memory.
    """

    def __init__(self, n_mels: int) -> None:
        self.buffer = torch.empty((0, n_mels), dtype=torch.float32)
        self.used = 0

    def append(self, spectrogram: torch.Tensor, clips_left: int) -> tuple[int, int]:
        """Copy a ``(1, n_mels, frames)`` spectrogram in; return its ``[start, stop)`` rows."""
        frames = spectrogram.shape[-1]
        if self.used + frames > len(self.buffer):
            capacity = max(self.used + frames * max(1, clips_left), len(self.buffer) * 3 // 2)
            grown = torch.empty((capacity, self.buffer.shape[1]), dtype=torch.float32)
            grown[: self.used] = self.buffer[: self.used]
            self.buffer = grown
        span = (self.used, self.used + frames)
        self.buffer[span[0] : span[1]] = spectrogram.reshape(self.buffer.shape[1], frames).T
        self.used += frames
        return span


class Store:
    """The disk cache of one feature setting: ``features-<key>.npy`` and its index ``features-<key>.json``."""

    def __init__(self, directory: Path, key: str, n_mels: int) -> None:
        self.array_path = directory / f"features-{key}.npy"
        self.index_path = directory / f"features-{key}.json"
        self.key = key
        self.n_mels = n_mels
        self.spans: dict[str, tuple[int, int]] = self._read_index()

    def _read_index(self) -> dict[str, tuple[int, int]]:
        try:
            index = json.loads(self.index_path.read_text())
            if index.get("format") != _STORE_FORMAT or index.get("version") != _STORE_VERSION:
                return {}
            if index.get("feature_key") != self.key or index.get("n_mels") != self.n_mels:
                return {}
            header = np.load(self.array_path, mmap_mode="r")  # reads the header only
            if header.shape != (index["frames"], self.n_mels) or header.dtype != np.float32:
                return {}  # the array and its index disagree (an interrupted write): start afresh
            return {t["hash"]: (int(t["start"]), int(t["stop"])) for t in index["tracks"]}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def load(self, *, mmap: bool) -> torch.Tensor:
        """The stored array: read whole (one read), or memory-mapped copy-on-write."""
        array = np.load(self.array_path, mmap_mode="c" if mmap else None)
        return torch.from_numpy(array)

    def write(self, data: StoredSet, digests: Sequence[str]) -> None:
        """Replace the store with *data* (atomically per file: temporary file, then rename)."""
        suffix = f".{os.getpid()}.tmp"
        array_tmp = self.array_path.with_name(self.array_path.name + suffix + ".npy")
        index_tmp = self.index_path.with_name(self.index_path.name + suffix)
        np.save(array_tmp, data.storage.numpy())
        tracks = [
            {"id": tid, "file": str(path), "hash": digest, "target": target, "start": int(a), "stop": int(b)}
            for tid, path, digest, target, (a, b) in zip(
                data.track_ids, data.files, digests, data.targets, data.spans, strict=True
            )
        ]
        index = {
            "format": _STORE_FORMAT,
            "version": _STORE_VERSION,
            "feature_key": self.key,
            "n_mels": self.n_mels,
            "frames": int(data.storage.shape[0]),
            "classes": list(data.classes),
            "tracks": tracks,
        }
        index_tmp.write_text(json.dumps(index, indent=1) + "\n")
        array_tmp.replace(self.array_path)
        index_tmp.replace(self.index_path)
