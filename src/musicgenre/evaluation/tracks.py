"""Whole-track evaluation: every track cut into the recipe's windows, their probabilities averaged.

:func:`evaluate_tracks` scores a set of tracks of a :class:`~musicgenre.data.cache.FeatureSet`
and returns :class:`TrackOutputs`; :class:`TrackTrainer` is the
:class:`~musicgenre.training.trainer.Trainer` whose validation scores whole tracks the same
way, and :func:`track_loader` the batches both read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.utils.data import DataLoader, Dataset

from musicgenre.data.cache import FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.models.cnn import GenreCNN
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.training.trainer import Trainer

__all__ = ["TrackOutputs", "TrackTrainer", "evaluate_tracks", "track_loader"]

#: Item positions in a :class:`~musicgenre.data.cache.FeatureSet`.
Indices = Sequence[int] | NDArray[np.int64]


class _TrackWindows(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    def __init__(self, data: FeatureSet, indices: Indices, recipe: Recipe) -> None:
        self.data, self.indices, self.recipe = data, [int(i) for i in indices], recipe

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        features = self.data.spectrogram(self.indices[i])
        windows = self.recipe.eval_windows(features)
        return windows, self.recipe.window_weights(features.shape[-1]), self.data.targets[self.indices[i]]


def _collate_tracks(
    items: list[tuple[torch.Tensor, torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    windows = torch.cat([w for w, _, _ in items])
    weights = torch.cat([w for _, w, _ in items])
    targets = torch.tensor([t for _, _, t in items], dtype=torch.long)
    counts = torch.tensor([len(w) for w, _, _ in items], dtype=torch.long)
    return windows, weights, targets, counts


def track_loader(data: FeatureSet, indices: Indices, recipe: Recipe, tracks_per_batch: int = 8) -> DataLoader[Any]:
    """Batches of whole tracks: ``(windows, window_weights, targets, windows_per_track)``."""
    return DataLoader(_TrackWindows(data, indices, recipe), batch_size=tracks_per_batch, collate_fn=_collate_tracks)


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
    """

    targets: NDArray[np.int64]
    probabilities: NDArray[np.float32]
    embeddings: NDArray[np.float32]
    window_correct: int
    window_total: int

    @property
    def predicted(self) -> NDArray[np.int64]:
        """Arg-max class per track."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)

    @property
    def window_accuracy(self) -> float:
        """Accuracy of the windows on their own (per segment)."""
        return self.window_correct / self.window_total if self.window_total else math.nan


@torch.no_grad()
def _track_outputs(
    model: GenreCNN, loader: DataLoader[Any], device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int], int, int]:
    model.eval()
    probs, embs, targets, correct, total = [], [], [], 0, 0
    for windows, weights, target, counts in loader:
        features = model.forward_features(windows.to(device))
        embedding = model.forward_head(features, pre_logits=True)
        window_probs = torch.softmax(model.classifier(embedding), dim=1).cpu()
        sizes = counts.tolist()
        per_track = zip(
            torch.split(window_probs, sizes),
            torch.split(embedding.cpu(), sizes),
            torch.split(weights, sizes),
            strict=True,
        )
        for i, (p, e, w) in enumerate(per_track):
            probs.append((p * w[:, None]).sum(0) / w.sum())
            embs.append(e.mean(0))
            correct += int((p.argmax(1) == target[i]).sum())
            total += len(p)
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
        """Per-track loss and accuracy."""
        if not isinstance(model, GenreCNN):
            raise ConfigurationError("TrackTrainer validates GenreCNN models")
        probs, _, targets, _, _ = _track_outputs(model, loader, self.device)
        if not targets:
            return math.nan, math.nan
        p = torch.stack(probs)
        y = torch.tensor(targets)
        loss = -torch.log(p[torch.arange(len(y)), y].clamp_min(1e-12)).mean().item()
        return loss, float((p.argmax(1) == y).float().mean())


def evaluate_tracks(
    model: GenreCNN, data: FeatureSet, indices: Indices, recipe: str | Recipe, *, device: str = "cpu"
) -> TrackOutputs:
    """Predict every track in *indices* from all its evaluation windows."""
    rec = get_recipe(recipe)
    dev = torch.device(device)
    model.to(dev)
    probs, embs, targets, correct, total = _track_outputs(model, track_loader(data, indices, rec), dev)
    if not targets:
        raise ConfigurationError("no tracks to evaluate")
    return TrackOutputs(
        targets=np.asarray(targets, dtype=np.int64),
        probabilities=torch.stack(probs).numpy().astype(np.float32),
        embeddings=torch.stack(embs).numpy().astype(np.float32),
        window_correct=correct,
        window_total=total,
    )
