"""What prediction and tagging return: one result type per thing held, shared by both.

A track's windows each give a :class:`SegmentPrediction` (its time span and a probability
per label: genres for :class:`~musicgenre.predict.GenreClassifier`, tags for
:class:`~musicgenre.predict.Tagger`); a whole track gives a :class:`Prediction` (genres)
or a :class:`TagResult` (tags); a file that could not be used gives a
:class:`FailedPrediction`. Every result's ``to_dict()`` is what the command line writes
as JSON.

>>> segment = SegmentPrediction(0.0, 3.0, {"jazz": 0.7, "rock": 0.3})
>>> segment.label, segment.genre == segment.tag == segment.label
('jazz', True)
>>> segment.to_dict()
{'start': 0.0, 'end': 3.0, 'genre': 'jazz', 'probabilities': {'jazz': 0.7, 'rock': 0.3}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicgenre.errors import ConfigurationError

__all__ = ["FailedPrediction", "Prediction", "SegmentPrediction", "TagResult", "check_top_k", "rank"]


@dataclass(frozen=True)
class SegmentPrediction:
    """The model's output for one window (or patch) of a track.

    Attributes
    ----------
    start, end
        Where the window's audio starts and ends, in seconds from the track's start (the
        end of the last window is the track's end, not that of its padding).
    probabilities
        Probability of each label (genre or tag), in the model's order.
    """

    start: float
    end: float
    probabilities: dict[str, float]

    @property
    def label(self) -> str:
        """The most probable label of this window."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def genre(self) -> str:
        """:attr:`label`, for a genre timeline."""
        return self.label

    @property
    def tag(self) -> str:
        """:attr:`label`, for a tag timeline."""
        return self.label

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (a genre timeline's entry)."""
        return {"start": self.start, "end": self.end, "genre": self.label, "probabilities": self.probabilities}


@dataclass(frozen=True)
class Prediction:
    """A whole track's genre prediction.

    Attributes
    ----------
    path
        The file, or ``None`` for a waveform passed in memory.
    top_k
        The *k* most probable ``(genre, probability)`` pairs, most probable first.
    probabilities
        Every class's probability (they sum to 1), in the model's class order.
    duration
        Length of the track in seconds.
    segments
        Number of windows averaged.
    timeline
        Each window's prediction, if asked for (``timeline=True``); else ``None``.
    warnings
        The warnings decoding the file raised (a truncated file, damaged MP3 frames), as
        text naming the file; they are also issued as Python warnings.
    """

    path: Path | None
    top_k: tuple[tuple[str, float], ...]
    probabilities: dict[str, float]
    duration: float
    segments: int
    timeline: tuple[SegmentPrediction, ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def genre(self) -> str:
        """The most probable genre."""
        return self.top_k[0][0]

    @property
    def label(self) -> str:
        """:attr:`genre`, under the name every result shares."""
        return self.genre

    @property
    def probability(self) -> float:
        """Probability of :attr:`genre`."""
        return self.top_k[0][1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``error`` is ``None``, as opposed to :class:`FailedPrediction`)."""
        data: dict[str, Any] = {
            "path": None if self.path is None else str(self.path),
            "genre": self.genre,
            "probability": self.probability,
            "top_k": [{"genre": g, "probability": p} for g, p in self.top_k],
            "probabilities": self.probabilities,
            "duration": self.duration,
            "segments": self.segments,
            "error": None,
        }
        if self.timeline is not None:
            data["timeline"] = [segment.to_dict() for segment in self.timeline]
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class TagResult:
    """A whole track's tags.

    Attributes
    ----------
    path
        The file, or ``None`` for a waveform passed in memory.
    model
        Name of the model that tagged it (e.g. ``"MSD_musicnn"``).
    tags
        Every tag's probability (mean of the patches' sigmoid outputs), in the model's tag order.
    top_k
        The *k* most probable ``(tag, probability)`` pairs, most probable first.
    duration
        Length of the decoded track in seconds.
    patches
        Number of 3-s patches averaged.
    timeline
        Each patch's tag probabilities (``timeline=True``), as :class:`SegmentPrediction`
        s with ``start``/``end`` in seconds; else ``None``.
    warnings
        The warnings decoding the file raised (a truncated file, damaged MP3 frames), as
        text naming the file; they are also issued as Python warnings.
    """

    path: Path | None
    model: str
    tags: dict[str, float]
    top_k: tuple[tuple[str, float], ...]
    duration: float
    patches: int
    timeline: tuple[SegmentPrediction, ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The most probable tag."""
        return self.top_k[0][0]

    @property
    def label(self) -> str:
        """:attr:`tag`, under the name every result shares."""
        return self.tag

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``error`` is ``None``, as opposed to :class:`FailedPrediction`)."""
        data: dict[str, Any] = {
            "path": None if self.path is None else str(self.path),
            "model": self.model,
            "top_k": [{"tag": t, "probability": p} for t, p in self.top_k],
            "tags": self.tags,
            "duration": self.duration,
            "patches": self.patches,
            "error": None,
        }
        if self.timeline is not None:
            data["timeline"] = [{"start": s.start, "end": s.end, "tags": s.probabilities} for s in self.timeline]
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class FailedPrediction:
    """A file that prediction or tagging of many files could not use.

    Attributes
    ----------
    path
        The file.
    error
        Why, naming the file (e.g. ``"x.wav: not a valid WAV file, or it is corrupt ..."``).
    """

    path: Path
    error: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"path": str(self.path), "error": self.error}


def check_top_k(top_k: int, labels: int) -> int:
    """*top_k* capped at the number of *labels*.

    Raises
    ------
    ConfigurationError
        If *top_k* is below 1.
    """
    if top_k < 1:
        raise ConfigurationError(f"top_k must be at least 1, got {top_k}")
    return min(top_k, labels)


def rank(
    labels: Sequence[str], probabilities: Sequence[float], top_k: int
) -> tuple[tuple[tuple[str, float], ...], dict[str, float]]:
    """The *top_k* most probable ``(label, probability)`` pairs, and every label's probability.

    >>> rank(["a", "b", "c"], [0.2, 0.5, 0.3], 2)
    ((('b', 0.5), ('c', 0.3)), {'a': 0.2, 'b': 0.5, 'c': 0.3})
    """
    probs = list(probabilities)
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:top_k]
    return tuple((labels[i], probs[i]) for i in ranked), dict(zip(labels, probs, strict=True))
