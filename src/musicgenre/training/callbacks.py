"""Training callbacks: the hooks :class:`~musicgenre.training.trainer.Trainer` calls, and the ones it ships.

:class:`History` records every epoch's :class:`EpochMetrics` (the loss curves);
:class:`EarlyStopping` sets ``trainer.should_stop`` and restores a *copy* of the best
weights (the reference keeps ``model.state_dict()`` itself, whose tensors the optimiser
keeps updating, so it silently "restores" the last epoch); :class:`ModelCheckpoint`
writes ``best.ckpt`` and ``last.ckpt`` as it trains, the latter resumable with
``Trainer.fit(..., resume_from=...)``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch import nn

from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import Windowing
from musicgenre.errors import ConfigurationError
from musicgenre.models.checkpoint import PartRecord, save_checkpoint
from musicgenre.models.protocol import GenreModel

__all__ = ["Callback", "EarlyStopping", "EpochMetrics", "History", "ModelCheckpoint", "TrainerState"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochMetrics:
    """What one epoch measured.

    Attributes
    ----------
    epoch
        1-based epoch number.
    train_loss, train_accuracy
        Mean loss and accuracy over the training items (with dropout active).
    val_loss, val_accuracy
        The same on the validation set, or NaN without one.
    lr
        Learning rate used in the epoch.
    seconds
        Wall time of the epoch.
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


class TrainerState(Protocol):
    """What a callback sees of the trainer that calls it (:class:`~musicgenre.training.trainer.Trainer` is one).

    A protocol rather than the class itself, so the callbacks need not import the trainer
    that imports them.
    """

    #: Set to ``True`` to stop after the current epoch.
    should_stop: bool

    @property
    def history(self) -> History:
        """The metrics of every epoch so far."""

    @property
    def device(self) -> torch.device:
        """Where the model trains."""

    @property
    def rank(self) -> int:
        """The rank of this process in data-parallel training (0 alone)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs: optimiser, scheduler, epoch, generators..."""


class Callback:
    """Base class of training callbacks; every hook does nothing unless overridden.

    A callback with state that a resumed run needs (counters, best scores) returns it from
    :meth:`state_dict` as plain values and tensors and takes it back in :meth:`load_state_dict`.
    A callback with state resets it in :meth:`on_fit_start`, so that a trainer used for
    several models starts each one afresh.
    """

    def on_fit_start(self, trainer: TrainerState, model: nn.Module) -> None:
        """Called once before the first epoch (before a resumed state is loaded): reset per-fit state here."""

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        """Called after each epoch's validation; may set ``trainer.should_stop``."""

    def on_fit_end(self, trainer: TrainerState, model: nn.Module) -> None:
        """Called once after the last epoch (also after early stopping)."""

    def state_dict(self) -> dict[str, Any]:
        """State to store in a resumable checkpoint (plain values and tensors only)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned."""


