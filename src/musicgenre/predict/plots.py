"""Timelines of one long recording: what each window of a DJ mix, a radio show or a concert sounds like.

:func:`timeline_figure` draws a result's per-window output (``predict(..., timeline=True)``,
``tag(..., timeline=True)``, ``musicgenre predict --timeline``) against time:

- genres (each window's probabilities sum to 1): the probabilities stacked over time, the
  ``top`` genres by mean probability and the rest as "other", under a band coloured by
  each window's most probable genre;
- tags (independent probabilities): a heat map of the ``top`` tags over time.

:func:`plot_timeline` writes the figure to a file. Both need the ``plots`` extra (matplotlib).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from musicgenre._plotting import pyplot, save_figure
from musicgenre.errors import ConfigurationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TimedResult", "TimedSegment", "plot_timeline", "timeline_figure"]


class TimedSegment(Protocol):
    """One window's output: where it lies in the recording and each label's probability."""

    @property
    def start(self) -> float:
        """Seconds from the recording's start."""

    @property
    def end(self) -> float:
        """Seconds from the recording's start."""

    @property
    def probabilities(self) -> Mapping[str, float]:
        """Each label's probability, in the model's label order."""


class TimedResult(Protocol):
    """A whole recording's result with its per-window timeline (a prediction or a tag result)."""

    @property
    def path(self) -> Path | None:
        """The file, or ``None`` for audio passed in memory."""

    @property
    def duration(self) -> float:
        """Length of the recording in seconds."""

    @property
    def timeline(self) -> Sequence[TimedSegment] | None:
        """Each window's output, or ``None`` if it was not asked for."""


def _clock(seconds: float, _: object = None) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def _tick_step(duration: float) -> int:
    """Seconds between time ticks: the smallest clock-friendly step giving at most ten ticks."""
    return next((step for step in _STEPS if duration / step <= 10), _STEPS[-1])


def _matrix(segments: Sequence[TimedSegment]) -> tuple[list[str], NDArray[np.float64]]:
    labels = list(segments[0].probabilities)
    values = np.array([[s.probabilities[label] for label in labels] for s in segments], dtype=np.float64)
    return labels, values


def timeline_figure(result: TimedResult, *, top: int = 6, title: str | None = None) -> Figure:
    """The timeline of *result* as a matplotlib figure (genres stacked, or tags as a heat map).

    Parameters
    ----------
    result
        A :class:`~musicgenre.predict.Prediction` or :class:`~musicgenre.predict.TagResult`
        made with ``timeline=True``.
    top
        Labels drawn: the *top* by mean probability over the recording (for genres, the
        rest are summed as "other").
    title
        The figure's title; default: the file's name.

    Returns
    -------
    matplotlib.figure.Figure
        Its time axis spans ``0`` to ``result.duration`` seconds.

    Raises
    ------
    ConfigurationError
        If *result* has no timeline (ask for ``timeline=True``) or *top* < 1.
    MissingDependencyError
        If matplotlib is not installed.
    """
    segments = result.timeline
    if not segments:
        raise ConfigurationError("this result has no timeline: predict or tag with timeline=True (--timeline)")
    if top < 1:
        raise ConfigurationError(f"top must be at least 1, got {top}")
    plt = pyplot()
    labels, values = _matrix(segments)
    order = np.argsort(-values.mean(0), kind="stable")[:top]
    starts = np.array([s.start for s in segments])
    ends = np.array([s.end for s in segments])
    duration = max(float(result.duration), float(ends.max()))
    name = title if title is not None else (result.path.name if result.path is not None else "timeline")
    is_distribution = bool(np.allclose(values.sum(1), 1.0, atol=1e-3))
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    colours = {label: cmap(i % cmap.N) for i, label in enumerate(labels)}
    if is_distribution:
        fig, (band, ax) = plt.subplots(
            2, 1, figsize=(10, 4.2), sharex=True, gridspec_kw={"height_ratios": [1, 6], "hspace": 0.05}
        )
        # Each window drawn at its centre; the first and last values held to the recording's ends.
        centres = np.concatenate([[0.0], (starts + ends) / 2, [duration]])
        rows = np.concatenate([values[:1], values, values[-1:]])
        shown = [labels[i] for i in order]
        stack = [rows[:, i] for i in order]
        rest = rows.sum(1) - np.sum(stack, axis=0)
        if len(shown) < len(labels):
            shown, stack = [*shown, "other"], [*stack, rest]
        ax.stackplot(
            centres, stack, labels=shown, colors=[colours.get(lb, (0.8, 0.8, 0.8, 1.0)) for lb in shown], alpha=0.9
        )
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        winners = values.argmax(1)
        edges = np.concatenate([[0.0], (ends[:-1] + starts[1:]) / 2, [duration]])
        for i, w in enumerate(winners):
            band.axvspan(edges[i], edges[i + 1], color=colours[labels[w]], linewidth=0)
        band.set_yticks([])
        band.set_ylabel("top", rotation=0, ha="right", va="center")
        band.set_title(name)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        fig, ax = plt.subplots(figsize=(10, 0.9 + 0.35 * len(order)))
        shown = [labels[i] for i in order]
        image = ax.imshow(
            values[:, order].T,
            aspect="auto",
            interpolation="nearest",
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
            extent=(0.0, duration, len(order) - 0.5, -0.5),
        )
        ax.set_yticks(range(len(shown)), shown)
        ax.set_title(name)
        fig.colorbar(image, ax=ax, label="probability", fraction=0.03, pad=0.01)
    ax.set_xlim(0.0, duration)
    ax.xaxis.set_major_locator(plt.MultipleLocator(_tick_step(duration)))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(_clock))
    ax.set_xlabel("time")
    figure: Figure = fig
    return figure


def plot_timeline(result: TimedResult, path: str | os.PathLike[str], *, top: int = 6, title: str | None = None) -> Path:
    """Write :func:`timeline_figure` of *result* to *path* (PNG, or what its suffix names).

    Examples
    --------
    >>> import tempfile, torch
    >>> from musicgenre.genres import GENRES
    >>> from musicgenre.models import GenreCNN
    >>> from musicgenre.predict import GenreClassifier
    >>> classifier = GenreClassifier(GenreCNN(seed=0), GENRES, overlap=0.5)
    >>> prediction = classifier.predict(torch.zeros(22050 * 12), timeline=True)
    >>> plot_timeline(prediction, Path(tempfile.mkdtemp()) / "timeline.png").stat().st_size > 0
    True

    Raises
    ------
    ConfigurationError, MissingDependencyError
        As :func:`timeline_figure`.
    """
    return save_figure(timeline_figure(result, top=top, title=title), path)
