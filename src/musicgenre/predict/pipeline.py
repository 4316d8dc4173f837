"""The track pipeline that prediction and tagging share: decode -> front end -> windows -> scorer -> reduce.

A :class:`TrackPipeline` is configured with three parts and runs one track or many files
(on :func:`~musicgenre.parallel.map_files`) through them:

- a :class:`~musicgenre.predict.featurizer.Featurizer`: decoding (mono, at the front
  end's rate), the front end (:class:`~musicgenre.audio.windowing.FrontEnd`: a track's
  frames, computed once for the whole track) and the windows cut from them
  (:class:`~musicgenre.predict.featurizer.SlidingWindows`, the
  :class:`~musicgenre.audio.windowing.Windowing` that evaluation uses, or
  :class:`~musicgenre.predict.featurizer.Patches`, musicnn's back-to-back patches);
- a :class:`Scorer`: the model over the windows, in forward passes of ``batch_size``
  windows (:func:`~musicgenre.models.scoring.score_windows`), where the model allows with
  the convolutions of overlapping windows shared
  (:func:`~musicgenre.models.cnn_scoring.score_overlapping`);
- a :class:`Reduction`: each window's probabilities and the track's
  (:class:`SoftmaxAverage`, the genre models' weighted average; :class:`MeanOfWindows`,
  the mean of musicnn's tag probabilities).

:class:`~musicgenre.predict.GenreClassifier` and :class:`~musicgenre.predict.Tagger`
each build one and turn its :class:`TrackOutput` into their result type. On the CPU each
worker process runs a file from its decoding to the model's outputs and sends back only
those; on an accelerator the workers send the windows and this process scores the windows
of a batch of files together. A file longer than ``stream_seconds`` (log-mel front end,
``"all"`` windows) is decoded and scored block by block in this process
(:mod:`musicgenre.predict.streaming`).

>>> from musicgenre.audio.transforms import FeatureConfig
>>> from musicgenre.audio.windowing import LogMelFrontEnd, Windowing
>>> from musicgenre.models import GenreCNN
>>> from musicgenre.predict.featurizer import Featurizer, SlidingWindows
>>> pipeline = TrackPipeline(
...     Featurizer(LogMelFrontEnd(FeatureConfig()), SlidingWindows(Windowing())),
...     Scorer(GenreCNN(seed=0).eval(), batch_size=8),
...     SoftmaxAverage(),
...     labels=[str(i) for i in range(10)],
... )
>>> output = pipeline.run(torch.zeros(22050 * 12), timeline=True)
>>> output.windows, len(output.timeline), round(sum(output.probabilities), 4)
(3, 3, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from musicgenre._config import StrPath
from musicgenre.audio.windowing import Averaging
from musicgenre.errors import AudioDecodeError, ConfigurationError
from musicgenre.models.cnn_scoring import score_overlapping, shares_windows
from musicgenre.models.scoring import average_tracks, score_windows
from musicgenre.parallel import FileOutcome, default_workers, map_files, reissue, run_job
from musicgenre.predict.featurizer import Featurizer, Track, Waveform
from musicgenre.predict.results import FailedPrediction, SegmentPrediction

__all__ = [
    "MeanOfWindows",
    "Reduction",
    "Scorer",
    "SegmentCallback",
    "SoftmaxAverage",
    "TrackJob",
    "TrackOutput",
    "TrackPipeline",
]


class Scorer:
    """A model over windows, in forward passes of *batch_size* windows, under ``inference_mode``. Picklable.

    Parameters
    ----------
    model
        Windows -> outputs ``(windows, outputs)``, in eval mode.
    batch_size
        Windows per forward pass.
    device
        Where the model runs (the windows are moved there; the outputs come back to the CPU).
    pad_value
        The frame value that pads a track's last window (the front end's silence), for
        :func:`~musicgenre.models.cnn_scoring.score_overlapping`.
    """

    def __init__(
        self, model: torch.nn.Module, *, batch_size: int, device: torch.device | None = None, pad_value: float = 0.0
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.device = device or torch.device("cpu")
        self.pad_value = pad_value
        self.shares = shares_windows(model)
        """Whether the model scores a track's overlapping windows with their convolutions shared."""

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        """The outputs of a stack of windows (of one track or several), on the CPU."""
        with torch.inference_mode():
            return score_windows(self.model, windows, batch_size=self.batch_size, device=self.device).logits

    def track(self, track: Track) -> torch.Tensor:
        """A track's window outputs; overlapping windows share their convolutions where the model allows."""
        if self.shares and track.frames is not None and len(track.starts) > 1:
            with torch.inference_mode():
                frames = track.frames.to(self.device)
                starts = track.starts.to(self.device)
                outputs = score_overlapping(
                    self.model, frames, starts, track.windows.shape[-1], pad_value=self.pad_value
                )
            if outputs is not None:
                return outputs
        return self(track.windows)


