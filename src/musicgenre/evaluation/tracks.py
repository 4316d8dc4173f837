"""Whole-track evaluation: every track cut into the recipe's windows, their outputs averaged.

:func:`evaluate_tracks` scores a set of tracks of a :class:`~musicgenre.data.cache.FeatureSet`
and returns :class:`TrackOutputs`; :class:`TrackTrainer` is the
:class:`~musicgenre.training.trainer.Trainer` whose validation scores whole tracks the same
way, and :func:`track_loader` the batches both read.

The windows are cut by :func:`~musicgenre.audio.windowing.cut_windows` and the model's
outputs averaged by :func:`~musicgenre.models.scoring.average_tracks`: the functions
:class:`~musicgenre.inference.GenreClassifier` calls on files, so a model's evaluated
per-track probabilities are what prediction serves (within float rounding of batching).
The recipe's :attr:`~musicgenre.recipes.Recipe.windowing` decides the windows: the
reference's ``"first"`` window only, or ``"all"`` windows covering the track.
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
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.scoring import average_tracks, score_windows
from musicgenre.models.transfer import MusicnnClassifier
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.training.trainer import Trainer

__all__ = ["TrackOutputs", "TrackTrainer", "evaluate_tracks", "track_loader"]

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


def track_loader(
    data: FeatureSet,
    indices: Indices,
    recipe: Recipe,
    tracks_per_batch: int = 8,
    *,
    windowing: Windowing | None = None,
) -> DataLoader[Any]:
    """Batches of whole tracks: ``(windows, window_weights, targets, windows_per_track)``.

    The windows are the recipe's :attr:`~musicgenre.recipes.Recipe.windowing` (or *windowing*)
    cut from each cached spectrogram by :func:`~musicgenre.audio.windowing.cut_windows`.
    """
    dataset = _TrackWindows(data, indices, recipe.front_end, windowing or recipe.windowing)
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
    model: GenreCNN | MusicnnClassifier, loader: DataLoader[Any], device: torch.device
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
    (see :func:`track_loader`); each track's probability is the mean over its windows weighted
    by their share of audio, its loss
    the negative log of that mean at the true class. With one window per track this is the
    ordinary cross-entropy.
    """

    def val_loop(self, model: nn.Module, loader: Any) -> tuple[float, float]:
        """Per-track loss and accuracy, over the tracks of every process in a distributed run."""
        if not isinstance(model, GenreCNN):
            raise ConfigurationError("TrackTrainer validates GenreCNN models")
        probs, _, targets, _, _ = _track_outputs(model, loader, self.device)
        if not targets:  # this process's shard may be empty; it still takes part in the reduction
            return self.reduce_metrics(0.0, 0, 0)
        p = torch.stack(probs)
        y = torch.tensor(targets)
        loss_sum = -torch.log(p[torch.arange(len(y)), y].clamp_min(1e-12)).sum().item()
        return self.reduce_metrics(loss_sum, int((p.argmax(1) == y).sum()), len(y))


def evaluate_tracks(
    model: GenreCNN | MusicnnClassifier,
    data: FeatureSet,
    indices: Indices,
    recipe: str | Recipe,
    *,
    device: str = "cpu",
    windowing: Windowing | None = None,
) -> TrackOutputs:
    """Predict every track in *indices* from its evaluation windows.

    Parameters
    ----------
    model
        The trained model.
    data
        The feature store (whole-track frames of the recipe's front end).
    indices
        Items of *data* to score.
    recipe
        Its front end and :attr:`~musicgenre.recipes.Recipe.windowing` decide the windows.
    device
        Where the model runs.
    windowing
        Override the recipe's windowing (a checkpoint's stored one, say).

    Returns
    -------
    TrackOutputs
        Per-track probabilities equal to what
        :meth:`GenreClassifier.predict_many <musicgenre.inference.GenreClassifier.predict_many>`
        returns for the same files with the same windowing (within float rounding).
    """
    rec = get_recipe(recipe)
    chosen = windowing or rec.windowing
    dev = torch.device(device)
    model.to(dev)
    loader = track_loader(data, indices, rec, windowing=chosen)
    probs, embs, targets, correct, total = _track_outputs(model, loader, dev)
    if not targets:
        raise ConfigurationError("no tracks to evaluate")
    return TrackOutputs(
        targets=np.asarray(targets, dtype=np.int64),
        probabilities=torch.stack(probs).numpy().astype(np.float32),
        embeddings=torch.stack(embs).numpy().astype(np.float32),
        window_correct=correct,
        window_total=total,
        windowing=chosen,
    )
