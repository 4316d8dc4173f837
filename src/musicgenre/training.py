"""``Trainer``: a short, readable training loop with callbacks.

``Trainer(config).fit(model, train, val)`` trains with Adam and cross-entropy (the
reference's recipe) and returns a :class:`History`. Callbacks receive hooks that do
nothing by default; :class:`EarlyStopping` sets ``trainer.should_stop`` and restores a
*copy* of the best weights. (The reference keeps ``model.state_dict()`` itself, whose
tensors the optimiser keeps updating, so it silently "restores" the last epoch.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from musicgenre.errors import ConfigurationError

__all__ = [
    "Callback",
    "EarlyStopping",
    "EpochMetrics",
    "History",
    "Trainer",
    "TrainerConfig",
    "resolve_device",
]

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
DataSource = DataLoader[Any] | Dataset[Any]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is passed to :class:`torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigurationError(f"invalid device {device!r}: {exc}") from None


@dataclass(frozen=True)
class TrainerConfig:
    """Training settings; the defaults are the reference's.

    Attributes
    ----------
    lr
        Learning rate.
    batch_size
        Items per batch when the trainer builds the data loaders.
    max_epochs
        Upper bound on epochs.
    patience
        Epochs without validation-loss improvement before stopping; ``None`` disables
        the built-in early stopping.
    seed
        Seeds the shuffling and dropout, so the same seed gives the same weights on CPU.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... or ``"auto"``.
    optimizer
        ``"adam"`` (reference) or ``"adamw"``.
    weight_decay
        L2 penalty (Adam) or decoupled weight decay (AdamW).
    label_smoothing
        Cross-entropy label smoothing.
    scheduler
        ``None`` (constant lr, reference) or ``"cosine"`` (cosine decay over ``max_epochs``).
    num_workers
        Loader worker processes when the trainer builds the loaders.
    progress
        Show a tqdm bar: ``True``, ``False``, or ``None`` for only when writing to a terminal.
    """

    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 1000
    patience: int | None = 10
    seed: int = 42
    device: str = "cpu"
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    scheduler: Literal["cosine"] | None = None
    num_workers: int = 0
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.batch_size < 1 or self.max_epochs < 1:
            raise ConfigurationError(f"lr, batch_size and max_epochs must be positive: {self}")
        if self.patience is not None and self.patience < 1:
            raise ConfigurationError(f"patience must be at least 1 or None, got {self.patience}")
        if self.optimizer not in ("adam", "adamw"):
            raise ConfigurationError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.scheduler not in (None, "cosine"):
            raise ConfigurationError(f"scheduler must be None or 'cosine', got {self.scheduler!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values."""
        return asdict(self)


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


class Callback:
    """Base class of training callbacks; every hook does nothing unless overridden."""

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: EpochMetrics) -> None:
        """Called after each epoch's validation; may set ``trainer.should_stop``."""

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        """Called once after the last epoch (also after early stopping)."""


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

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: EpochMetrics) -> None:
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


class EarlyStopping(Callback):
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
        if monitor not in EpochMetrics.__dataclass_fields__:
            raise ConfigurationError(
                f"cannot monitor {monitor!r}; choose from {list(EpochMetrics.__dataclass_fields__)}"
            )
        if mode not in ("min", "max"):
            raise ConfigurationError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.best_score = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.wait = 0

    def _improved(self, score: float) -> bool:
        if self.mode == "min":
            return score < self.best_score - self.min_delta
        return score > self.best_score + self.min_delta

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, metrics: EpochMetrics) -> None:
        """Track the best score; set ``trainer.should_stop`` after *patience* epochs without improvement."""
        score = float(getattr(metrics, self.monitor))
        if math.isnan(score):
            raise ConfigurationError(
                f"EarlyStopping monitors {self.monitor!r}, which is NaN; "
                "pass validation data or monitor a training metric"
            )
        if self._improved(score):
            self.best_score = score
            self.best_epoch = metrics.epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        """Load the best weights (a copy taken at the best epoch) back into *model*."""
        if self.restore_best_weights and self.best_state is not None:
            model.load_state_dict(self.best_state)
            trainer.history.best_epoch = self.best_epoch
            logger.info("restored weights of epoch %d (%s=%.4f)", self.best_epoch, self.monitor, self.best_score)