class Reduction(Protocol):
    """Window outputs -> probabilities: each window's (a timeline) and the track's."""

    def windows(self, outputs: torch.Tensor) -> torch.Tensor:
        """Each window's probabilities, ``(windows, labels)``."""
        ...

    def track(self, outputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The track's probabilities, ``(labels,)``."""
        ...


@dataclass(frozen=True)
class SoftmaxAverage:
    """Logits -> softmax probabilities; the track's by the *average* rule.

    The track's probabilities are :func:`~musicgenre.models.scoring.average_tracks`'s, as evaluation computes them.
    """

    average: Averaging = "probabilities"

    def windows(self, outputs: torch.Tensor) -> torch.Tensor:
        """The softmax of each window's logits."""
        return torch.softmax(outputs, dim=1)

    def track(self, outputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The windows' weighted average (of probabilities or of logits)."""
        return average_tracks(outputs, weights, [len(outputs)], self.average)[0]


@dataclass(frozen=True)
class MeanOfWindows:
    """Probabilities per window as the model gives them (e.g. independent tags); the track's is their mean."""

    def windows(self, outputs: torch.Tensor) -> torch.Tensor:
        """The outputs unchanged."""
        return outputs

    def track(self, outputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The unweighted mean over the windows."""
        return outputs.mean(dim=0)


@dataclass(frozen=True)
class TrackOutput:
    """What the pipeline gives for one track.

    Attributes
    ----------
    path
        The file, or ``None`` for a waveform.
    probabilities
        The track's probability of each label, in order.
    windows
        Windows scored.
    duration
        Length of the track in seconds.
    timeline
        Each window's prediction, if asked for.
    warnings
        The warnings decoding the file raised, as text naming it.
    """

    path: Path | None
    probabilities: tuple[float, ...]
    windows: int
    duration: float
    timeline: tuple[SegmentPrediction, ...] | None = None
    warnings: tuple[str, ...] = ()


class TrackJob:
    """One file's work for :func:`~musicgenre.parallel.map_files`: its windows, and their outputs if *scorer* is given.

    ``None``: the file is to be streamed by the calling process
    (:meth:`~musicgenre.predict.featurizer.Featurizer.streams`).
    """

    def __init__(self, featurizer: Featurizer, scorer: Scorer | None) -> None:
        self.featurizer = featurizer
        self.scorer = scorer

    def __call__(self, path: Path) -> Track | None:
        """The file's :class:`Track`: scored (no windows sent back) with a scorer, else its windows."""
        track = self.featurizer.track(path)
        if track is None:
            return None
        if self.scorer is None:  # scored by the calling process: send the windows only
            return replace(track, frames=None)
        return replace(track, windows=track.windows[:0], frames=None, outputs=self.scorer.track(track))


SegmentCallback = Callable[[SegmentPrediction], None]
"""Called with each window's prediction as soon as it is scored (``on_segment``)."""


class TrackPipeline:
    """Decode -> front end -> windows -> scorer -> reduce, for one track or many files.

    Parameters
    ----------
    featurizer
        Decoding, the front end and the windows.
    scorer
        The model over the windows.
    reduction
        Each window's probabilities and the track's.
    labels
        The names of the model's outputs, in order.
    """

    def __init__(self, featurizer: Featurizer, scorer: Scorer, reduction: Reduction, *, labels: Sequence[str]) -> None:
        self.featurizer = featurizer
        self.scorer = scorer
        self.reduction = reduction
        self.labels = tuple(labels)

    @property
    def sample_rate(self) -> int:
        """The rate tracks are decoded and resampled to."""
        return self.featurizer.sample_rate

    @property
    def scores_in_workers(self) -> bool:
        """Whether :meth:`run_many`'s workers run the model too (on the CPU), or send the windows here."""
        return self.scorer.device.type == "cpu"

    def segments(self, starts: torch.Tensor, samples: int | None, outputs: torch.Tensor) -> Iterator[SegmentPrediction]:
        """Each window's prediction; *samples* ``None``: the track goes on past these windows."""
        rate = self.sample_rate
        hop = self.featurizer.front_end.hop_length
        span = self.featurizer.windows.span(self.featurizer.front_end)
        for start, row in zip((starts * hop).tolist(), self.reduction.windows(outputs), strict=True):
            end = start + span
            yield SegmentPrediction(
                start=start / rate,
                end=(end if samples is None else min(end, samples)) / rate,
                probabilities=dict(zip(self.labels, (float(p) for p in row), strict=True)),
            )

    def _output(
        self,
        path: Path | None,
        outputs: torch.Tensor,
        weights: torch.Tensor,
        samples: int,
        segments: Sequence[SegmentPrediction] | None,
        warnings: tuple[str, ...],
    ) -> TrackOutput:
        return TrackOutput(
            path=path,
            probabilities=tuple(float(p) for p in self.reduction.track(outputs, weights)),
            windows=len(outputs),
            duration=samples / self.sample_rate,
            timeline=None if segments is None else tuple(segments),
            warnings=warnings,
        )

    def finish(
        self,
        path: Path | None,
        track: Track,
        outputs: torch.Tensor,
        *,
        timeline: bool = False,
        on_segment: SegmentCallback | None = None,
        warnings: tuple[str, ...] = (),
    ) -> TrackOutput:
        """A scored track's :class:`TrackOutput` (*outputs*: its windows' outputs)."""
        segments: list[SegmentPrediction] | None = None
        if timeline or on_segment is not None:
            segments = list(self.segments(track.starts, track.samples, outputs))
            if on_segment is not None:
                for segment in segments:
                    on_segment(segment)
        return self._output(path, outputs, track.weights, track.samples, segments if timeline else None, warnings)

    def stream(
        self,
        path: Path,
        *,
        timeline: bool = False,
        on_segment: SegmentCallback | None = None,
        warnings: tuple[str, ...] = (),
    ) -> TrackOutput:
        """Decode, transform and score a long file block by block; windows are scored as they complete.

        Memory holds one decoded block, less than one window of frames beyond it, and the
        outputs of each window (ten floats; 290 kB for three hours of the improved recipe).
        """
        stream = self.featurizer.stream(path)
        outputs: list[torch.Tensor] = []
        segments: list[SegmentPrediction] = []
        with torch.inference_mode():
            for windows, starts, last in stream:
                window_outputs = self.scorer(windows)
                outputs.append(window_outputs)
                if timeline or on_segment is not None:
                    for segment in self.segments(starts, stream.samples if last else None, window_outputs):
                        if on_segment is not None:
                            on_segment(segment)
                        if timeline:
                            segments.append(segment)
        all_outputs = torch.cat(outputs)
        return self._output(path, all_outputs, stream.weights, stream.samples, segments if timeline else None, warnings)

    def run(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        timeline: bool = False,
        on_segment: SegmentCallback | None = None,
        stacklevel: int = 2,
    ) -> TrackOutput:
        """One track, a file or a waveform (at *sample_rate*; ``None``: the front end's rate).

        The warnings decoding a file raises are issued again, attributed *stacklevel* frames
        up as ``warnings.warn`` counts from here (2: the caller of this method), and
        kept in :attr:`TrackOutput.warnings`.

        Raises
        ------
        AudioDecodeError
            If a file cannot be decoded (the message names it).
        ConfigurationError
            If a waveform is empty, badly shaped or not finite.
        """
        if isinstance(source, torch.Tensor | np.ndarray):
            track = self.featurizer.cut(self.featurizer.mono(source, sample_rate))
            return self.finish(None, track, self.scorer.track(track), timeline=timeline, on_segment=on_segment)
        path = Path(source)
        outcome = run_job(self.featurizer.track, 0, path, catch=False)
        caught = reissue(outcome, stacklevel=stacklevel)
        if outcome.value is None:
            return self.stream(path, timeline=timeline, on_segment=on_segment, warnings=caught)
        track = outcome.value
        return self.finish(
            path, track, self.scorer.track(track), timeline=timeline, on_segment=on_segment, warnings=caught
        )

    def run_many(
        self,
        paths: Sequence[StrPath],
        *,
        timeline: bool = False,
        files_per_batch: int = 4,
        num_workers: int | None = None,
        progress: bool | None = None,
        desc: str = "files",
        on_segment: Callable[[Path, SegmentPrediction], None] | None = None,
        stacklevel: int = 2,
    ) -> Iterator[TrackOutput | FailedPrediction]:
        """Many files in worker processes, one output per path in order; a bad file never stops the rest.

        On the CPU each worker runs a file from decoding to the model's outputs; on an
        accelerator the workers send the windows and the windows of a batch of files go
        through the model together. Files to stream
        (:meth:`~musicgenre.predict.featurizer.Featurizer.streams`) are streamed by this
        process. *num_workers* ``None``: :func:`~musicgenre.parallel.default_workers`. The warnings each file raised are
        issued again here, attributed *stacklevel* frames up as ``warnings.warn`` counts
        from here (2: the code that iterates), and kept in :attr:`TrackOutput.warnings`.
        """
        workers = default_workers(len(paths)) if num_workers is None else num_workers
        job = TrackJob(self.featurizer, self.scorer if self.scores_in_workers else None)
        for batch in map_files(
            job, paths, num_workers=workers, files_per_batch=files_per_batch, progress=progress, desc=desc
        ):
            yield from self._batch(batch, timeline, on_segment, stacklevel + 1)

    def _batch(
        self,
        batch: list[FileOutcome[Track | None]],
        timeline: bool,
        on_segment: Callable[[Path, SegmentPrediction], None] | None,
        stacklevel: int,
    ) -> Iterator[TrackOutput | FailedPrediction]:
        unscored = [o.value for o in batch if o.value is not None and o.value.outputs is None]
        outputs = self.scorer(torch.cat([t.windows for t in unscored])) if unscored else torch.empty(0)
        per_track = iter(torch.split(outputs, [len(t.windows) for t in unscored]))
        for outcome in batch:
            caught = reissue(outcome, stacklevel=stacklevel)
            report = None if on_segment is None else _bind(on_segment, outcome.path)
            track = outcome.value
            if outcome.error is not None:
                yield FailedPrediction(outcome.path, outcome.error)
            elif track is None:
                try:
                    yield self.stream(outcome.path, timeline=timeline, on_segment=report, warnings=caught)
                except AudioDecodeError as exc:
                    yield FailedPrediction(outcome.path, str(exc))
            else:
                window_outputs = track.outputs if track.outputs is not None else next(per_track)
                yield self.finish(
                    outcome.path, track, window_outputs, timeline=timeline, on_segment=report, warnings=caught
                )


def _bind(callback: Callable[[Path, SegmentPrediction], None], path: Path) -> SegmentCallback:
    return lambda segment: callback(path, segment)
