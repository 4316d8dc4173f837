"""The ``"pretrained"`` recipe's training: backbone features computed once, a head trained on them.

Three steps, each a function:

1. :func:`embed_tracks`: every window of every track through the frozen backbone, once
   (:func:`~musicgenre.data.cache.embed_features`: one contiguous store, optionally on disk),
   with each window's weight (the share of it that holds audio, as evaluation weighs it).
2. :func:`train_head`: the head (:class:`~musicgenre.models.transfer.TransferHead`) trained
   with the :class:`~musicgenre.training.trainer.Trainer` on the cached features: each
   training item is the weighted mean feature of a random subset of a track's windows
   (drawn anew every epoch from ``(seed, epoch, item)``), the loss weighted by inverse
   class frequency (``balance``), early-stopped on the validation tracks' whole-track loss.
   Optionally (``fine_tune="mid"``) the backbone's mid end is then trained with the head.
3. :func:`evaluate_embeddings`: each track's window logits averaged (``"logits"``
   averaging, weighted) by :func:`~musicgenre.models.scoring.average_tracks`, the function
   evaluation and :class:`~musicgenre.inference.GenreClassifier` use; for a linear head this
   equals the head applied to the track's mean feature, what it was trained on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from musicgenre._random import item_generator
from musicgenre.audio.windowing import Windowing, cut_windows, window_layout
from musicgenre.data.cache import CacheMode, FeatureSet, embed_features
from musicgenre.errors import ConfigurationError
from musicgenre.evaluation.tracks import Indices, TrackOutputs
from musicgenre.models.scoring import average_tracks
from musicgenre.models.transfer import MusicnnClassifier, MusicnnFrames
from musicgenre.recipes import Recipe, TransferSettings, get_recipe
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.trainer import Trainer

__all__ = [
    "BackboneEncoder",
    "BalancedTrainer",
    "TrackEmbeddings",
    "class_weights",
    "embed_tracks",
    "evaluate_embeddings",
    "frozen_backbone",
    "train_head",
    "train_transfer",
]

# Embeddings already computed for a feature set (by encoder key), so that the runs of a
# results table or a cross-validation compute them once per dataset.
_COMPUTED: weakref.WeakKeyDictionary[FeatureSet, dict[str, TrackEmbeddings]] = weakref.WeakKeyDictionary()


def _settings(recipe: Recipe) -> TransferSettings:
    settings = getattr(recipe, "transfer", None)
    if not isinstance(settings, TransferSettings):
        raise ConfigurationError(f"recipe {recipe.name!r} is not a pretrained-backbone recipe (no transfer settings)")
    return settings


class BackboneEncoder:
    """A model's frozen backbone as a :class:`~musicgenre.data.cache.WindowEncoder`.

    Parameters
    ----------
    model
        The backbone-plus-head model; :meth:`encode` is its ``forward_features``.
    windowing
        How a track's frames are cut into windows (the recipe's evaluation windowing).
    """

    def __init__(self, model: MusicnnClassifier, windowing: Windowing) -> None:
        self.model = model
        self.windowing = windowing
        self.front_end: MusicnnFrames = model.front_end()

    @property
    def key(self) -> str:
        """Backbone weights (hashed), layer, front end and windowing."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.model.backbone.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        settings = {
            "backbone": self.model.config.backbone,
            "weights": digest.hexdigest()[:16],
            "layer": self.model.config.layer,
            "front_end": self.front_end.key,
            "windowing": self.windowing.to_dict(),
        }
        return json.dumps(settings, sort_keys=True)

    @property
    def dim(self) -> int:
        """The size of the features the head reads."""
        return self.model.num_features

    def windows(self, frames: torch.Tensor) -> torch.Tensor:
        """The windows :func:`~musicgenre.audio.windowing.cut_windows` cuts from a track's frames."""
        return cut_windows(frames, self.front_end, self.windowing).windows

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """The backbone features of each window (the model in eval mode)."""
        self.model.eval()
        with torch.inference_mode():
            return self.model.forward_features(windows)


