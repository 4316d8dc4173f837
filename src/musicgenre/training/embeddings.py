"""A frozen backbone's features of every window of every track, computed once, and the head scored on them.

:func:`embed_tracks` runs a backbone-plus-head model's backbone
(:class:`BackboneEncoder`) over the windows of each track of a
:class:`~musicgenre.data.cache.FeatureSet`, through
:func:`~musicgenre.data.cache.embed_features` (one contiguous store, optionally on disk),
and keeps each window's weight (the share of it that holds audio, as evaluation weighs it).
:func:`score_embeddings` scores tracks from those features with the head alone, with the
arithmetic of :func:`~musicgenre.training.tracks.score_tracks`.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from dataclasses import dataclass

import numpy as np
import torch

from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.audio.windowing import Windowing, cut_windows, window_layout
from musicgenre.data.cache import CacheMode, FeatureSet
from musicgenre.data.embeddings import WindowEmbeddings, embed_features
from musicgenre.errors import ConfigurationError
from musicgenre.models import MusicnnClassifier
from musicgenre.models.scoring import average_tracks
from musicgenre.training.tracks import Indices, TrackOutputs

__all__ = ["BackboneEncoder", "TrackEmbeddings", "embed_tracks", "score_embeddings"]

# Embeddings already computed for a feature set (by encoder key), so that the runs of a
# results table or a cross-validation compute them once per dataset.
_COMPUTED: weakref.WeakKeyDictionary[FeatureSet, dict[str, TrackEmbeddings]] = weakref.WeakKeyDictionary()


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
        self.front_end: MusicnnFrontEnd = model.front_end()

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
        Every window's backbone features; item *i*'s are ``features.windows(i)``, ``(n_windows, dim)``.
    weights
        Item *i*'s windows' weights, ``(n_windows,)``.
    windowing
        The windows encoded.
    """

    features: WindowEmbeddings
    weights: list[torch.Tensor]
    windowing: Windowing

    def windows(self, index: int) -> torch.Tensor:
        """Item *index*'s window features, ``(n_windows, dim)`` (a view, no copy)."""
        return self.features.windows(index)

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
    windowing: Windowing,
    *,
    batch_size: int = 64,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> TrackEmbeddings:
    """The backbone features of every window of every track of *data*, computed once.

    The result is remembered for *data* (while it lives) and the backbone's weights, so the
    runs of a results table or a cross-validation compute it once.

    Parameters
    ----------
    model
        Its backbone encodes the windows (its head is not used).
    data
        The model's frames of each whole track (its front end's).
    windowing
        The windows cut from each track, and their weights.
    batch_size, cache, cache_dir, progress, num_workers
        See :func:`~musicgenre.data.cache.embed_features`.
    """
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


@torch.no_grad()
def score_embeddings(
    model: MusicnnClassifier, embeddings: TrackEmbeddings, indices: Indices, *, device: str = "cpu"
) -> TrackOutputs:
    """Per-track probabilities from the cached window features (the head only, no backbone).

    Each window's logits are the head of its features; a track's probabilities are their
    weighted average by the windowing's averaging rule
    (:func:`~musicgenre.models.scoring.average_tracks`), as in
    :func:`~musicgenre.training.tracks.score_tracks` on the frames; for a linear head this
    equals the head applied to the track's mean feature, what it was trained on.
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
