"""Checkpointing while training, and resuming: an interrupted run ends exactly like a straight one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import TensorDataset

from musicgenre.audio.windowing import Windowing
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import PartRecord, load_checkpoint, save_checkpoint
from musicgenre.training import (
    Callback,
    EarlyStopping,
    EpochMetrics,
    History,
    ModelCheckpoint,
    Trainer,
    TrainerConfig,
    TrainerState,
)

CLASSES = ("a", "b", "c")
EPOCHS = 6


class _InterruptedError(Exception):
    pass


class _CrashAt(Callback):
    """Raises during the epoch-end hooks of *epoch*, before that epoch is checkpointed (a crash)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, trainer: TrainerState, model: torch.nn.Module, metrics: EpochMetrics) -> None:
        if metrics.epoch == self.epoch:
            raise _InterruptedError


def _data(seed: int, n: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % len(CLASSES)
    inputs = torch.randn(n, 1, 16, 24, generator=gen) + targets.view(-1, 1, 1, 1) * 0.3
    return TensorDataset(inputs, targets)


def _model() -> GenreCNN:
    return GenreCNN(n_classes=3, n_mels=16, n_frames=24, channels=(4, 8), embedding_dim=16, global_pool=True, seed=1)


def _config(**overrides: Any) -> TrainerConfig:
    # Cosine schedule, dropout, shuffling and patience: every piece of state matters.
    values: dict[str, Any] = {
        "max_epochs": EPOCHS,
        "batch_size": 8,
        "lr": 3e-3,
        "patience": 3,
        "scheduler": "cosine",
        "seed": 7,
        "progress": False,
    }
    return TrainerConfig(**{**values, **overrides})


def _rows(history: History) -> list[dict[str, float]]:
    # Everything but wall time must match.
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.to_dict()["epochs"]]


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


@pytest.fixture(scope="module")
def straight() -> tuple[GenreCNN, History]:
    model = _model()
    history = Trainer(_config()).fit(model, _data(0, 48), _data(1, 24))
    return model, history


@pytest.mark.parametrize("crash_at", [2, 4])
def test_resumed_run_equals_uninterrupted_run(
    tmp_path: Path, straight: tuple[GenreCNN, History], crash_at: int
) -> None:
    first = Trainer(_config(), callbacks=[_CrashAt(crash_at), ModelCheckpoint(tmp_path, classes=CLASSES)])
    with pytest.raises(_InterruptedError):
        first.fit(_model(), _data(0, 48), _data(1, 24))
    assert load_checkpoint(tmp_path / "last.ckpt").extra["trainer"]["epoch"] == crash_at - 1

    model = GenreCNN(n_classes=3, n_mels=16, n_frames=24, channels=(4, 8), embedding_dim=16, global_pool=True, seed=99)
    resumed = Trainer(_config(), callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES)])
    history = resumed.fit(model, _data(0, 48), _data(1, 24), resume_from=tmp_path / "last.ckpt")

    straight_model, straight_history = straight
    _assert_same_weights(model, straight_model)
    assert _rows(history) == _rows(straight_history)
    assert (history.best_epoch, history.stopped_early) == (straight_history.best_epoch, straight_history.stopped_early)


def test_model_checkpoint_writes_best_and_last(tmp_path: Path, straight: tuple[GenreCNN, History]) -> None:
    model = _model()
    callback = ModelCheckpoint(tmp_path / "run", classes=CLASSES)
    history = Trainer(_config(), callbacks=[callback]).fit(model, _data(0, 48), _data(1, 24))

    best = load_checkpoint(callback.best_path)
    val_losses = history.column("val_loss")
    assert best.metrics["epoch"] == callback.best_epoch == history.best_epoch
    assert best.metrics["val_loss"] == pytest.approx(min(val_losses))
    assert best.classes == list(CLASSES)
    assert "trainer" not in best.extra  # the deployable model carries no optimiser state
    _assert_same_weights(best.model, model)  # early stopping restored the same best epoch

    last = load_checkpoint(callback.last_path)
    assert last.metrics["epoch"] == len(history.epochs)
    state = last.extra["trainer"]
    assert state["epoch"] == len(history.epochs)
    assert state["callbacks"]["ModelCheckpoint"]["best_epoch"] == callback.best_epoch
    assert isinstance(state["rng"]["torch"], torch.Tensor)


def test_resuming_a_finished_run_trains_no_more(tmp_path: Path) -> None:
    def stopper() -> EarlyStopping:  # no later epoch beats the first by 10: stops after epoch 3
        return EarlyStopping(patience=2, min_delta=10.0)

    model = _model()
    callbacks = [stopper(), ModelCheckpoint(tmp_path, classes=CLASSES)]
    history = Trainer(_config(), callbacks=callbacks).fit(model, _data(0, 48), _data(1, 24))
    assert history.stopped_early
    assert len(history.epochs) == 3

    again = _model()
    resumed = Trainer(_config(), callbacks=[stopper()]).fit(
        again, _data(0, 48), _data(1, 24), resume_from=tmp_path / "last.ckpt"
    )
    assert len(resumed.epochs) == 3
    assert resumed.stopped_early
    assert resumed.best_epoch == history.best_epoch
    _assert_same_weights(again, model)


