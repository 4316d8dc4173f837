"""Augmentation in loader workers: picklable views, one random stream per (seed, epoch, item), fork and spawn."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from musicgenre.data.cache import FeatureSet
from musicgenre.models import GenreCNN
from musicgenre.recipes import IMPROVED, TrainView
from musicgenre.training import Trainer, TrainerConfig

CONTEXTS = ["fork", "spawn"]
VIEW = TrainView(n_frames=16, crop="random", gain_db=6.0, spec_augment=(0.2, 1, 1))


def _tracks(n: int, seed: int) -> FeatureSet:
    """*n* tracks of (1, 8, 48) frames: noise plus a loud band whose position is the class."""
    rng = np.random.default_rng(seed)
    spectrograms, targets = [], []
    for i in range(n):
        x = rng.normal(0.0, 1.0, size=(1, 8, 48)).astype(np.float32)
        x[:, 4 * (i % 2) : 4 * (i % 2) + 3] += 3.0
        spectrograms.append(torch.from_numpy(x))
        targets.append(i % 2)
    return FeatureSet.from_spectrograms(spectrograms, targets, [Path(f"t{i}.wav") for i in range(n)], ("a", "b"))


def _items(data: FeatureSet, **loader: object) -> list[torch.Tensor]:
    return [x[0] for x, _ in DataLoader(data, batch_size=1, **loader)]  # type: ignore[arg-type]


def test_recipe_train_views_are_picklable_objects() -> None:
    view = IMPROVED.train_view()
    copy = pickle.loads(pickle.dumps(view))
    x = torch.randn(1, 96, 300)
    assert torch.equal(copy(x, torch.Generator().manual_seed(0)), view(x, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("context", CONTEXTS)
def test_workers_draw_a_new_augmentation_for_every_item_and_epoch(context: str) -> None:
    # One track eight times: any two equal crops would mean two items shared a random stream.
    data = _tracks(1, seed=0).with_view(VIEW, [0] * 8, seed=3)
    in_process = _items(data)

    in_workers = _items(data, num_workers=2, multiprocessing_context=context)

    assert len({x.numpy().tobytes() for x in in_workers}) == 8  # items 0, 2.. (worker 0) and 1, 3.. (worker 1)
    # Each item's draws depend on (seed, epoch, item) only: the same with or without workers.
    assert all(torch.equal(a, b) for a, b in zip(in_process, in_workers, strict=True))
    data.set_epoch(1)
    assert not any(torch.equal(a, b) for a, b in zip(in_process, _items(data), strict=True))


def _train(seed: int, **loader: object) -> tuple[dict[str, torch.Tensor], FeatureSet]:
    data = _tracks(12, seed=1).with_view(VIEW, seed=seed)
    shuffled = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0), **loader)  # type: ignore[arg-type]
    model = GenreCNN(n_classes=2, n_mels=8, n_frames=16, channels=(4,), embedding_dim=8, batch_norm=True, seed=0)
    Trainer(TrainerConfig(max_epochs=2, patience=None, progress=False)).fit(model, shuffled)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, data


@pytest.fixture(scope="module")
def in_process() -> dict[str, torch.Tensor]:
    """The weights of a run without workers (seed 7)."""
    weights, data = _train(7)
    assert data.epoch == 2  # the trainer told the dataset each epoch, so epoch 2 drew anew
    assert _equal(weights, _train(7)[0])
    assert not _equal(weights, _train(8)[0])  # the seed matters
    return weights


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("context", CONTEXTS)
def test_training_with_two_workers_is_reproducible(context: str, in_process: dict[str, torch.Tensor]) -> None:
    # Two epochs with two workers give the weights of the same seed's run without workers.
    in_workers, _ = _train(7, num_workers=2, multiprocessing_context=context)
    assert _equal(in_workers, in_process)
