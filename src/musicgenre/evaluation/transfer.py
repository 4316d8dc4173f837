"""Deprecated: the pretrained recipe's training moved to :mod:`musicgenre.training` and :mod:`musicgenre.recipes`.

Every name this module had still resolves, with a :class:`DeprecationWarning` naming its new place:

- ``BackboneEncoder``, ``TrackEmbeddings``, ``embed_tracks`` ->
  :mod:`musicgenre.training.embeddings` (``embed_tracks`` now takes the windowing, not a recipe);
- ``evaluate_embeddings`` -> :func:`musicgenre.training.embeddings.score_embeddings`;
- ``BalancedTrainer``, ``class_weights``, ``train_head`` -> :mod:`musicgenre.training.heads`
  (``train_head`` now takes the trainer settings and the head's options, not a recipe);
- ``train_transfer`` -> :meth:`PretrainedRecipe.fit <musicgenre.recipes.pretrained.PretrainedRecipe.fit>`;
- ``frozen_backbone`` -> :attr:`PretrainedRecipe.frozen <musicgenre.recipes.pretrained.PretrainedRecipe.frozen>`.

The old call signatures (a recipe as argument) keep working through this module.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from musicgenre.data.cache import CacheMode, FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.models import MusicnnClassifier
from musicgenre.recipes import PretrainedRecipe, Recipe, get_recipe
from musicgenre.training import embeddings as _embeddings
from musicgenre.training import heads as _heads
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.tracks import Indices, TrackOutputs

__all__: list[str] = []


def _pretrained(recipe: str | Recipe) -> PretrainedRecipe:
    rec = get_recipe(recipe)
    if not isinstance(rec, PretrainedRecipe):
        raise ConfigurationError(f"recipe {rec.name!r} is not a pretrained-backbone recipe")
    return rec


def _embed_tracks(
    model: MusicnnClassifier,
    data: FeatureSet,
    recipe: str | Recipe,
    *,
    batch_size: int = 64,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> _embeddings.TrackEmbeddings:
    return _embeddings.embed_tracks(
        model, data, get_recipe(recipe).windowing, batch_size=batch_size, cache=cache, cache_dir=cache_dir,
        progress=progress, num_workers=num_workers,
    )  # fmt: skip


def _train_head(
    model: MusicnnClassifier,
    embeddings: _embeddings.TrackEmbeddings,
    train_indices: Indices,
    val_indices: Indices,
    recipe: str | Recipe,
    *,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> History:
    rec = _pretrained(recipe)
    return _heads.train_head(
        model, embeddings, train_indices, val_indices, rec.trainer, balance=rec.settings.balance,
        window_subset=rec.settings.window_subset, seed=seed, device=device, max_epochs=max_epochs,
        callbacks=callbacks,
    )  # fmt: skip


def _evaluate_embeddings(
    model: MusicnnClassifier, embeddings: _embeddings.TrackEmbeddings, indices: Indices, *, device: str = "cpu"
) -> TrackOutputs:
    return _embeddings.score_embeddings(model, embeddings, indices, device=device)


def _train_transfer(
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
    return _pretrained(recipe).fit(
        data, train_indices, val_indices, seed=seed, device=device, max_epochs=max_epochs, callbacks=callbacks
    )


def _frozen_backbone(recipe: str | Recipe) -> bool:
    return _pretrained(recipe).frozen


_MOVED: dict[str, tuple[str, Callable[..., Any] | type]] = {
    "BackboneEncoder": ("musicgenre.training.embeddings.BackboneEncoder", _embeddings.BackboneEncoder),
    "TrackEmbeddings": ("musicgenre.training.embeddings.TrackEmbeddings", _embeddings.TrackEmbeddings),
    "embed_tracks": ("musicgenre.training.embeddings.embed_tracks (it takes the windowing)", _embed_tracks),
    "evaluate_embeddings": ("musicgenre.training.embeddings.score_embeddings", _evaluate_embeddings),
    "BalancedTrainer": ("musicgenre.training.heads.BalancedTrainer", _heads.BalancedTrainer),
    "class_weights": ("musicgenre.training.heads.class_weights", _heads.class_weights),
    "train_head": ("musicgenre.training.heads.train_head (it takes the trainer settings)", _train_head),
    "train_transfer": ("musicgenre.recipes.PretrainedRecipe.fit", _train_transfer),
    "frozen_backbone": ("musicgenre.recipes.PretrainedRecipe.frozen", _frozen_backbone),
}


def __getattr__(name: str) -> Any:
    """The moved names, each with a :class:`DeprecationWarning` naming its new place."""
    if name in _MOVED:
        new, value = _MOVED[name]
        warnings.warn(
            f"musicgenre.evaluation.transfer.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2
        )
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
