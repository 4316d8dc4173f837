"""Trainer: it learns, stops early with the best weights, is reproducible, and calls its callbacks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from musicgenre.errors import ConfigurationError, NonFiniteLossError
from musicgenre.models import GenreCNN
from musicgenre.training import Callback, EarlyStopping, EpochMetrics, History, Trainer, TrainerConfig, TrainerState

Quiet = {"progress": False}


def _blobs(rng: np.random.Generator, n_per_class: int, spread: float = 0.6) -> TensorDataset:
    """Three well separated 2-D Gaussian clusters."""
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    x = np.concatenate([c + spread * rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return TensorDataset(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.int64)))


def _spectrogram_task(rng: np.random.Generator, n_per_class: int) -> TensorDataset:
    """Tiny log-mel-like inputs (1, 16, 16): noise around -60 dB, plus a loud band whose position is the class."""
    xs, ys = [], []
    for label, rows in enumerate((slice(1, 4), slice(6, 9), slice(11, 14))):
        x = rng.normal(-60.0, 5.0, size=(n_per_class, 1, 16, 16))
        x[:, :, rows, :] += 40.0
        xs.append(x)
        ys.append(np.full(n_per_class, label))
    x_all = (np.concatenate(xs) + 60.0) / 20.0  # roughly standardised, as a user would
    return TensorDataset(torch.from_numpy(x_all.astype(np.float32)), torch.from_numpy(np.concatenate(ys)))


def _noisy_labels(rng: np.random.Generator, n: int, flip: float) -> TensorDataset:
    """A weak signal (the sign of feature 0) with *flip* of the labels flipped: easy to overfit."""
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    flipped = rng.random(n) < flip
    y[flipped] = 1 - y[flipped]
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def _mlp(seed: int, n_in: int = 20, hidden: int = 256, n_out: int = 2) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_out))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _equal_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Snapshots(Callback):
    """Keeps a copy of the weights at the end of every epoch."""

    def __init__(self) -> None:
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        self.states[metrics.epoch] = _state(model)


# -- learning ------------------------------------------------------------------------------


def test_learns_a_separable_task(rng: np.random.Generator) -> None:
    train, val = _blobs(rng, 40), _blobs(rng, 20)
    model = nn.Linear(2, 3)

    history = Trainer(TrainerConfig(lr=0.05, batch_size=16, max_epochs=20, patience=None, progress=False)).fit(
        model, train, val
    )

    assert len(history.epochs) == 20
    assert history.epochs[-1].val_accuracy >= 0.9
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss


def test_genre_cnn_learns_band_positions(rng: np.random.Generator) -> None:
    train, val = _spectrogram_task(rng, 20), _spectrogram_task(rng, 10)
    model = GenreCNN(n_classes=3, n_mels=16, n_frames=16, channels=(4, 8), embedding_dim=16, dropout=0.1, seed=0)

    history = Trainer(TrainerConfig(lr=3e-3, batch_size=10, max_epochs=15, patience=None, progress=False)).fit(
        model, train, val
    )

    assert max(history.column("val_accuracy")) >= 0.9
    assert history.epochs[-1].val_accuracy >= 0.9


def test_epoch_metrics_are_consistent(rng: np.random.Generator) -> None:
    train, val = _blobs(rng, 10), _blobs(rng, 5)
    history = Trainer(TrainerConfig(lr=0.01, max_epochs=3, patience=None, progress=False)).fit(
        nn.Linear(2, 3), train, val
    )
    assert [m.epoch for m in history.epochs] == [1, 2, 3]
    for m in history.epochs:
        assert m.lr == pytest.approx(0.01)
        assert 0.0 <= m.train_accuracy <= 1.0
        assert 0.0 <= m.val_accuracy <= 1.0
        assert m.train_loss > 0
        assert m.val_loss > 0
        assert m.seconds >= 0
    assert history.to_dict()["epochs"][0]["epoch"] == 1


def test_accepts_ready_data_loaders(rng: np.random.Generator) -> None:
    train, val = _blobs(rng, 10), _blobs(rng, 5)
    history = Trainer(TrainerConfig(max_epochs=2, patience=None, progress=False)).fit(
        nn.Linear(2, 3), DataLoader(train, batch_size=7), DataLoader(val, batch_size=7)
    )
    assert len(history.epochs) == 2


# -- early stopping ------------------------------------------------------------------------


def test_early_stopping_restores_the_best_epochs_weights(rng: np.random.Generator) -> None:
    # 80 training items with 25 % wrong labels and a big MLP: validation loss falls, then rises.
    train, val = _noisy_labels(rng, 80, flip=0.25), _noisy_labels(rng, 200, flip=0.0)
    model = _mlp(seed=0)
    snapshots = Snapshots()
    patience, max_epochs = 4, 200

    history = Trainer(
        TrainerConfig(lr=3e-3, batch_size=8, max_epochs=max_epochs, patience=patience, progress=False),
        callbacks=[snapshots],
    ).fit(model, train, val)

    val_loss = history.column("val_loss")
    best = int(np.argmin(val_loss)) + 1
    assert history.stopped_early
    assert len(history.epochs) < max_epochs
    assert history.best_epoch == best
    assert len(history.epochs) == best + patience  # stops after `patience` epochs without improvement
    assert _equal_states(_state(model), snapshots.states[best])
    assert not _equal_states(_state(model), snapshots.states[len(history.epochs)])


def test_explicit_early_stopping_on_accuracy(rng: np.random.Generator) -> None:
    train, val = _noisy_labels(rng, 80, flip=0.25), _noisy_labels(rng, 200, flip=0.0)
    model = _mlp(seed=1)
    snapshots = Snapshots()
    stopper = EarlyStopping(monitor="val_accuracy", mode="max", patience=3)

    history = Trainer(
        TrainerConfig(lr=3e-3, batch_size=8, max_epochs=200, patience=None, progress=False),
        callbacks=[stopper, snapshots],
    ).fit(model, train, val)

    accuracy = history.column("val_accuracy")
    best = int(np.argmax(accuracy)) + 1  # the first epoch reaching the maximum
    assert history.stopped_early
    assert stopper.best_epoch == history.best_epoch == best
    assert _equal_states(_state(model), snapshots.states[best])


def test_without_patience_runs_all_epochs(rng: np.random.Generator) -> None:
    train, val = _noisy_labels(rng, 40, flip=0.3), _noisy_labels(rng, 50, flip=0.0)
    history = Trainer(TrainerConfig(lr=1e-2, batch_size=8, max_epochs=6, patience=None, progress=False)).fit(
        _mlp(seed=0), train, val
    )
    assert len(history.epochs) == 6
    assert not history.stopped_early
    assert history.best_epoch is None


def test_callback_can_stop_training(rng: np.random.Generator) -> None:
    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
            if metrics.epoch == 2:
                trainer.should_stop = True

    history = Trainer(TrainerConfig(max_epochs=10, patience=None, progress=False), callbacks=[StopAtTwo()]).fit(
        nn.Linear(2, 3), _blobs(rng, 5), _blobs(rng, 5)
    )
    assert len(history.epochs) == 2
    assert history.stopped_early


# -- reproducibility -----------------------------------------------------------------------


def _train_once(rng_seed: int, trainer_seed: int) -> dict[str, torch.Tensor]:
    data_rng = np.random.default_rng(rng_seed)
    train, val = _spectrogram_task(data_rng, 6), _spectrogram_task(data_rng, 3)
    model = GenreCNN(n_classes=3, n_mels=16, n_frames=16, channels=(4, 8), embedding_dim=16, dropout=0.5, seed=0)
    Trainer(TrainerConfig(lr=1e-3, batch_size=4, max_epochs=3, patience=None, seed=trainer_seed, progress=False)).fit(
        model, train, val
    )
    return _state(model)


def test_same_seed_gives_identical_weights_on_cpu() -> None:
    first, second = _train_once(0, trainer_seed=7), _train_once(0, trainer_seed=7)
    assert _equal_states(first, second)
    # The seed matters: other shuffling and dropout masks give other weights.
    assert not _equal_states(first, _train_once(0, trainer_seed=8))


def test_training_does_not_disturb_the_global_rng(rng: np.random.Generator) -> None:
    torch.manual_seed(99)
    before = torch.get_rng_state()
    Trainer(TrainerConfig(max_epochs=2, patience=None, progress=False)).fit(
        _mlp(seed=0, n_in=2, n_out=3), _blobs(rng, 5)
    )
    assert torch.equal(torch.get_rng_state(), before)


# -- callbacks -----------------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self, name: str, log: list[tuple[str, str, Any]]) -> None:
        self.name = name
        self.log = log

    def on_fit_start(self, trainer: TrainerState, model: nn.Module) -> None:
        self.log.append((self.name, "fit_start", None))

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        # History runs first, so this epoch is already recorded when user callbacks see it.
        assert trainer.history.epochs[-1] is metrics
        self.log.append((self.name, "epoch_end", metrics.epoch))

    def on_fit_end(self, trainer: TrainerState, model: nn.Module) -> None:
        self.log.append((self.name, "fit_end", None))


def test_callback_hooks_are_called_in_order(rng: np.random.Generator) -> None:
    log: list[tuple[str, str, Any]] = []
    trainer = Trainer(
        TrainerConfig(max_epochs=3, patience=None, progress=False), callbacks=[Recorder("a", log), Recorder("b", log)]
    )

    history = trainer.fit(nn.Linear(2, 3), _blobs(rng, 5), _blobs(rng, 5))

    assert isinstance(history, History)
    assert history is trainer.history
    assert log == [
        ("a", "fit_start", None),
        ("b", "fit_start", None),
        *[(name, "epoch_end", epoch) for epoch in (1, 2, 3) for name in ("a", "b")],
        ("a", "fit_end", None),
        ("b", "fit_end", None),
    ]


def test_base_callback_hooks_do_nothing(rng: np.random.Generator) -> None:
    history = Trainer(TrainerConfig(max_epochs=1, patience=None, progress=False), callbacks=[Callback()]).fit(
        nn.Linear(2, 3), _blobs(rng, 5)
    )
    assert len(history.epochs) == 1


# -- configuration -------------------------------------------------------------------------


def test_default_config_is_the_reference() -> None:
    config = TrainerConfig()
    assert (config.lr, config.batch_size, config.patience, config.seed, config.optimizer) == (1e-3, 32, 10, 42, "adam")
    assert config.to_dict()["lr"] == 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.0},
        {"lr": -1e-3},
        {"batch_size": 0},
        {"max_epochs": 0},
        {"patience": 0},
        {"optimizer": "sgd"},
        {"scheduler": "step"},
    ],
)
def test_invalid_trainer_config_raises(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        TrainerConfig(**kwargs)


def test_invalid_device_raises() -> None:
    with pytest.raises(ConfigurationError, match="device"):
        Trainer(TrainerConfig(device="not-a-device", progress=False))


@pytest.mark.parametrize("kwargs", [{"monitor": "val_f1"}, {"mode": "average"}])
def test_invalid_early_stopping_raises(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        EarlyStopping(**kwargs)


def test_empty_training_loader_raises() -> None:
    empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ConfigurationError, match="empty"):
        Trainer(TrainerConfig(max_epochs=1, patience=None, progress=False)).fit(nn.Linear(2, 3), DataLoader(empty))


def test_empty_training_dataset_raises() -> None:
    empty = TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ConfigurationError, match="empty"):
        Trainer(TrainerConfig(max_epochs=1, patience=None, progress=False)).fit(nn.Linear(2, 3), empty)


# -- a trainer used again, and divergence ------------------------------------------------------


def test_a_reused_trainer_starts_each_fit_afresh(rng: np.random.Generator) -> None:
    val = _noisy_labels(rng, 200, flip=0.0)
    learnable, noise = _noisy_labels(rng, 80, flip=0.1), _noisy_labels(rng, 80, flip=0.5)
    snapshots = Snapshots()
    trainer = Trainer(
        TrainerConfig(lr=3e-3, batch_size=8, max_epochs=30, patience=3, progress=False), callbacks=[snapshots]
    )

    first, second = _mlp(seed=0), _mlp(seed=1)
    history_a = trainer.fit(first, learnable, val)
    weights_a, epochs_a = _state(first), len(history_a.epochs)
    history_b = trainer.fit(second, noise, val)  # learns nothing: never reaches model A's best loss

    assert min(history_b.column("val_loss")) > min(history_a.column("val_loss"))
    assert history_b is not history_a
    assert len(history_a.epochs) == epochs_a  # model A's record is left alone
    assert history_b.best_epoch is not None
    # Model B ends with its own best weights, never with model A's.
    assert not _equal_states(_state(second), weights_a)
    assert _equal_states(_state(second), snapshots.states[history_b.best_epoch])


class _PoisonAfter(Callback):
    """Puts a NaN into the model's first weight at the end of epoch *epoch*."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        if metrics.epoch == self.epoch:
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = math.nan


