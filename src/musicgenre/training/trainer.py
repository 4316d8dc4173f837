"""``Trainer``: the training loop, with callbacks.

``Trainer(config).fit(model, train, val)`` trains with Adam and cross-entropy (the
reference's recipe) and returns a :class:`~musicgenre.training.callbacks.History`.
Callbacks (:mod:`musicgenre.training.callbacks`) receive hooks that do nothing by
default; :class:`~musicgenre.training.callbacks.EarlyStopping` sets
``trainer.should_stop`` and restores a copy of the best weights, and
:class:`~musicgenre.training.callbacks.ModelCheckpoint` writes ``best.ckpt`` and
``last.ckpt`` as it trains: ``fit(..., resume_from="last.ckpt")`` carries on from the last
one exactly where it stopped.

Under ``torchrun --nproc_per_node=N`` the same ``fit`` call trains with
``DistributedDataParallel`` (gloo on CPU, NCCL on GPU; see
:mod:`musicgenre.training.distributed`): each process trains on its shard of the training
set and validates its shard of the validation set, with rank 0's batch-norm statistics;
the metrics are summed over all processes, so every process sees the same numbers (those
of one process reading everything), its callbacks take the same decisions, and rank 0's
``should_stop`` ends training on all of them in the same epoch. Only rank 0 logs, shows
progress and writes checkpoints.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from musicgenre._progress import progress_bar
from musicgenre.device import resolve_device
from musicgenre.errors import CheckpointError, ConfigurationError, NonFiniteLossError
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.training.callbacks import Callback, EarlyStopping, EpochMetrics, History, ModelCheckpoint
from musicgenre.training.distributed import (
    ShardSampler,
    all_reduce_sums,
    broadcast_buffers,
    broadcast_flag,
    distributed_info,
    shard_loader,
)

__all__ = ["Trainer", "TrainerConfig"]

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]
DataSource = DataLoader[Any] | Dataset[Any]


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
        Show a tqdm bar: ``True``, ``False``, or ``None`` for only when writing to a terminal
        (never where ``sys.stderr`` is ``None``).
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


class Trainer:
    """Train a classifier with cross-entropy, validating after every epoch.

    Parameters
    ----------
    config
        Training settings; ``None`` is the reference's (Adam 1e-3, batch 32, patience 10).
    callbacks
        Extra callbacks. When ``config.patience`` is set and no :class:`EarlyStopping` is
        given, one watching ``val_loss`` is added. :class:`ModelCheckpoint` callbacks run
        after all others. Each :meth:`fit` starts them afresh (``on_fit_start`` resets
        their state), so one trainer can train several models.

    Attributes
    ----------
    history : History
        A new one for each :meth:`fit`, filled during it.
    should_stop : bool
        Set by a callback to end training after the current epoch.
    epoch : int
        The current (during :meth:`fit`) or last finished epoch, 1-based.

    Examples
    --------
    >>> from torch.utils.data import TensorDataset
    >>> x = torch.randn(64, 4); y = (x[:, 0] > 0).long()
    >>> model = torch.nn.Linear(4, 2)
    >>> history = Trainer(TrainerConfig(max_epochs=3, patience=None, progress=False)).fit(model, TensorDataset(x, y))
    >>> len(history.epochs)
    3
    """

    def __init__(self, config: TrainerConfig | None = None, callbacks: Sequence[Callback] = ()) -> None:
        self.config = config or TrainerConfig()
        self.history = History()
        extra = list(callbacks)
        if self.config.patience is not None and not any(isinstance(c, EarlyStopping) for c in callbacks):
            extra.append(EarlyStopping(patience=self.config.patience))
        # Checkpoints run last, so that what they save includes the other callbacks'
        # updates for the epoch (Lightning orders them the same way).
        checkpoints = [c for c in extra if isinstance(c, ModelCheckpoint)]
        self.callbacks: list[Callback] = [self.history, *(c for c in extra if c not in checkpoints), *checkpoints]
        self.rank, self.world_size = distributed_info()
        self.device = resolve_device(self.config.device)
        if self.world_size > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        self.should_stop = False
        self.epoch = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._loaders: tuple[DataLoader[Any] | None, ...] = ()

    # -- construction hooks (override to customise) -------------------------------------
    def make_loader(self, data: DataSource, *, shuffle: bool) -> DataLoader[Any]:
        """Wrap a dataset in a loader (seeded shuffling); a loader passes through unchanged.

        In a distributed run, a shuffled (training) dataset is sharded across the processes
        with a seeded ``DistributedSampler``, and a validation dataset or in-order loader
        with a :class:`~musicgenre.training.distributed.ShardSampler` (no item twice).

        Raises
        ------
        ConfigurationError
            If the data is empty; in a distributed run, if a training loader has no
            ``DistributedSampler`` (every process would train on all of it); if a loader
            keeps persistent workers for a dataset that draws anew each epoch (``set_epoch``).
        """
        if isinstance(data, DataLoader):
            return self._check_loader(data, shuffle=shuffle)
        if len(data) == 0:  # type: ignore[arg-type]
            raise ConfigurationError("the training data is empty" if shuffle else "the validation data is empty")
        if self.world_size > 1:
            sampler: Sampler[int] = (
                DistributedSampler(data, shuffle=True, seed=self.config.seed)
                if shuffle
                else ShardSampler(len(data), self.rank, self.world_size)  # type: ignore[arg-type]
            )
            return DataLoader(
                data, batch_size=self.config.batch_size, sampler=sampler, num_workers=self.config.num_workers
            )
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(
            data,
            batch_size=self.config.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.config.num_workers,
        )

    def _check_loader(self, loader: DataLoader[Any], *, shuffle: bool) -> DataLoader[Any]:
        if loader.persistent_workers and callable(getattr(loader.dataset, "set_epoch", None)):
            raise ConfigurationError(
                "a DataLoader with persistent_workers=True keeps the first epoch's copy of its dataset in the "
                "workers, so a dataset that draws anew each epoch (it has set_epoch) would repeat epoch 0's "
                "augmentation; build the loader without persistent_workers"
            )
        if self.world_size == 1:
            return loader
        if not shuffle:
            return shard_loader(loader, self.rank, self.world_size)
        if _distributed_sampler(loader) is None:
            raise ConfigurationError(
                f"in a distributed run (world size {self.world_size}) a training DataLoader needs a "
                "DistributedSampler, or every process trains on all of it; pass the dataset instead (the "
                "trainer shards it) or build the loader with sampler=DistributedSampler(dataset, seed=...)"
            )
        return loader

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

    def reduce_metrics(self, loss_sum: float, correct: int, count: int) -> tuple[float, float]:
        """``(mean loss, accuracy)`` from this process's sums, added up over all processes first.

        Every process gets the same result, that of one process reading every shard; NaN
        for both when there are no items.
        """
        totals = [loss_sum, correct, count]
        if self.world_size > 1:
            totals = all_reduce_sums(*totals, device=self.device)
        total_loss, total_correct, total_count = totals
        if total_count == 0:
            return math.nan, math.nan
        return total_loss / total_count, total_correct / total_count

    def train_loop(
        self, model: nn.Module, loader: Iterable[Any], optimizer: torch.optim.Optimizer
    ) -> tuple[float, float]:
        """One pass over *loader* with gradient steps; returns (mean loss, accuracy) over all processes.

        Raises
        ------
        NonFiniteLossError
            If a batch's loss is NaN or infinite (before its gradient step).
        """
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for step, (inputs, targets) in enumerate(self._batches(loader), start=1):
            optimizer.zero_grad(set_to_none=True)
            logits = model(inputs)
            loss = self.loss(logits, targets)
            value = loss.item()
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"the training loss is {value} at epoch {self.epoch}, step {step}: the model diverged or a "
                    "batch holds NaN/Inf; check the inputs, or lower the learning rate",
                    epoch=self.epoch,
                    step=step,
                )
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total_loss += value * len(targets)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        mean_loss, accuracy = self.reduce_metrics(total_loss, correct, seen)
        if math.isnan(accuracy):
            raise ConfigurationError("the training data is empty")
        return mean_loss, accuracy

    @torch.no_grad()
    def val_loop(self, model: nn.Module, loader: Iterable[Any]) -> tuple[float, float]:
        """One pass without gradients; returns (mean plain cross-entropy, accuracy) over all processes."""
        model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, targets in self._batches(loader):
            logits = model(inputs)
            total_loss += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(targets)
        return self.reduce_metrics(total_loss, correct, seen)

    def _run_epoch(
        self,
        model: nn.Module,
        wrapped: nn.Module,
        train: DataLoader[Any],
        val: DataLoader[Any] | None,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    ) -> EpochMetrics:
        start = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        _set_epoch(train, self.epoch)
        train_loss, train_acc = self.train_loop(wrapped, train, optimizer)
        if self.world_size > 1:  # rank 0's batch-norm statistics everywhere: one model, validated and kept
            broadcast_buffers(model)
        val_loss, val_acc = self.val_loop(model, val) if val is not None else (math.nan, math.nan)
        if val is not None and not math.isfinite(val_loss):
            raise NonFiniteLossError(
                f"the validation loss after epoch {self.epoch} is {val_loss}: the model's outputs are not finite "
                "(it diverged) or the validation data holds NaN/Inf",
                epoch=self.epoch,
            )
        if scheduler is not None:
            scheduler.step()
        metrics = EpochMetrics(self.epoch, train_loss, train_acc, val_loss, val_acc, lr, time.perf_counter() - start)
        if self.rank == 0:
            logger.info(
                "epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1fs",
                self.epoch,
                train_loss,
                train_acc,
                val_loss,
                val_acc,
                metrics.seconds,
            )
        return metrics

    def fit(
        self,
        model: nn.Module,
        train: DataSource,
        val: DataSource | None = None,
        *,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> History:
        """Train *model* in place and return the :class:`History`.

        Parameters
        ----------
        model
            Any module mapping a batch of inputs to logits.
        train, val
            Datasets of ``(input, target)`` pairs or ready ``DataLoader`` objects.
        resume_from
            A ``last.ckpt`` written by :class:`ModelCheckpoint`: load the model's weights and
            the trainer's state, and go on with the epoch after it. With the same data, seed
            and settings, the result on CPU equals that of a run never interrupted. (Random
            generators of your own, e.g. in a dataset's transform, are not part of that state;
            a ``FeatureSet`` with a seeded view draws from ``(seed, epoch, item)`` and needs none.)

        Returns
        -------
        History
            Per-epoch metrics; with early stopping, the model ends with the best epoch's weights.

        Raises
        ------
        CheckpointError
            If *resume_from* is unreadable, holds no trainer state, or does not fit *model*
            and this trainer's settings.
        NonFiniteLossError
            If the training or the validation loss becomes NaN or infinite.
        """
        cfg = self.config
        model.to(self.device)
        train_loader = self.make_loader(train, shuffle=True)
        val_loader = self.make_loader(val, shuffle=False) if val is not None else None
        self._loaders = (train_loader, val_loader)
        optimizer = self.configure_optimizer(model)
        scheduler = self.configure_scheduler(optimizer)
        self.optimizer, self.scheduler = optimizer, scheduler  # for state_dict()
        self.should_stop = False
        self.epoch = 0
        self.history = History()  # a new record per fit; the callbacks reset themselves in on_fit_start
        self.callbacks = [self.history, *self.callbacks[1:]]
        wrapped = model
        if self.world_size > 1:  # gradients are averaged across the processes
            device_ids = [self.device] if self.device.type == "cuda" else None
            wrapped = DistributedDataParallel(model, device_ids=device_ids)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(cfg.seed + self.rank)  # independent dropout masks per process
            for callback in self.callbacks:
                callback.on_fit_start(self, model)
            if resume_from is not None:
                self._resume(model, Path(resume_from))
            # A resumed run that had already stopped early has no epochs left.
            epochs = range(0) if self.should_stop else range(self.epoch + 1, cfg.max_epochs + 1)
            show = cfg.progress if self.rank == 0 else False
            bar = progress_bar(epochs, show=show, desc="epochs", unit="epoch", initial=self.epoch, total=cfg.max_epochs)
            for epoch in bar:
                self.epoch = epoch
                metrics = self._run_epoch(model, wrapped, train_loader, val_loader, optimizer, scheduler)
                bar.set_postfix(
                    train_loss=f"{metrics.train_loss:.3f}",
                    val_loss=f"{metrics.val_loss:.3f}",
                    val_acc=f"{metrics.val_accuracy:.3f}",
                )
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, metrics)
                if self.world_size > 1:  # rank 0 decides, so every process stops after the same epoch
                    self.should_stop = broadcast_flag(self.should_stop, self.device)
                if self.should_stop:
                    self.history.stopped_early = True
                    break
            bar.close()
            for callback in self.callbacks:
                callback.on_fit_end(self, model)
        return self.history

    # -- resumable state ----------------------------------------------------------------
    def _keyed_callbacks(self) -> Iterator[tuple[str, Callback]]:
        # Keys by class name ("EarlyStopping", then "EarlyStopping.1"...) so that a resumed
        # trainer finds each callback's state even if the list order changed.
        seen: Counter[str] = Counter()
        for callback in self.callbacks:
            name = type(callback).__name__
            yield (f"{name}.{seen[name]}" if seen[name] else name), callback
            seen[name] += 1

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed :meth:`fit` needs, as plain values and tensors.

        The last finished epoch, ``should_stop``, the optimiser and scheduler states, each
        callback's :meth:`~Callback.state_dict` (the history and early-stopping state
        included), and the random generators: torch's global one (dropout, and shuffling
        with loaders that have no generator), the data loaders' generators and, on CUDA, the
        device's. Only valid during :meth:`fit`.
        """
        if self.optimizer is None:
            raise ConfigurationError("the trainer has no state before fit() starts")
        return {
            "epoch": self.epoch,
            "should_stop": self.should_stop,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "callbacks": {key: callback.state_dict() for key, callback in self._keyed_callbacks()},
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "loaders": [
                    g.get_state() if (g := _generator(loader)) is not None else None for loader in self._loaders
                ],
            },
            "config": self.config.to_dict(),
        }

    def _resume(self, model: nn.Module, path: Path) -> None:
        checkpoint = load_checkpoint(path)  # on the CPU: the RNG states must stay there
        state = checkpoint.extra.get("trainer")
        if not isinstance(state, dict):
            raise CheckpointError(
                "holds no trainer state to resume from; resume from the last.ckpt that "
                "ModelCheckpoint(save_last=True) writes",
                path=path,
            )
        if (state.get("scheduler") is None) != (self.scheduler is None):
            raise CheckpointError(f"was trained with a different scheduler than {self.config.scheduler!r}", path=path)
        assert self.optimizer is not None  # fit() made it
        try:
            model.load_state_dict(checkpoint.model.state_dict())
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            saved = state["callbacks"]
            for key, callback in self._keyed_callbacks():
                if key in saved:
                    callback.load_state_dict(saved[key])
            rng = state["rng"]
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] is not None and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"], self.device)
            for loader, saved_state in zip(self._loaders, rng["loaders"], strict=True):
                generator = _generator(loader)
                if generator is not None and saved_state is not None:
                    generator.set_state(saved_state)
            self.epoch = int(state["epoch"])
            self.should_stop = bool(state["should_stop"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"its trainer state does not fit this model and trainer ({exc})", path=path) from None
        self.history.stopped_early = self.should_stop
        logger.info("resumed from %s after epoch %d", path, self.epoch)


def _generator(loader: DataLoader[Any] | None) -> torch.Generator | None:
    return loader.generator if loader is not None else None


def _distributed_sampler(loader: DataLoader[Any]) -> DistributedSampler[Any] | None:
    for sampler in (loader.sampler, getattr(loader.batch_sampler, "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return sampler
    return None


def _set_epoch(loader: DataLoader[Any], epoch: int) -> None:
    # A DistributedSampler reshuffles per epoch, and a FeatureSet with a seeded view draws
    # each item's augmentation from (seed, epoch, item): both need to know the epoch.
    for part in (_distributed_sampler(loader), loader.dataset):
        set_epoch = getattr(part, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