def test_resume_needs_trainer_state(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "plain.ckpt", _model(), classes=CLASSES)
    with pytest.raises(CheckpointError, match="no trainer state"):
        Trainer(_config()).fit(_model(), _data(0, 48), _data(1, 24), resume_from=path)


def test_resume_refuses_another_scheduler(tmp_path: Path) -> None:
    Trainer(_config(max_epochs=1), callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES)]).fit(
        _model(), _data(0, 48), _data(1, 24)
    )
    with pytest.raises(CheckpointError, match="different scheduler"):
        Trainer(_config(scheduler=None)).fit(_model(), _data(0, 48), _data(1, 24), resume_from=tmp_path / "last.ckpt")


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    Trainer(_config(max_epochs=1), callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES)]).fit(
        _model(), _data(0, 48), _data(1, 24)
    )
    other = GenreCNN(n_classes=3, n_mels=16, n_frames=24, channels=(4, 8, 8), global_pool=True)
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer(_config()).fit(other, _data(0, 48), _data(1, 24), resume_from=tmp_path / "last.ckpt")


def test_model_checkpoint_checks_model_and_classes(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GenreModel"):
        Trainer(_config(), callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES)]).fit(
            torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 24, 3)), _data(0, 48), _data(1, 24)
        )
    with pytest.raises(ConfigurationError, match="2 class names"):
        Trainer(_config(), callbacks=[ModelCheckpoint(tmp_path, classes=("a", "b"))]).fit(
            _model(), _data(0, 48), _data(1, 24)
        )
    assert not any(tmp_path.iterdir())


def test_model_checkpoint_needs_the_monitored_metric(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="NaN"):
        Trainer(_config(patience=None), callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES)]).fit(
            _model(), _data(0, 48)
        )
    history = Trainer(
        _config(patience=None, max_epochs=2),
        callbacks=[ModelCheckpoint(tmp_path, classes=CLASSES, monitor="train_accuracy", mode="max")],
    ).fit(_model(), _data(0, 48))
    assert all(math.isnan(v) for v in history.column("val_loss"))
    assert (tmp_path / "best.ckpt").is_file()


def test_checkpoint_callbacks_run_last(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(tmp_path, classes=CLASSES)
    crash = _CrashAt(1)
    trainer = Trainer(_config(), callbacks=[checkpoint, crash])
    assert trainer.callbacks[-1] is checkpoint
    assert trainer.callbacks.index(crash) < trainer.callbacks.index(checkpoint)


def test_model_checkpoint_files_remember_windows_and_parts(tmp_path: Path) -> None:
    # Checkpoints written during training must be as evaluable as the experiment's own model.ckpt.
    parts = {
        "train": PartRecord(("blues.00000",), ("h0",), ("blues",)),
        "test": PartRecord(("jazz.00001", "rock.00002"), ("h1", "h2"), ("jazz", "rock")),
    }
    windowing = Windowing("all", 64, "logits")
    callback = ModelCheckpoint(tmp_path, classes=CLASSES, windowing=windowing, parts=parts)
    Trainer(_config(max_epochs=2), callbacks=[callback]).fit(_model(), _data(0, 32), _data(1, 16))
    for path in (callback.best_path, callback.last_path):
        checkpoint = load_checkpoint(path)
        assert checkpoint.windowing == windowing
        assert checkpoint.parts == parts


def test_track_trainer_and_model_checkpoint_take_any_genre_model(tmp_path: Path) -> None:
    """Not only GenreCNN: a backbone-plus-head model trains, validates per track and is checkpointed."""
    from musicgenre.data.cache import FeatureSet
    from musicgenre.models import MusicnnClassifier, MusicnnClassifierConfig
    from musicgenre.training.tracks import TrackTrainer, track_batches

    model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=3), seed=0)
    gen = torch.Generator().manual_seed(0)
    frames = [torch.rand(1, 96, 187, generator=gen) * 3 + t for t in (0, 1, 2, 0, 1, 2)]
    data = FeatureSet.from_spectrograms(frames, [0, 1, 2, 0, 1, 2], [Path(f"{i}.wav") for i in range(6)], CLASSES)
    windowing = Windowing("all", 187, "logits")
    callback = ModelCheckpoint(tmp_path, classes=CLASSES, windowing=windowing)
    trainer = TrackTrainer(_config(max_epochs=1, patience=None, batch_size=3), [callback])
    history = trainer.fit(model, data, track_batches(data, [3, 4, 5], model.front_end(), windowing))
    assert len(history.epochs) == 1
    assert math.isfinite(history.epochs[0].val_loss)
    loaded = load_checkpoint(callback.best_path)
    assert isinstance(loaded.model, MusicnnClassifier)
    assert loaded.windowing == windowing
