"""A model over a track's windows, averaged into the track's probabilities: shared by evaluation and prediction.

:func:`score_windows` runs the model over windows cut by
:func:`~musicgenre.audio.windowing.cut_windows` (in forward passes of at most
*batch_size* windows) and :func:`average_tracks` turns the window logits of one or more
tracks into one probability vector per track, by the
:class:`~musicgenre.audio.windowing.Windowing`'s ``average`` rule. Both
:func:`~musicgenre.evaluation.tracks.evaluate_tracks` and
:class:`~musicgenre.predict.GenreClassifier` call them, so the accuracy a checkpoint
reports is computed by the arithmetic that prediction serves.

>>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
>>> average_tracks(logits, torch.tensor([1.0, 1.0, 0.5]), [3], "probabilities")
tensor([[0.4238, 0.5762]])

One architecture's way to score overlapping windows with their convolutions shared lives
beside that architecture, in :mod:`musicgenre.models.cnn_scoring`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

from musicgenre.audio.windowing import Averaging
from musicgenre.errors import ConfigurationError
from musicgenre.models.protocol import GenreModel

if TYPE_CHECKING:  # the moved names' types, for type checkers; at run time __getattr__ warns and returns them
    from musicgenre.models.cnn_scoring import score_overlapping as score_overlapping
    from musicgenre.models.cnn_scoring import shares_windows as shares_windows

__all__ = ["EmbeddingModel", "WindowScores", "average_tracks", "score_windows"]

#: Names that moved to :mod:`musicgenre.models.cnn_scoring` (deprecated here).
_MOVED = frozenset({"score_overlapping", "shares_windows"})


def __getattr__(name: str) -> Any:
    """The names that moved to :mod:`musicgenre.models.cnn_scoring`, with a :class:`DeprecationWarning`."""
    if name in _MOVED:
        warnings.warn(
            f"musicgenre.models.scoring.{name} moved to musicgenre.models.cnn_scoring.{name}; "
            "the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("musicgenre.models.cnn_scoring"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@runtime_checkable
class EmbeddingModel(Protocol):
    """A model split as :class:`~musicgenre.models.GenreCNN` is: features, head (with pre-logits) and classifier.

    :class:`~musicgenre.models.MusicnnClassifier` is one too.
    """

    classifier: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-window features."""
        ...

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> logits, or the classifier's input with ``pre_logits=True``."""
        ...


@dataclass(frozen=True)
class WindowScores:
    """A model's outputs for a stack of windows.

    Attributes
    ----------
    logits
        ``(windows, classes)``, on the CPU.
    embeddings
        ``(windows, features)`` (the model's pre-logit embedding), if asked for; else ``None``.
    """

    logits: torch.Tensor
    embeddings: torch.Tensor | None = None


def score_windows(
    model: nn.Module,
    windows: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    embeddings: bool = False,
) -> WindowScores:
    """Run *model* (in eval mode) over *windows* ``(n, 1, bands, frames)``.

    Parameters
    ----------
    model
        Returns logits for a batch of windows. With *embeddings*, a
        :class:`~musicgenre.models.GenreModel` (its features are computed once, the head
        giving the embedding and the logits; where the model has a ``classifier`` layer,
        as :class:`~musicgenre.models.GenreCNN` has, the logits are that layer of the same
        embedding, which is what its ``forward`` does in eval mode).
    windows
        The windows of one or more tracks.
    batch_size
        Windows per forward pass (``None``: all at once).
    device
        Where the model runs (``None``: where the windows are).
    embeddings
        Also return each window's embedding.

    Returns
    -------
    WindowScores
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    if embeddings and not isinstance(model, GenreModel | EmbeddingModel):
        raise ConfigurationError(
            f"embeddings need a GenreModel (forward_features and forward_head), not a {type(model).__name__}"
        )
    model.eval()
    parts = torch.split(windows, batch_size) if batch_size is not None and len(windows) else (windows,)
    logits: list[torch.Tensor] = []
    embs: list[torch.Tensor] = []
    with torch.no_grad():
        for part in parts:
            x = part if device is None else part.to(device)
            if embeddings and isinstance(model, EmbeddingModel):
                # A last layer of its own: the logits come from the very same embedding.
                emb = model.forward_head(model.forward_features(x), pre_logits=True)
                classifier: nn.Module = model.classifier
                logits.append(classifier(emb).float().cpu())
                embs.append(emb.float().cpu())
            elif embeddings and isinstance(model, GenreModel):
                features = model.forward_features(x)
                embs.append(model.forward_head(features, pre_logits=True).float().cpu())
                logits.append(model.forward_head(features).float().cpu())
            else:
                logits.append(model(x).float().cpu())
    return WindowScores(torch.cat(logits), torch.cat(embs) if embeddings else None)


def average_tracks(
    logits: torch.Tensor, weights: torch.Tensor, counts: Sequence[int], average: Averaging = "probabilities"
) -> torch.Tensor:
    """Per-track probabilities from the window logits of consecutive tracks.

    Parameters
    ----------
    logits
        ``(windows, classes)``: the windows of every track, one track after another.
    weights
        ``(windows,)``: each window's weight (the share of it that holds audio).
    counts
        Windows per track, summing to ``len(logits)``.
    average
        ``"probabilities"``: ``sum_i w_i softmax(l_i) / sum_i w_i``; ``"logits"``:
        ``softmax(sum_i w_i l_i / sum_i w_i)``.

    Returns
    -------
    torch.Tensor
        ``(tracks, classes)``, each row summing to 1.
    """
    if sum(counts) != len(logits) or len(weights) != len(logits):
        raise ConfigurationError(
            f"{len(logits)} window logits, {len(weights)} weights and {sum(counts)} windows counted per track"
        )
    if average not in ("probabilities", "logits"):
        raise ConfigurationError(f"average must be 'probabilities' or 'logits', got {average!r}")
    w = weights.to(logits.dtype)
    values = torch.softmax(logits, dim=1) if average == "probabilities" else logits
    rows = [
        (v * ww[:, None]).sum(0) / ww.sum()
        for v, ww in zip(torch.split(values, list(counts)), torch.split(w, list(counts)), strict=True)
    ]
    out = torch.stack(rows) if rows else values.new_zeros((0, logits.shape[1]))
    return out if average == "probabilities" else torch.softmax(out, dim=1)
