"""Whole tracks: every track cut into a recipe's windows, the model's window outputs averaged per track.

:func:`track_batches` gives batches of whole tracks of a
:class:`~musicgenre.data.cache.FeatureSet`, :func:`score_tracks` a model's per-track
:class:`TrackOutputs` over them, and :class:`TrackTrainer` is the
:class:`~musicgenre.training.trainer.Trainer` whose validation scores whole tracks the same way.

The windows are cut by :func:`~musicgenre.audio.windowing.cut_windows` and the model's
outputs averaged by :func:`~musicgenre.models.scoring.average_tracks`: the functions
:class:`~musicgenre.predict.GenreClassifier` calls on files, so a model's evaluated
per-track probabilities are what prediction serves (within float rounding of batching).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.utils.data import DataLoader, Dataset

from musicgenre.audio.windowing import FrontEnd, Windowing, cut_windows
from musicgenre.data.cache import FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.models.protocol import GenreModel
from musicgenre.models.scoring import average_tracks, score_windows
from musicgenre.training.trainer import Trainer

__all__ = ["Indices", "TrackOutputs", "TrackTrainer", "score_tracks", "track_batches"]

#: Item positions in a :class:`~musicgenre.data.cache.FeatureSet`.
Indices = Sequence[int] | NDArray[np.int64]


class _TrackWindows(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    def __init__(self, data: FeatureSet, indices: Indices, front_end: FrontEnd, windowing: Windowing) -> None:
        self.data, self.indices = data, [int(i) for i in indices]
        self.front_end, self.windowing = front_end, windowing

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        track = cut_windows(self.data.spectrogram(self.indices[i]), self.front_end, self.windowing)
        return track.windows, track.weights, self.data.targets[self.indices[i]]


def _collate_tracks(
    items: list[tuple[torch.Tensor, torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    windows = torch.cat([w for w, _, _ in items])
    weights = torch.cat([w for _, w, _ in items])
    targets = torch.tensor([t for _, _, t in items], dtype=torch.long)
    counts = torch.tensor([len(w) for w, _, _ in items], dtype=torch.long)
    return windows, weights, targets, counts


def track_batches(
    data: FeatureSet, indices: Indices, front_end: FrontEnd, windowing: Windowing, tracks_per_batch: int = 8
) -> DataLoader[Any]:
    """Batches of whole tracks: ``(windows, window_weights, targets, windows_per_track)``.

    The windows are *windowing*'s, cut from each cached spectrogram (computed by
    *front_end*) by :func:`~musicgenre.audio.windowing.cut_windows`.
    """
    dataset = _TrackWindows(data, indices, front_end, windowing)
    return DataLoader(dataset, batch_size=tracks_per_batch, collate_fn=_collate_tracks)


@dataclass(frozen=True)
class TrackOutputs:
    """A model's outputs over whole tracks (window probabilities averaged) and per-window correctness.

    Attributes
    ----------
    targets
        True label per track.
    probabilities
        Mean window probability per track, ``(tracks, classes)``.
    embeddings
        Mean window embedding per track, ``(tracks, features)``.
    window_correct, window_total
        Windows classified correctly on their own, and all windows (per-segment accuracy).
    windowing
        The windows scored (``"first"`` or ``"all"``, their hop, the averaging rule).
    """

    targets: NDArray[np.int64]
    probabilities: NDArray[np.float32]
    embeddings: NDArray[np.float32]
    window_correct: int
    window_total: int
    windowing: Windowing = field(default_factory=Windowing)

    @property
    def predicted(self) -> NDArray[np.int64]:
        """Arg-max class per track."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)

    @property
    def window_accuracy(self) -> float:
        """Accuracy of the windows on their own (per segment)."""
        return self.window_correct / self.window_total if self.window_total else math.nan


def _track_outputs(
    model: GenreModel, loader: DataLoader[Any], device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int], int, int]:
    probs: list[torch.Tensor] = []
    embs: list[torch.Tensor] = []
    targets: list[int] = []
    correct = total = 0
    dataset = loader.dataset
    mode = dataset.windowing.average if isinstance(dataset, _TrackWindows) else "probabilities"
    for windows, weights, target, counts in loader:
        scores = score_windows(model, windows, device=device, embeddings=True)
        assert scores.embeddings is not None
        sizes = counts.tolist()
        probs.extend(average_tracks(scores.logits, weights, sizes, mode))
        per_track = zip(torch.split(scores.logits, sizes), torch.split(scores.embeddings, sizes), strict=True)
        for i, (logits, e) in enumerate(per_track):
            embs.append(e.mean(0))
            correct += int((logits.argmax(1) == target[i]).sum())
            total += len(logits)
        targets.extend(target.tolist())
    return probs, embs, targets, correct, total


class TrackTrainer(Trainer):
    """A :class:`~musicgenre.training.trainer.Trainer` whose validation scores whole tracks.

    The validation loader yields ``(windows, window_weights, targets, windows_per_track)``
    (see :func:`track_batches`); each track's probability is the mean over its windows
    weighted by their share of audio, its loss the negative log of that mean at the true
    class. With one window per track this is the ordinary cross-entropy. The model is any
    :class:`~musicgenre.models.protocol.GenreModel`.
    """

    def val_loop(self, model: nn.Module, loader: Any) -> tuple[float, float]:
        """Per-track loss and accuracy, over the tracks of every process in a distributed run."""
        if not isinstance(model, GenreModel):
            raise ConfigurationError(f"TrackTrainer validates GenreModel models, not {type(model).__name__}")
        probs, _, targets, _, _ = _track_outputs(model, loader, self.device)
        if not targets:  # this process's shard may be empty; it still takes part in the reduction
            return self.reduce_metrics(0.0, 0, 0)
        p = torch.stack(probs)
        y = torch.tensor(targets)
        loss_sum = -torch.log(p[torch.arange(len(y)), y].clamp_min(1e-12)).sum().item()
        return self.reduce_metrics(loss_sum, int((p.argmax(1) == y).sum()), len(y))


def score_tracks(
    model: GenreModel,
    data: FeatureSet,
    indices: Indices,
    front_end: FrontEnd,
    windowing: Windowing,
    *,
    device: str = "cpu",
) -> TrackOutputs:
    """Predict every track in *indices* from its windows (the model runs on each window).

    Parameters
    ----------
    model
        The trained model.
    data
        The feature store (whole-track frames of *front_end*).
    indices
        Items of *data* to score.
    front_end
        The front end that computed *data*'s frames (its per-window step is applied).
    windowing
        The windows and the averaging rule.
    device
        Where the model runs.

    Returns
    -------
    TrackOutputs
        Per-track probabilities equal to what
        :meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`
        returns for the same files with the same windowing (within float rounding).
    """
    dev = torch.device(device)
    model.to(dev)
    loader = track_batches(data, indices, front_end, windowing)
    probs, embs, targets, correct, total = _track_outputs(model, loader, dev)
    if not targets:
        raise ConfigurationError("no tracks to evaluate")
    return TrackOutputs(
        targets=np.asarray(targets, dtype=np.int64),
        probabilities=torch.stack(probs).numpy().astype(np.float32),
        embeddings=torch.stack(embs).numpy().astype(np.float32),
        window_correct=correct,
        window_total=total,
        windowing=windowing,
    )