@dataclass(frozen=True)
class TrackEmbeddings:
    """Every window's backbone features and weight, per track.

    Attributes
    ----------
    features
        Item *i*'s windows' features are ``features.spectrogram(i)[0].T``, ``(n_windows, dim)``.
    weights
        Item *i*'s windows' weights, ``(n_windows,)``.
    windowing
        The windows encoded.
    """

    features: FeatureSet
    weights: list[torch.Tensor]
    windowing: Windowing

    def windows(self, index: int) -> torch.Tensor:
        """Item *index*'s window features, ``(n_windows, dim)`` (a view, no copy)."""
        start, stop = self.features.spans[index]
        return self.features.storage[start:stop]

    def track_means(self, indices: Indices) -> torch.Tensor:
        """The weighted mean window feature of each item in *indices*, ``(n, dim)``."""
        rows = []
        for i in indices:
            w = self.weights[int(i)]
            rows.append((self.windows(int(i)) * w[:, None]).sum(0) / w.sum())
        return torch.stack(rows) if rows else torch.zeros(0, self.features.storage.shape[1])


def embed_tracks(
    model: MusicnnClassifier,
    data: FeatureSet,
    recipe: str | Recipe,
    *,
    batch_size: int = 64,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> TrackEmbeddings:
    """Step 1: the backbone features of every window of every track of *data*, computed once.

    The result is remembered for *data* (while it lives) and the backbone's weights, so the
    runs of a results table or a cross-validation compute it once.

    Parameters
    ----------
    model
        Its backbone encodes the windows (its head is not used).
    data
        The recipe's cached frames (musicnn's log-mel of each whole track).
    recipe
        Its :attr:`~musicgenre.recipes.Recipe.windowing` decides the windows and their weights.
    batch_size, cache, cache_dir, progress, num_workers
        See :func:`~musicgenre.data.cache.embed_features`.
    """
    rec = get_recipe(recipe)
    windowing = rec.windowing
    encoder = BackboneEncoder(model, windowing)
    key = encoder.key
    known = _COMPUTED.setdefault(data, {})
    if key in known:
        return known[key]
    features = embed_features(
        data,
        encoder,
        batch_size=batch_size,
        cache=cache,
        cache_dir=cache_dir,
        progress=progress,
        num_workers=num_workers,
    )
    n = encoder.front_end.window_frames
    weights = [window_layout(int(b - a), n, windowing)[1] for a, b in data.spans]
    known[key] = TrackEmbeddings(features, weights, windowing)
    return known[key]


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
    recipe: str | Recipe,
    *,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Step 2: train *model*'s head in place on the cached features; returns the :class:`History`.

    The head's standardisation is set from the training tracks' mean features; the head is
    then trained with the recipe's trainer settings (the loss weighted by
    :func:`class_weights` if ``balance``), early-stopping on the validation tracks' loss
    (a track's logit is the head of its mean feature: what evaluation averages).
    """
    rec = get_recipe(recipe)
    settings = _settings(rec)
    train_idx = [int(i) for i in train_indices]
    if not train_idx:
        raise ConfigurationError("the training data is empty")
    model.head.set_standardization(embeddings.track_means(train_idx))
    config = replace(rec.trainer, seed=seed, device=device, max_epochs=max_epochs or rec.trainer.max_epochs)
    targets = [embeddings.features.targets[i] for i in train_idx]
    weights = class_weights(targets, model.num_classes) if settings.balance else None
    val_targets = torch.tensor([embeddings.features.targets[int(i)] for i in val_indices], dtype=torch.long)
    val = TensorDataset(embeddings.track_means(val_indices), val_targets) if len(val_targets) else None
    train = _SubsetMeans(embeddings, train_idx, settings.window_subset, seed)
    trainer = BalancedTrainer(config, callbacks, class_weights=weights)
    with _one_thread():  # a head's batches are tiny: thread hand-offs would cost more than the arithmetic
        return trainer.fit(model.head, train, val)


@torch.no_grad()
def evaluate_embeddings(
    model: MusicnnClassifier, embeddings: TrackEmbeddings, indices: Indices, *, device: str = "cpu"
) -> TrackOutputs:
    """Step 3: per-track probabilities from the cached window features (the head only, no backbone).

    Each window's logits are the head of its features; a track's probabilities are their
    weighted average by the recipe's averaging rule
    (:func:`~musicgenre.models.scoring.average_tracks`), as in
    :func:`~musicgenre.evaluation.tracks.evaluate_tracks` on the frames.
    """
    idx = [int(i) for i in indices]
    if not idx:
        raise ConfigurationError("no tracks to evaluate")
    head = model.head.to(device).eval()
    windows = torch.cat([embeddings.windows(i) for i in idx]).to(device)
    weights = torch.cat([embeddings.weights[i] for i in idx])
    counts = [len(embeddings.weights[i]) for i in idx]
    logits = head(windows).float().cpu()
    pre = head(windows, pre_logits=True).float().cpu()
    probs = average_tracks(logits, weights, counts, embeddings.windowing.average)
    targets = np.asarray([embeddings.features.targets[i] for i in idx], dtype=np.int64)
    track_targets = torch.repeat_interleave(torch.as_tensor(targets), torch.tensor(counts))
    emb = torch.stack([e.mean(0) for e in torch.split(pre, counts)])
    return TrackOutputs(
        targets=targets,
        probabilities=probs.numpy().astype(np.float32),
        embeddings=emb.numpy().astype(np.float32),
        window_correct=int((logits.argmax(1) == track_targets).sum()),
        window_total=len(logits),
        windowing=embeddings.windowing,
    )


def frozen_backbone(recipe: str | Recipe) -> bool:
    """Whether *recipe* keeps the backbone frozen (its features can then be cached and reused)."""
    return _settings(get_recipe(recipe)).fine_tune == "none"


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


def _fine_tune(
    model: MusicnnClassifier,
    data: FeatureSet,
    train_indices: Sequence[int],
    val_indices: Indices,
    recipe: Recipe,
    *,
    seed: int,
    device: str,
    weights: torch.Tensor | None,
) -> History:
    settings = _settings(recipe)
    model.freeze_backbone("mid")
    encoder = BackboneEncoder(model, recipe.windowing)
    train = _RandomWindows(data, train_indices, model.config.n_frames, encoder.front_end.silence, seed + 2)
    val = _WindowSet(data, val_indices, encoder) if len(val_indices) else None
    patience = recipe.trainer.patience and min(recipe.trainer.patience, max(1, settings.fine_tune_epochs // 3))
    config = replace(
        recipe.trainer,
        lr=settings.fine_tune_lr,
        max_epochs=settings.fine_tune_epochs,
        patience=patience,
        seed=seed,
        device=device,
    )
    try:
        return BalancedTrainer(config, class_weights=weights).fit(_KeepBackboneStats(model), train, val)
    finally:
        model.freeze_backbone("all")  # as it was: every parameter trainable


def train_transfer(
    data: FeatureSet,
    train_indices: Indices,
    val_indices: Indices,
    recipe: str | Recipe,
    *,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> tuple[MusicnnClassifier, History]:
    """The whole recipe: the pretrained backbone, its features cached, the head trained, optionally fine-tuned.

    Parameters
    ----------
    data
        The recipe's cached frames (:func:`~musicgenre.experiment.load_data`).
    train_indices, val_indices
        Items to train on and to early-stop on.
    recipe
        A recipe with :attr:`~musicgenre.recipes.Recipe.transfer` settings (``"pretrained"``).
    seed
        Seeds the head's weights, the window subsets and the shuffling.
    device
        Where the head (and, fine-tuning, the model) trains; the features are computed on the CPU.
    max_epochs
        Override the recipe's epoch bound for the head.
    callbacks
        Passed to the head's :class:`~musicgenre.training.trainer.Trainer`.

    Returns
    -------
    tuple
        The :class:`~musicgenre.models.transfer.MusicnnClassifier` (head at its best
        validation epoch) and the head's :class:`~musicgenre.training.History` (with the
        fine-tuning epochs appended when ``fine_tune="mid"``).
    """
    rec = get_recipe(recipe)
    settings = _settings(rec)
    model = MusicnnClassifier.from_pretrained(
        settings.backbone,
        len(data.classes),
        seed=seed,
        layer=settings.layer,
        hidden=settings.hidden,
        dropout=settings.dropout,
    )
    embeddings = embed_tracks(model, data, rec)
    history = train_head(
        model, embeddings, train_indices, val_indices, rec, seed=seed, device=device, max_epochs=max_epochs,
        callbacks=callbacks,
    )  # fmt: skip
    if settings.fine_tune != "none":
        train_idx = [int(i) for i in train_indices]
        weights = class_weights([data.targets[i] for i in train_idx], len(data.classes)) if settings.balance else None
        tuned = _fine_tune(model, data, train_idx, val_indices, rec, seed=seed, device=device, weights=weights)
        offset = len(history.epochs)
        history.epochs.extend(replace(m, epoch=m.epoch + offset) for m in tuned.epochs)
        if tuned.best_epoch is not None:
            history.best_epoch = tuned.best_epoch + offset
    model.eval()
    return model, history