class Trainer:
    """Train a classifier with cross-entropy, validating after every epoch.

    Parameters
    ----------
    config
        Training settings; ``None`` is the reference's (Adam 1e-3, batch 32, patience 10).
    callbacks
        Extra callbacks. When ``config.patience`` is set and no :class:`EarlyStopping` is
        given, one watching ``val_loss`` is added.

    Attributes
    ----------
    history : History
        Filled during :meth:`fit`.
    should_stop : bool
        Set by a callback to end training after the current epoch.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
    >>> model = torch.nn.Linear(4, 2)
    >>> history = Trainer(TrainerConfig(max_epochs=3, progress=False)).fit(model, TensorDataset(x, y))
    >>> len(history.epochs)
    3
    """

    def __init__(self, config: TrainerConfig | None = None, callbacks: Sequence[Callback] = ()) -> None:
        self.config = config or TrainerConfig()
        self.history = History()
        self.callbacks: list[Callback] = [self.history, *callbacks]
        if self.config.patience is not None and not any(isinstance(c, EarlyStopping) for c in callbacks):
            self.callbacks.append(EarlyStopping(patience=self.config.patience))
        self.device = resolve_device(self.config.device)
        self.should_stop = False
        self.epoch = 0

    # -- construction hooks (override to customise) -------------------------------------
    def make_loader(self, data: DataSource, *, shuffle: bool) -> DataLoader[Any]:
        """Wrap a dataset in a loader (seeded shuffling); a loader passes through unchanged."""
        if isinstance(data, DataLoader):
            return data
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(
            data,
            batch_size=self.config.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.config.num_workers,
        )

    def configure_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimiser: Adam (reference) or AdamW with ``config.lr`` and ``config.weight_decay``."""
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        return cls(model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)

    def configure_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
        """Learning-rate schedule stepped once per epoch, or ``None``."""
        if self.config.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.config.max_epochs)
        return None

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with ``config.label_smoothing``."""
        return nn.functional.cross_entropy(logits, targets, label_smoothing=self.config.label_smoothing)

    # -- the loop ----------------------------------------------------------------------
    def _batches(self, loader: Iterable[Any]) -> Iterable[Batch]:
        for inputs, targets in loader:
            yield inputs.to(self.device, non_blocking=True), torch.as_tensor(targets).to(self.device)

    def train_loop(
        self, model: nn.Module, loader: Iterable[Any], optimizer: torch.optim.Optimizer
    ) -> tuple[float, float]:
        """One pass over *loader* with gradient steps; returns (mean loss, accuracy)."""
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, targets in self._batches(loader):
            optimizer.zero_grad(set_to_none=True)
            logits = model(inputs)
            loss = self.loss(logits, targets)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total_loss += loss.item() * len(targets)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        if seen == 0:
            raise ConfigurationError("the training data is empty")
        return total_loss / seen, correct / seen

    @torch.no_grad()
    def val_loop(self, model: nn.Module, loader: Iterable[Any]) -> tuple[float, float]:
        """One pass without gradients; returns (mean plain cross-entropy, accuracy)."""
        model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, targets in self._batches(loader):
            logits = model(inputs)
            total_loss += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        if seen == 0:
            return math.nan, math.nan
        return total_loss / seen, correct / seen

    def fit(self, model: nn.Module, train: DataSource, val: DataSource | None = None) -> History:
        """Train *model* in place and return the :class:`History`.

        Parameters
        ----------
        model
            Any module mapping a batch of inputs to logits.
        train, val
            Datasets of ``(input, target)`` pairs or ready ``DataLoader`` objects.

        Returns
        -------
        History
            Per-epoch metrics; with early stopping, the model ends with the best epoch's weights.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        model.to(self.device)
        train_loader = self.make_loader(train, shuffle=True)
        val_loader = self.make_loader(val, shuffle=False) if val is not None else None
        optimizer = self.configure_optimizer(model)
        scheduler = self.configure_scheduler(optimizer)
        self.should_stop = False
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed)
            for callback in self.callbacks:
                callback.on_fit_start(self, model)
            bar = tqdm(
                range(1, cfg.max_epochs + 1),
                desc="epochs",
                unit="epoch",
                disable=None if cfg.progress is None else not cfg.progress,
            )
            for epoch in bar:
                self.epoch = epoch
                start = time.perf_counter()
                lr = float(optimizer.param_groups[0]["lr"])
                train_loss, train_acc = self.train_loop(model, train_loader, optimizer)
                val_loss, val_acc = self.val_loop(model, val_loader) if val_loader is not None else (math.nan, math.nan)
                if scheduler is not None:
                    scheduler.step()
                metrics = EpochMetrics(epoch, train_loss, train_acc, val_loss, val_acc, lr, time.perf_counter() - start)
                logger.info(
                    "epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1fs",
                    epoch,
                    train_loss,
                    train_acc,
                    val_loss,
                    val_acc,
                    metrics.seconds,
                )
                bar.set_postfix(train_loss=f"{train_loss:.3f}", val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, metrics)
                if self.should_stop:
                    self.history.stopped_early = True
                    break
            bar.close()
            for callback in self.callbacks:
                callback.on_fit_end(self, model)
        return self.history
