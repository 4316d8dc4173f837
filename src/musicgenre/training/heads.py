"""Training a backbone-plus-head model: the head on cached features, then optionally the backbone's mid end.

:func:`train_head` trains the head (:class:`~musicgenre.models.FeatureHead`) with a
:class:`BalancedTrainer` on a :class:`~musicgenre.training.embeddings.TrackEmbeddings`:
each training item is the weighted mean feature of a random subset of a track's windows
(drawn anew every epoch from ``(seed, epoch, item)``), the loss weighted by inverse class
frequency (:func:`class_weights`), early-stopped on the validation tracks' whole-track
loss. :func:`fine_tune` then trains the backbone's mid end with the head, on random
windows of the cached frames.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from musicgenre._random import item_generator
from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.models import MusicnnClassifier
from musicgenre.training.callbacks import Callback, EpochMetrics, History
from musicgenre.training.embeddings import BackboneEncoder, TrackEmbeddings
from musicgenre.training.logistic import C_GRID, choose_c, fit_logistic
from musicgenre.training.tracks import Indices
from musicgenre.training.trainer import Trainer, TrainerConfig

__all__ = ["BalancedTrainer", "HeadFit", "class_weights", "fine_tune", "fit_head", "train_head"]


def class_weights(targets: Sequence[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency loss weights, ``n / (k * count_c)`` for the *k* classes present (0 for absent ones).

    Every class then weighs as much in the loss as any other; on a balanced set all weights are 1.

    Examples
    --------
    >>> class_weights([0, 0, 0, 1], 2)
    tensor([0.6667, 2.0000])
    """
    counts = torch.bincount(torch.as_tensor(list(targets), dtype=torch.long), minlength=n_classes).float()
    present = int((counts > 0).sum())
    if present == 0:
        raise ConfigurationError("no targets to weigh")
    weights = torch.where(counts > 0, counts.sum() / (present * counts.clamp(min=1)), torch.zeros_like(counts))
    return weights


