"""Whole-track evaluation: every track cut into the recipe's windows, their outputs averaged.

:func:`evaluate_tracks` scores a set of tracks of a :class:`~musicgenre.data.cache.FeatureSet`
with a recipe's front end and windows and returns
:class:`~musicgenre.training.tracks.TrackOutputs`; :func:`track_loader` gives the batches it
reads. The arithmetic is :func:`~musicgenre.training.tracks.score_tracks`, the one the
track trainer validates with: :func:`~musicgenre.audio.windowing.cut_windows` and
:func:`~musicgenre.models.scoring.average_tracks`, the functions
:class:`~musicgenre.predict.GenreClassifier` calls on files, so a model's evaluated
per-track probabilities are what prediction serves (within float rounding of batching).
The recipe's :attr:`~musicgenre.recipes.Recipe.windowing` decides the windows: the
reference's ``"first"`` window only, or ``"all"`` windows covering the track.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch.utils.data import DataLoader

from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import FeatureSet
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.training import tracks as _tracks
from musicgenre.training.tracks import Indices, TrackOutputs, score_tracks, track_batches

__all__ = ["TrackOutputs", "evaluate_tracks", "track_loader"]


def track_loader(
    data: FeatureSet,
    indices: Indices,
    recipe: str | Recipe,
    tracks_per_batch: int = 8,
    *,
    windowing: Windowing | None = None,
) -> DataLoader[Any]:
    """Batches of whole tracks: ``(windows, window_weights, targets, windows_per_track)``.

    The windows are the recipe's :attr:`~musicgenre.recipes.Recipe.windowing` (or *windowing*)
    cut from each cached spectrogram by :func:`~musicgenre.audio.windowing.cut_windows`
    (:func:`~musicgenre.training.tracks.track_batches` with the recipe's front end).
    """
    rec = get_recipe(recipe)
    return track_batches(data, indices, rec.front_end, windowing or rec.windowing, tracks_per_batch)


def evaluate_tracks(
    model: GenreModel,
    data: FeatureSet,
    indices: Indices,
    recipe: str | Recipe,
    *,
    device: str = "cpu",
    windowing: Windowing | None = None,
) -> TrackOutputs:
    """Predict every track in *indices* from its evaluation windows (the model runs on the frames).

    Parameters
    ----------
    model
        The trained model (any :class:`~musicgenre.models.protocol.GenreModel`).
    data
        The feature store (whole-track frames of the recipe's front end).
    indices
        Items of *data* to score.
    recipe
        Its front end and :attr:`~musicgenre.recipes.Recipe.windowing` decide the windows.
    device
        Where the model runs.
    windowing
        Override the recipe's windowing (a checkpoint's stored one, say).

    Returns
    -------
    TrackOutputs
        Per-track probabilities equal to what
        :meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`
        returns for the same files with the same windowing (within float rounding).
    """
    rec = get_recipe(recipe)
    return score_tracks(model, data, indices, rec.front_end, windowing or rec.windowing, device=device)


_MOVED = {"TrackTrainer": "musicgenre.training.tracks"}


def __getattr__(name: str) -> Any:
    """Deprecated: ``TrackTrainer`` moved to :mod:`musicgenre.training.tracks`."""
    if name in _MOVED:
        warnings.warn(
            f"musicgenre.evaluation.tracks.{name} is deprecated; use {_MOVED[name]}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(_tracks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