class History(Callback):
    """Records every epoch's :class:`EpochMetrics` (the loss curves).

    Attributes
    ----------
    epochs : list of EpochMetrics
        One entry per finished epoch.
    best_epoch : int or None
        Epoch whose weights the model holds at the end (set by :class:`EarlyStopping`).
    stopped_early : bool
        Whether training stopped before ``max_epochs``.
    """

    def __init__(self) -> None:
        self.epochs: list[EpochMetrics] = []
        self.best_epoch: int | None = None
        self.stopped_early = False

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        """Append *metrics*."""
        self.epochs.append(metrics)

    def column(self, name: str) -> list[float]:
        """One metric across epochs, e.g. ``history.column("val_loss")``."""
        return [float(getattr(m, name)) for m in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: the per-epoch rows, the best epoch and whether it stopped early."""
        return {
            "epochs": [asdict(m) for m in self.epochs],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
        }

    def state_dict(self) -> dict[str, Any]:
        """The same as :meth:`to_dict`."""
        return self.to_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the epochs recorded before a checkpoint."""
        self.epochs = [EpochMetrics(**row) for row in state["epochs"]]
        self.best_epoch = state["best_epoch"]
        self.stopped_early = bool(state["stopped_early"])


class _MonitorCallback(Callback):
    """Shared by callbacks that watch one metric for its best value."""

    def __init__(self, monitor: str, mode: Literal["min", "max"], min_delta: float) -> None:
        if monitor not in EpochMetrics.__dataclass_fields__:
            raise ConfigurationError(
                f"cannot monitor {monitor!r}; choose from {list(EpochMetrics.__dataclass_fields__)}"
            )
        if mode not in ("min", "max"):
            raise ConfigurationError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = min_delta
        self.best_score = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def on_fit_start(self, trainer: TrainerState, model: nn.Module) -> None:
        """Forget the best score of any earlier fit."""
        self.best_score = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def _score(self, metrics: EpochMetrics) -> float:
        score = float(getattr(metrics, self.monitor))
        if math.isnan(score):
            raise ConfigurationError(
                f"{type(self).__name__} monitors {self.monitor!r}, which is NaN; "
                "pass validation data or monitor a training metric"
            )
        return score

    def _improved(self, score: float) -> bool:
        if self.mode == "min":
            return score < self.best_score - self.min_delta
        return score > self.best_score + self.min_delta

    def state_dict(self) -> dict[str, Any]:
        """The best score and its epoch."""
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the best score and its epoch."""
        self.best_score = float(state["best_score"])
        self.best_epoch = state["best_epoch"]


class EarlyStopping(_MonitorCallback):
    """Stop when a metric stops improving, and restore a copy of the best weights.

    Parameters
    ----------
    monitor
        Field of :class:`EpochMetrics` to watch.
    mode
        ``"min"`` (losses) or ``"max"`` (accuracies).
    patience
        Epochs without improvement before stopping.
    min_delta
        Smallest change that counts as an improvement.
    restore_best_weights
        Load the best epoch's weights into the model when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: Literal["min", "max"] = "min",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0

    def on_fit_start(self, trainer: TrainerState, model: nn.Module) -> None:
        """Forget the best score, weights and waiting of any earlier fit (another model's weights)."""
        super().on_fit_start(trainer, model)
        self.best_state = None
        self.wait = 0

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        """Track the best score; set ``trainer.should_stop`` after *patience* epochs without improvement."""
        score = self._score(metrics)
        if self._improved(score):
            self.best_score = score
            self.best_epoch = metrics.epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer: TrainerState, model: nn.Module) -> None:
        """Load the best weights (a copy taken at the best epoch) back into *model*."""
        if self.restore_best_weights and self.best_state is not None:
            model.load_state_dict(self.best_state)
            trainer.history.best_epoch = self.best_epoch
            logger.info("restored weights of epoch %d (%s=%.4f)", self.best_epoch, self.monitor, self.best_score)

    def state_dict(self) -> dict[str, Any]:
        """Best score and epoch, epochs waited, and the copy of the best weights."""
        return {**super().state_dict(), "wait": self.wait, "best_state": self.best_state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        self.wait = int(state["wait"])
        self.best_state = state["best_state"]


class ModelCheckpoint(_MonitorCallback):
    """Write the best model to ``dirpath/best.ckpt`` and, after every epoch, ``dirpath/last.ckpt``.

    Both go through :func:`~musicgenre.models.checkpoint.save_checkpoint` (atomic: a crash never
    leaves a half-written file) and load with :func:`~musicgenre.models.checkpoint.load_checkpoint`
    or :meth:`GenreClassifier.from_checkpoint <musicgenre.predict.GenreClassifier.from_checkpoint>`.
    ``best.ckpt`` holds the model only; ``last.ckpt`` also holds the trainer's state (optimiser,
    scheduler, epoch, history, callbacks, random generators) for ``Trainer.fit(..., resume_from=...)``.
    The trainer runs checkpoint callbacks after all others, so that state includes their
    updates for the epoch.

    Parameters
    ----------
    dirpath
        Folder for the two files (created if needed).
    classes
        Label names in the model's output order.
    features
        Feature settings of the training data (default: the reference's).
    monitor, mode, min_delta
        Which :class:`EpochMetrics` field decides "best", as for :class:`EarlyStopping`.
    save_last
        Also write ``last.ckpt`` after every epoch.
    windowing, parts
        The windows the model is evaluated with and the split's parts (track ids, content
        hashes, labels), stored in both files as
        :func:`~musicgenre.models.checkpoint.save_checkpoint` stores them: so that
        ``musicgenre evaluate`` scores the stored test part and prediction serves the
        recipe's windows, as for the experiment's own ``model.ckpt``.

    Attributes
    ----------
    best_path, last_path : pathlib.Path
        The files written.
    best_score : float
        Best value of the monitored metric so far.
    best_epoch : int or None
        Epoch of :attr:`best_path`.
    """

    def __init__(
        self,
        dirpath: str | os.PathLike[str],
        *,
        classes: Sequence[str],
        features: FeatureConfig | None = None,
        monitor: str = "val_loss",
        mode: Literal["min", "max"] = "min",
        min_delta: float = 0.0,
        save_last: bool = True,
        windowing: Windowing | None = None,
        parts: Mapping[str, PartRecord] | None = None,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        self.dirpath = Path(dirpath)
        self.classes = tuple(classes)
        self.features = features
        self.save_last = save_last
        self.windowing = windowing
        self.parts = dict(parts) if parts is not None else None

    @property
    def best_path(self) -> Path:
        """``dirpath / "best.ckpt"``."""
        return self.dirpath / "best.ckpt"

    @property
    def last_path(self) -> Path:
        """``dirpath / "last.ckpt"``."""
        return self.dirpath / "last.ckpt"

    def _model(self, model: nn.Module) -> GenreModel:
        if not isinstance(model, GenreModel):
            raise ConfigurationError(
                f"ModelCheckpoint saves genre models (musicgenre.models.GenreModel), not {type(model).__name__}"
            )
        return model

    def on_fit_start(self, trainer: TrainerState, model: nn.Module) -> None:
        """Forget the best score of any earlier fit; check that *model* can be saved, before any epoch is spent."""
        super().on_fit_start(trainer, model)
        outputs = self._model(model).num_classes
        if outputs != len(self.classes):
            raise ConfigurationError(
                f"ModelCheckpoint has {len(self.classes)} class names for a model with {outputs} outputs"
            )

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        """Save ``best.ckpt`` if the monitored metric improved, and ``last.ckpt`` with the trainer state.

        In a distributed run only rank 0 writes (all ranks hold the same weights).
        """
        score = self._score(metrics)
        values = asdict(metrics)
        improved = self._improved(score)
        if improved:
            self.best_score, self.best_epoch = score, metrics.epoch
        if trainer.rank != 0:
            return
        if improved:
            save_checkpoint(
                self.best_path,
                self._model(model),
                classes=self.classes,
                features=self.features,
                metrics=values,
                windowing=self.windowing,
                parts=self.parts,
            )
        if self.save_last:
            save_checkpoint(
                self.last_path,
                self._model(model),
                classes=self.classes,
                features=self.features,
                metrics=values,
                extra={"trainer": trainer.state_dict()},
                windowing=self.windowing,
                parts=self.parts,
            )