class BalancedTrainer(Trainer):
    """A :class:`~musicgenre.training.trainer.Trainer` whose training loss weighs each class by *class_weights*.

    Validation keeps the plain (unweighted) cross-entropy.
    """

    def __init__(self, *args: Any, class_weights: torch.Tensor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with the class weights and ``config.label_smoothing``."""
        weight = None if self.class_weights is None else self.class_weights.to(logits.device, logits.dtype)
        return nn.functional.cross_entropy(logits, targets, weight=weight, label_smoothing=self.config.label_smoothing)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _SubsetMeans(Dataset[tuple[torch.Tensor, int]]):
    """Training items: the weighted mean feature of a random subset of a track's windows.

    An epoch's subsets are drawn together from ``(seed, epoch)`` and the means computed in
    one pass over the training windows (a scatter-add), so an epoch costs a few milliseconds
    whatever the number of tracks.
    """

    def __init__(self, embeddings: TrackEmbeddings, indices: Indices, keep: float, seed: int) -> None:
        idx = [int(i) for i in indices]
        self.targets = [embeddings.features.targets[i] for i in idx]
        counts = torch.tensor([len(embeddings.weights[i]) for i in idx], dtype=torch.long)
        self.windows = torch.cat([embeddings.windows(i) for i in idx])  # (training windows, dim)
        self.weights = torch.cat([embeddings.weights[i] for i in idx]).float()
        self.track = torch.repeat_interleave(torch.arange(len(idx)), counts)  # each window's item
        self.first = torch.cumsum(counts, 0) - counts  # each item's first window
        self.keep = keep
        self.seed = seed
        self.epoch = 0
        self._means: torch.Tensor | None = None
        self._drawn_for = -1

    def __len__(self) -> int:
        return len(self.targets)

    def set_epoch(self, epoch: int) -> None:
        """Draw the subsets of *epoch*."""
        self.epoch = epoch

    def means(self) -> torch.Tensor:
        """The items of the current epoch, ``(items, dim)``."""
        if self._means is None or self._drawn_for not in (self.epoch, -2):
            w = self.weights
            if self.keep < 1.0:
                kept = torch.rand(len(w), generator=item_generator(self.seed, self.epoch, 0)) < self.keep
                empty = torch.zeros(len(self.targets)).index_add_(0, self.track, kept.float()) == 0
                kept[self.first[empty]] = True  # at least one window per item
                w = w * kept
            n = len(self.targets)
            w = w / torch.zeros(n).index_add_(0, self.track, w)[self.track]  # each item's weights sum to 1
            # The means as one sparse (items x windows) product: no (windows x dim) temporary.
            positions = torch.stack([self.track, torch.arange(len(w))])
            share = torch.sparse_coo_tensor(positions, w, (n, len(w)), check_invariants=False)
            self._means = torch.sparse.mm(share, self.windows)
            self._drawn_for = self.epoch if self.keep < 1.0 else -2  # whole tracks: the same every epoch
        return self._means

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        return self.means()[item], self.targets[item]


def train_head(
    model: MusicnnClassifier,
    embeddings: TrackEmbeddings,
    train_indices: Indices,
    val_indices: Indices,
    config: TrainerConfig,
    *,
    balance: bool = True,
    window_subset: float = 1.0,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train *model*'s head in place on the cached features; returns the :class:`History`.

    The head's standardisation is set from the training tracks' mean features; the head is
    then trained with *config* (the loss weighted by :func:`class_weights` if *balance*),
    early-stopping on the validation tracks' loss (a track's logit is the head of its mean
    feature: what evaluation averages).

    Parameters
    ----------
    model
        The backbone-plus-head model; only its head is trained.
    embeddings
        The backbone features of every window (:func:`~musicgenre.training.embeddings.embed_tracks`).
    train_indices, val_indices
        Items to train on and to early-stop on.
    config
        Optimiser, schedule, batch size, epochs, patience (its seed, device and epoch bound
        are replaced by *seed*, *device* and *max_epochs*).
    balance
        Weight the loss by inverse class frequency in the training part.
    window_subset
        Each training item is the mean of a random subset of its track's windows, each kept
        with this probability (1.0: the whole track's mean).
    seed, device, max_epochs, callbacks
        As for :class:`~musicgenre.training.trainer.Trainer`.
    """
    train_idx = [int(i) for i in train_indices]
    if not train_idx:
        raise ConfigurationError("the training data is empty")
    model.head.set_standardization(embeddings.track_means(train_idx))
    config = replace(config, seed=seed, device=device, max_epochs=max_epochs or config.max_epochs)
    targets = [embeddings.features.targets[i] for i in train_idx]
    weights = class_weights(targets, model.num_classes) if balance else None
    val_targets = torch.tensor([embeddings.features.targets[int(i)] for i in val_indices], dtype=torch.long)
    val = TensorDataset(embeddings.track_means(val_indices), val_targets) if len(val_targets) else None
    train = _SubsetMeans(embeddings, train_idx, window_subset, seed)
    trainer = BalancedTrainer(config, callbacks, class_weights=weights)
    with _one_thread():  # a head's batches are tiny: thread hand-offs would cost more than the arithmetic
        return trainer.fit(model.head, train, val)


HeadFit = Literal["logistic", "probe", "gradient"]
"""The ways a linear head is fitted.

``"logistic"`` is multinomial logistic regression solved to convergence, its regularisation
chosen on held-out tracks, class-balanced if asked (:func:`fit_head`); ``"probe"`` is
scikit-learn's ``LogisticRegression(C=1.0)`` on the training tracks alone, unweighted (the
plain linear probe, a baseline); ``"gradient"`` is the head trained by the recipe's
optimiser, early-stopped on validation (:func:`train_head`).
"""


def _accuracy_and_loss(logits: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    if not len(targets):
        return math.nan, math.nan
    loss = float(nn.functional.cross_entropy(logits, targets))
    return float((logits.argmax(1) == targets).float().mean()), loss


@torch.no_grad()
def fit_head(
    model: MusicnnClassifier,
    embeddings: TrackEmbeddings,
    train_indices: Indices,
    val_indices: Indices,
    *,
    how: Literal["logistic", "probe"] = "logistic",
    balance: bool = True,
    grid: Sequence[float] = C_GRID,
    seed: int = 42,
) -> History:
    """Fit *model*'s linear head in place, as the convex problem it is, on each track's mean feature.

    The head's standardisation is set from the training tracks' mean features (as
    :func:`train_head` does); then its classifier is multinomial logistic regression of the
    standardised means (:func:`~musicgenre.training.logistic.fit_logistic`): with
    ``how="logistic"`` its regularisation is chosen on the validation tracks (or on folds of
    training and validation tracks where they are few: :func:`~musicgenre.training.logistic.choose_c`)
    and the loss is class-balanced if *balance*; with ``how="probe"``, ``C = 1`` on the
    training tracks alone, unweighted (scikit-learn's default ``LogisticRegression``).
    A linear head on mean features is what evaluation averages (the windows' logits).

    Returns
    -------
    History
        One entry: the fitted head's loss and accuracy on the training and validation tracks.

    Raises
    ------
    ConfigurationError
        If the head is not linear (``hidden > 0``) or there is no training track.
    """
    if model.config.hidden:
        raise ConfigurationError("a head with a hidden layer is not a linear problem: fit it with head_fit='gradient'")
    train_idx = [int(i) for i in train_indices]
    val_idx = [int(i) for i in val_indices]
    if not train_idx:
        raise ConfigurationError("the training data is empty")
    start = time.perf_counter()
    head = model.head.cpu()
    head.set_standardization(embeddings.track_means(train_idx))
    targets = embeddings.features.targets

    def standardised(idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x = embeddings.track_means(idx) if idx else torch.zeros(0, head.mean.numel())
        return (x - head.mean) * head.scale, torch.tensor([targets[i] for i in idx], dtype=torch.long)

    x_train, y_train = standardised(train_idx)
    x_val, y_val = standardised(val_idx)
    n = model.num_classes
    if how == "probe":
        c, weights = 1.0, None
    else:
        weights = class_weights(y_train.tolist(), n) if balance else None
        held = (x_val, y_val) if len(val_idx) else None
        c = choose_c((x_train, y_train), held, n, grid=grid, class_weights=weights, seed=seed)
    fit = fit_logistic(x_train, y_train, n, c=c, class_weights=weights)
    head.classifier.weight.copy_(fit.weight)
    head.classifier.bias.copy_(fit.bias)
    train_acc, train_loss = _accuracy_and_loss(fit.logits(x_train), y_train)
    val_acc, val_loss = _accuracy_and_loss(fit.logits(x_val), y_val)
    history = History()
    history.epochs.append(EpochMetrics(1, train_loss, train_acc, val_loss, val_acc, c, time.perf_counter() - start))
    history.best_epoch = 1
    return history


class _WindowSet(Dataset[tuple[torch.Tensor, int]]):
    """Every evaluation window of some tracks, each with its track's label (fine-tuning's validation)."""

    def __init__(self, data: FeatureSet, indices: Indices, encoder: BackboneEncoder) -> None:
        self.items: list[tuple[int, int]] = []  # (item, window)
        self.targets = data.targets
        self.cut: dict[int, torch.Tensor] = {}
        for i in indices:
            windows = encoder.windows(data.spectrogram(int(i)))
            self.cut[int(i)] = windows
            self.items.extend((int(i), w) for w in range(len(windows)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item, window = self.items[index]
        return self.cut[item][window], self.targets[item]


class _RandomWindows(Dataset[tuple[torch.Tensor, int]]):
    """Fine-tuning items: a random window of a track's frames, drawn anew each epoch."""

    def __init__(self, data: FeatureSet, indices: Sequence[int], n_frames: int, silence: float, seed: int) -> None:
        self.data, self.indices = data, list(indices)
        self.n_frames, self.silence, self.seed = n_frames, silence, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Draw the windows of *epoch*."""
        self.epoch = epoch

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        index = self.indices[item]
        frames = self.data.spectrogram(index)
        spare = frames.shape[-1] - self.n_frames
        if spare < 0:
            frames = nn.functional.pad(frames, (0, -spare), value=self.silence)
            spare = 0
        start = int(torch.randint(spare + 1, (1,), generator=item_generator(self.seed, self.epoch, item)))
        return frames[..., start : start + self.n_frames], self.data.targets[index]


class _KeepBackboneStats(nn.Module):
    """Trains a model whose backbone keeps its batch-norm statistics (and eval-mode arithmetic)."""

    def __init__(self, model: MusicnnClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out

    def train(self, mode: bool = True) -> _KeepBackboneStats:
        super().train(mode)
        self.model.backbone.eval()
        return self


def fine_tune(
    model: MusicnnClassifier,
    data: FeatureSet,
    train_indices: Indices,
    val_indices: Indices,
    config: TrainerConfig,
    *,
    windowing: Windowing,
    lr: float,
    epochs: int,
    seed: int = 42,
    device: str = "cpu",
    class_weights: torch.Tensor | None = None,
) -> History:
    """Train the backbone's mid end with the head, on random windows of the cached frames; in place.

    The backbone keeps its batch-norm statistics; validation scores every window of the
    validation tracks. Afterwards every parameter is trainable again.

    Parameters
    ----------
    model
        The backbone-plus-head model (its head trained already).
    data
        The model's frames of each whole track.
    train_indices, val_indices
        Items to train on and to early-stop on.
    config
        The head's trainer settings; the learning rate becomes *lr*, the epoch bound
        *epochs*, the patience at most a third of it.
    windowing
        The validation windows.
    lr, epochs
        Learning rate and epoch bound of this stage.
    seed, device
        As for :class:`~musicgenre.training.trainer.Trainer`.
    class_weights
        Loss weights per class (:func:`class_weights`), or ``None``.
    """
    model.freeze_backbone("mid")
    encoder = BackboneEncoder(model, windowing)
    train_idx = [int(i) for i in train_indices]
    train = _RandomWindows(data, train_idx, model.config.n_frames, encoder.front_end.silence, seed + 2)
    val = _WindowSet(data, val_indices, encoder) if len(val_indices) else None
    patience = config.patience and min(config.patience, max(1, epochs // 3))
    tuned = replace(config, lr=lr, max_epochs=epochs, patience=patience, seed=seed, device=device)
    try:
        return BalancedTrainer(tuned, class_weights=class_weights).fit(_KeepBackboneStats(model), train, val)
    finally:
        model.freeze_backbone("all")  # as it was: every parameter trainable