def test_a_nan_training_loss_raises_naming_the_epoch_and_step(rng: np.random.Generator) -> None:
    x = torch.randn(16, 2)
    x[9, 0] = math.nan  # unshuffled batches of 4: item 9 is in step 3
    loader = DataLoader(TensorDataset(x, torch.zeros(16, dtype=torch.int64)), batch_size=4)

    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 3") as caught:
        Trainer(TrainerConfig(max_epochs=3, patience=None, progress=False)).fit(nn.Linear(2, 3), loader)
    assert (caught.value.epoch, caught.value.step) == (1, 3)

    # Weights that diverge after epoch 2 give a NaN loss at epoch 3's first step.
    trainer = Trainer(TrainerConfig(max_epochs=5, patience=None, progress=False), callbacks=[_PoisonAfter(2)])
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, step 1"):
        trainer.fit(nn.Linear(2, 3), _blobs(rng, 5))


def test_a_nan_validation_loss_raises_naming_the_epoch(rng: np.random.Generator) -> None:
    class NanWhenEvaluated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(2, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.linear(x)
            return logits if self.training else logits * math.nan

    trainer = Trainer(TrainerConfig(max_epochs=5, patience=3, progress=False))
    with pytest.raises(NonFiniteLossError, match=r"validation loss after epoch 1 is nan") as caught:
        trainer.fit(NanWhenEvaluated(), _blobs(rng, 5), _blobs(rng, 5))
    assert (caught.value.epoch, caught.value.step) == (1, None)
    assert not isinstance(caught.value, ConfigurationError)  # not "pass validation data"
