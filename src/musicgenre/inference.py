"""Whole-track prediction with a trained model: ``GenreClassifier``.

A track of any length is decoded, mixed to mono and resampled to the model's rate; its
log-mel spectrogram is computed once, for the whole track, and cut into the model's
windows (every ``hop_frames`` frames; the last window, and a track shorter than one
window, padded with the dB of silence), each finished on its own (``top_db`` below the
window's peak). The windows go through the model in batches and their softmax
probabilities are averaged, each weighted by the share of it that holds audio, so a
track ending 0.1 s into its last window is not swayed by a window of silence.

This is the arithmetic evaluation runs on the feature store
(:mod:`musicgenre.audio.windowing` cuts the windows, :mod:`musicgenre.models.scoring`
averages them), so a checkpoint's reported accuracy is what prediction delivers. By
default :meth:`GenreClassifier.from_checkpoint` serves the windows the model was
evaluated with: the first window only (the first 5 s) for the reference recipe, windows
covering the whole track for the improved one.

Speed and memory. The classifier runs an eval-mode copy of the model made by
:func:`~musicgenre.models.fast.optimize_for_inference` (batch-norm folded into the
convolutions, channels-last weights; ``optimize=False`` runs the model as given) under
``torch.inference_mode``. For the ``"first"`` window only the start of a file is
decoded. A file longer than ``stream_seconds`` (10 minutes by default) is decoded block
by block (:func:`~musicgenre.io.iter_audio_blocks`) and its log-mel computed block by block
with the STFT's context carried across blocks, so that it equals the whole-track
spectrogram (within float rounding: a few 1e-6 dB), and the windows go through the model
as they complete: memory stays bounded for any length, and the timeline can be written
as it goes (``on_segment``). :meth:`GenreClassifier.predict_many` runs on
:func:`~musicgenre.parallel.map_files`: worker processes (one per usable core by default,
see :func:`~musicgenre.parallel.default_workers`) each decode a file, compute its
features and, on the CPU, run the model on its windows, so only logits come back;
warnings about a file raised in a worker (:class:`~musicgenre.errors.TruncatedAudioWarning`,
:class:`~musicgenre.errors.DecoderWarning`) are issued again here, once per file, and kept
in :attr:`Prediction.warnings`.

>>> import tempfile
>>> from musicgenre.genres import GENRES
>>> from musicgenre.models import GenreCNN, save_checkpoint
>>> path = save_checkpoint(tempfile.mkdtemp() + "/model.ckpt", GenreCNN(seed=0), classes=GENRES)
>>> classifier = GenreClassifier.from_checkpoint(path)
>>> prediction = classifier.predict(torch.zeros(2, 44100), sample_rate=44100, top_k=2)
>>> len(prediction.top_k), prediction.segments
(2, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre._config import StrPath
from musicgenre.audio import functional as F
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import (
    FrontEnd,
    LogMelFrontEnd,
    Windowing,
    WindowMode,
    cut_windows,
    track_frames,
    window_layout,
)
from musicgenre.device import resolve_device
from musicgenre.errors import AudioDecodeError, CheckpointError, ConfigurationError
from musicgenre.io import (
    audio_info,
    find_audio_files,
    iter_audio_blocks,
    load_mono,
    waveform_to_mono,
)
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.fast import optimize_for_inference
from musicgenre.models.scoring import average_tracks, score_overlapping, score_windows, shares_windows
from musicgenre.models.transfer import MusicnnClassifier
from musicgenre.parallel import FileOutcome, default_workers, map_files, reissue, run_job

__all__ = [
    "FailedPrediction",
    "GenreClassifier",
    "Prediction",
    "SegmentPrediction",
    "find_audio_files",
]

Waveform = torch.Tensor | NDArray[np.floating[Any]]


@dataclass(frozen=True)
class SegmentPrediction:
    """The model's output for one window of a track.

    Attributes
    ----------
    start, end
        Where the window's audio starts and ends, in seconds from the track's start (the
        end of the last window is the track's end, not that of its padding).
    probabilities
        Probability of each class, in the model's class order.
    """

    start: float
    end: float
    probabilities: dict[str, float]

    @property
    def genre(self) -> str:
        """The most probable class of this window."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"start": self.start, "end": self.end, "genre": self.genre, "probabilities": self.probabilities}


@dataclass(frozen=True)
class Prediction:
    """A whole track's prediction.

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
class FailedPrediction:
    """A file that :meth:`GenreClassifier.predict_many` could not use.

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


@dataclass(frozen=True)
class _Track:
    """A track cut into windows, ready for the model."""

    features: torch.Tensor  # (windows, 1, n_mels, n_frames); none left once scored
    weights: torch.Tensor  # (windows,): share of each window that holds audio
    starts: torch.Tensor  # (windows,): first frame of each window
    samples: int  # length of the mono waveform at the model's rate
    logits: torch.Tensor | None = None  # (windows, classes), once the model has scored the windows
    frames: torch.Tensor | None = None  # (1, bands, frames): the windows' source, when no per-window step applies


class _LogMelStream:
    """:meth:`LogMelFrontEnd.frames` of a track that arrives in blocks, frame by frame.

    Frame ``t`` of the whole-track spectrogram covers samples ``[t * hop - n_fft // 2,
    t * hop + n_fft // 2)`` of the track reflected at both ends (``center=True``). The
    stream keeps the samples that the next frames still need (less than ``n_fft``), the
    first ``n_fft // 2 + 1`` samples for the left reflection and the last ``n_fft // 2 + 1``
    for the right one, and transforms each block's complete frames with ``center=False``:
    the same frames, equal to the whole-track ones within float rounding (the FFT and the
    mel product see other batch shapes).
    """

    def __init__(self, front_end: LogMelFrontEnd) -> None:
        self.front_end = front_end
        cfg = front_end.config
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length

    def _frames(self, padded: torch.Tensor) -> torch.Tensor:
        return self.front_end.frames(padded, center=False)

    def __call__(self, blocks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Frames ``(1, n_mels, k)`` of the blocks' concatenation, in order, as they complete."""
        half = self.n_fft // 2
        buffer = torch.empty(0)  # samples of the reflected track from the next frame's start
        head = torch.empty(0)  # the first samples, until there are enough to reflect
        tail = torch.empty(0)  # the last half + 1 samples: the right end's reflection
        started = False
        for block in blocks:
            block = block.reshape(-1)
            tail = torch.cat([tail, block])[-(half + 1) :]
            if not started:
                head = torch.cat([head, block])
                if len(head) <= half:
                    continue
                buffer, started = torch.cat([head[1 : half + 1].flip(0), head]), True
            else:
                buffer = torch.cat([buffer, block])
            count = 0 if len(buffer) < self.n_fft else 1 + (len(buffer) - self.n_fft) // self.hop
            if count:
                yield self._frames(buffer[: (count - 1) * self.hop + self.n_fft])
                buffer = buffer[count * self.hop :]
        if not started:  # at most n_fft // 2 samples in all: the whole-track rule (zero padding)
            if len(head):
                yield self.front_end.frames(head)
            return
        buffer = torch.cat([buffer, tail[:-1].flip(0)])
        count = 1 + (len(buffer) - self.n_fft) // self.hop
        yield self._frames(buffer[: (count - 1) * self.hop + self.n_fft])


class _Featurizer:
    """Decode -> mono -> resample -> whole-track log-mel -> windows. Picklable, so loader workers run it."""

    def __init__(
        self,
        config: FeatureConfig,
        windowing: Windowing,
        front_end: FrontEnd | None = None,
        *,
        stream_seconds: float = 600.0,
        block_seconds: float = 30.0,
    ) -> None:
        self.config = config
        self.windowing = windowing
        self.front_end: FrontEnd = front_end if front_end is not None else LogMelFrontEnd(config)
        self.stream_seconds = stream_seconds
        self.block_seconds = block_seconds

    @property
    def rate(self) -> int:
        return self.front_end.sample_rate

    def load(self, path: Path) -> torch.Tensor:
        return load_mono(path, sample_rate=self.rate)

    def __call__(self, wave: torch.Tensor, samples: int | None = None) -> _Track:
        frames = track_frames(wave, self.front_end, self.windowing)
        track = cut_windows(frames, self.front_end, self.windowing)
        length = len(wave) if samples is None else samples
        shared = frames if self.windowing.mode == "all" and _no_window_step(self.front_end) else None
        return _Track(track.windows, track.weights, track.starts, length, frames=shared)

    def streams(self, path: Path) -> bool:
        """Whether *path* is long enough to be predicted block by block (log-mel front end, all windows)."""
        if self.windowing.mode == "first" or not isinstance(self.front_end, LogMelFrontEnd):
            return False
        info = audio_info(path)
        return info.frames > self.stream_seconds * info.sample_rate

    def first(self, path: Path) -> _Track:
        """The ``"first"`` window's track, decoding only the start of the file."""
        need = self.front_end.window_samples
        seconds = need / self.rate + 0.5
        info = audio_info(path)
        frames, file_rate = info.frames, info.sample_rate
        blocks = iter_audio_blocks(path, sample_rate=self.rate, mono=True, block_seconds=seconds)
        samples = max(1, round(frames * self.rate / file_rate))
        parts: list[torch.Tensor] = []
        got = 0
        try:
            for block in blocks:
                parts.append(block[0])
                got += block.shape[-1]
                if got >= need:
                    break
        finally:  # stop decoding: close the file
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
        return self(torch.cat(parts)[:need], samples)

    def track(self, path: Path) -> _Track | None:
        """The file's windows, or ``None`` if it is to be streamed (:meth:`streams`)."""
        if self.windowing.mode == "first":
            return self.first(path)
        if self.streams(path):
            return None
        return self(self.load(path))


def _no_window_step(front_end: FrontEnd) -> bool:
    """Whether the front end's :meth:`~FrontEnd.finish` leaves windows as cut (a log-mel without ``top_db``)."""
    return isinstance(front_end, LogMelFrontEnd) and front_end.config.top_db is None


class _Scorer:
    """The model's logits for a stack of windows, in batches, under ``inference_mode``. Picklable."""

    def __init__(self, model: torch.nn.Module, batch_size: int, device: torch.device, pad_value: float) -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.pad_value = pad_value
        self.shares = shares_windows(model)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return score_windows(self.model, features, batch_size=self.batch_size, device=self.device).logits

    def track(self, track: _Track) -> torch.Tensor:
        """A track's window logits; overlapping windows share their convolutions where the model allows."""
        if self.shares and track.frames is not None and len(track.starts) > 1:
            with torch.inference_mode():
                frames = track.frames.to(self.device)
                logits = score_overlapping(
                    self.model, frames, track.starts.to(self.device), track.features.shape[-1], pad_value=self.pad_value
                )
            if logits is not None:
                return logits
        return self(track.features)


class _TrackJob:
    """One file's work for :func:`~musicgenre.parallel.map_files`: its windows, and their logits if *score* is given.

    ``None``: the file is to be streamed by the calling process (:meth:`_Featurizer.streams`).
    """

    def __init__(self, featurizer: _Featurizer, score: _Scorer | None) -> None:
        self.featurizer = featurizer
        self.score = score

    def __call__(self, path: Path) -> _Track | None:
        track = self.featurizer.track(path)
        if track is None:
            return None
        if self.score is None:  # scored by the calling process: send the windows only
            return replace(track, frames=None)
        return replace(track, features=track.features[:0], frames=None, logits=self.score.track(track))


class GenreClassifier:
    """Predict the genre of whole tracks with a trained :class:`~musicgenre.models.GenreCNN`.

    Parameters
    ----------
    model
        The trained model; it is put in eval mode on *device*.
    classes
        Label names in the model's output order.
    features
        The feature settings the model was trained with (default: the reference's). Their
        ``n_frames`` (``clip_samples`` of audio) is the window length.
    windowing
        Which windows to score and how to average them
        (:class:`~musicgenre.audio.windowing.Windowing`): ``mode="all"`` (windows covering
        the whole track) or ``"first"`` (the first window only, as the reference recipe is
        evaluated), the hop in frames, and the averaging rule. Default: all windows, back to
        back, probabilities averaged.
    overlap
        Shorthand for ``windowing=Windowing.from_overlap(overlap, n_frames)``: all windows,
        each overlapping the next by this fraction, in ``[0, 1)`` (0.5: a new window every
        half window). Not together with *windowing*.
    batch_size
        Windows per forward pass.
    device
        ``"cpu"``, ``"cuda"``, ``"auto"``...
    optimize
        Run :func:`~musicgenre.models.fast.optimize_for_inference`'s copy of the model
        (batch-norm folded, channels-last: the same outputs within float rounding, about
        1e-6, and several times faster on CPU). ``False`` runs *model* itself.
    stream_seconds
        Files longer than this are decoded and scored block by block, in bounded memory
        (log-mel models, ``"all"`` windows).
    block_seconds
        Seconds of audio decoded per block when streaming.

    Attributes
    ----------
    model : torch.nn.Module
        What runs: the optimised copy (or *model* itself with ``optimize=False``), in eval
        mode on *device*.
    windowing : Windowing
        The windows scored.
    hop : int
        Samples between window starts, ``hop_frames * hop_length``.

    Raises
    ------
    ConfigurationError
        If *classes* or *features* do not fit the model, or *overlap* or *batch_size* is out of range.

    Examples
    --------
    >>> from musicgenre.genres import GENRES
    >>> from musicgenre.models import GenreCNN
    >>> classifier = GenreClassifier(GenreCNN(seed=0), GENRES, overlap=0.5)
    >>> prediction = classifier.predict(torch.zeros(22050 * 12), timeline=True)
    >>> prediction.segments, [s.start for s in prediction.timeline][:3]
    (4, [0.0, 2.507..., 5.015...])
    >>> round(sum(prediction.probabilities.values()), 4)
    1.0
    """

    def __init__(
        self,
        model: GenreCNN | MusicnnClassifier,
        classes: Sequence[str],
        features: FeatureConfig | None = None,
        *,
        windowing: Windowing | None = None,
        overlap: float | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        optimize: bool = True,
        stream_seconds: float = 600.0,
        block_seconds: float = 30.0,
    ) -> None:
        self.features = features or FeatureConfig()
        self.classes = tuple(classes)
        _check_fits(model, self.classes, self.features)
        if windowing is not None and overlap is not None:
            raise ConfigurationError("pass windowing or overlap, not both")
        if overlap is not None:
            windowing = Windowing.from_overlap(overlap, self.features.n_frames)
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.windowing = windowing or Windowing()
        if not (stream_seconds > 0 and block_seconds > 0):
            raise ConfigurationError(
                f"stream_seconds and block_seconds must be positive, got {stream_seconds}, {block_seconds}"
            )
        self.batch_size = batch_size
        self.device = resolve_device(device) if isinstance(device, str) else device
        model = model.to(self.device)
        self.model = optimize_for_inference(model) if optimize else model.eval()
        self.hop = self.windowing.hop(self.features.n_frames) * self.features.hop_length
        # A model with its own front end (a pretrained backbone's, e.g. musicnn's) says so.
        make_front_end = getattr(model, "front_end", None)
        front_end = make_front_end() if callable(make_front_end) else None
        self._featurizer = _Featurizer(
            self.features, self.windowing, front_end, stream_seconds=stream_seconds, block_seconds=block_seconds
        )
        self._scorer = _Scorer(self.model, batch_size, self.device, self._featurizer.front_end.silence)

    @property
    def overlap(self) -> float:
        """Fraction of a window that the next one overlaps (0 for back-to-back windows and for ``"first"``)."""
        if self.windowing.mode == "first":
            return 0.0
        n = self.features.n_frames
        return max(0.0, 1.0 - self.windowing.hop(n) / n)

    @classmethod
    def from_checkpoint(
        cls,
        path: StrPath,
        *,
        windows: WindowMode | None = None,
        overlap: float | None = None,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
        optimize: bool = True,
    ) -> GenreClassifier:
        """Load a checkpoint written by :func:`~musicgenre.models.checkpoint.save_checkpoint`.

        By default the classifier scores the windows the model's recipe was evaluated with,
        as the checkpoint records them (``windowing``; older files: ``eval_hop``), so its
        predictions are those behind the checkpoint's reported accuracy. A checkpoint that
        records neither gets all windows, back to back.

        Parameters
        ----------
        path
            The ``.ckpt`` file.
        windows
            Override the mode: ``"all"`` scores windows covering the whole track even for a
            model evaluated on its ``"first"`` window (the reference recipe): usually
            better on long tracks, but not what the model's reported accuracy measured;
            ``"first"`` scores the first window only.
        overlap
            Override the hop: all windows, overlapping by this fraction (implies
            ``windows="all"``).
        batch_size, device, optimize
            See the class.

        Raises
        ------
        CheckpointError
            If the file is bad (see :func:`~musicgenre.models.checkpoint.load_checkpoint`) or its
            feature settings do not fit its model.
        """
        dev = resolve_device(device) if isinstance(device, str) else device
        checkpoint = load_checkpoint(path, map_location=dev)
        try:
            _check_fits(checkpoint.model, checkpoint.classes, checkpoint.features)
            stored = checkpoint.windowing
            if overlap is not None:
                if windows == "first":
                    raise ConfigurationError("overlap applies to windows='all', not 'first'")
                windowing = Windowing.from_overlap(overlap, checkpoint.features.n_frames, average=stored.average)
            elif windows == "all" and stored.mode == "first":
                windowing = Windowing("all", None, stored.average)
            elif windows is not None:
                windowing = Windowing(windows, stored.hop_frames, stored.average)
            else:
                windowing = stored
        except ConfigurationError as exc:
            raise CheckpointError(str(exc), path=Path(path)) from None
        return cls(
            checkpoint.model,
            checkpoint.classes,
            checkpoint.features,
            windowing=windowing,
            batch_size=batch_size,
            device=dev,
            optimize=optimize,
        )

    # -- one track ----------------------------------------------------------------------
    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at the model's rate: shape ``(time,)``.

        Raises
        ------
        AudioDecodeError
            If the file is missing, empty, corrupt or in an unsupported format.
        """
        return self._featurizer.load(Path(path))

    def _mono(self, waveform: Waveform, sample_rate: int | None) -> torch.Tensor:
        return waveform_to_mono(
            waveform, sample_rate=sample_rate or self.features.sample_rate, target_rate=self.features.sample_rate
        )

    def _logits(self, features: torch.Tensor) -> torch.Tensor:
        return self._scorer(features)

    def _segments(
        self, starts: torch.Tensor, samples: int | None, window_logits: torch.Tensor
    ) -> Iterator[SegmentPrediction]:
        """Each window's prediction; *samples* ``None``: the track goes on past these windows."""
        rate = self.features.sample_rate
        for start, row in zip(
            (starts * self.features.hop_length).tolist(), torch.softmax(window_logits, dim=1), strict=True
        ):
            end = start + self.features.clip_samples
            yield SegmentPrediction(
                start=start / rate,
                end=(end if samples is None else min(end, samples)) / rate,
                probabilities=dict(zip(self.classes, (float(p) for p in row), strict=True)),
            )

    def _prediction(
        self,
        path: Path | None,
        track: _Track,
        window_logits: torch.Tensor,
        top_k: int,
        timeline: bool,
        on_segment: Callable[[SegmentPrediction], None] | None = None,
        caught: tuple[str, ...] = (),
    ) -> Prediction:
        segments: list[SegmentPrediction] | None = None
        if timeline or on_segment is not None:
            segments = list(self._segments(track.starts, track.samples, window_logits))
            if on_segment is not None:
                for segment in segments:
                    on_segment(segment)
        return self._summary(
            path, window_logits, track.weights, track.samples, top_k, segments if timeline else None, caught
        )

    def _summary(
        self,
        path: Path | None,
        window_logits: torch.Tensor,
        weights: torch.Tensor,
        samples: int,
        top_k: int,
        segments: Sequence[SegmentPrediction] | None,
        caught: tuple[str, ...],
    ) -> Prediction:
        mean = average_tracks(window_logits, weights, [len(window_logits)], self.windowing.average)[0]
        probs = [float(p) for p in mean]
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:top_k]
        return Prediction(
            path=path,
            top_k=tuple((self.classes[i], probs[i]) for i in ranked),
            probabilities=dict(zip(self.classes, probs, strict=True)),
            duration=samples / self.features.sample_rate,
            segments=len(window_logits),
            timeline=None if segments is None else tuple(segments),
            warnings=caught,
        )

    def _stream(
        self,
        path: Path,
        top_k: int,
        timeline: bool,
        on_segment: Callable[[SegmentPrediction], None] | None,
        caught: tuple[str, ...] = (),
    ) -> Prediction:
        """Decode, transform and score a long file block by block; windows are scored as they complete.

        Memory holds one decoded block, less than one window of frames beyond it, and ten
        logits per window (40 bytes; 290 kB for three hours of the improved recipe).
        """
        front = self._featurizer.front_end
        assert isinstance(front, LogMelFrontEnd)
        n = front.window_frames
        hop = self.windowing.hop(n)
        rate = self._featurizer.rate
        samples = 0

        def mono_blocks() -> Iterator[torch.Tensor]:
            nonlocal samples
            blocks = iter_audio_blocks(path, sample_rate=rate, mono=True, block_seconds=self._featurizer.block_seconds)
            for block in blocks:
                samples += block.shape[-1]
                yield block[0]

        frames = torch.empty(1, front.config.n_mels, 0)
        first = 0  # frame index of frames[..., 0]
        emitted = 0  # windows scored so far; the next one starts at emitted * hop
        logits: list[torch.Tensor] = []
        segments: list[SegmentPrediction] = []

        def score(windows: torch.Tensor, starts: torch.Tensor, end: int | None) -> None:
            window_logits = self._logits(front.finish(windows))
            logits.append(window_logits)
            if timeline or on_segment is not None:
                for segment in self._segments(starts, end, window_logits):
                    if on_segment is not None:
                        on_segment(segment)
                    if timeline:
                        segments.append(segment)

        with torch.inference_mode():
            for block in _LogMelStream(front)(mono_blocks()):
                frames = torch.cat([frames, block], dim=-1)
                available = first + frames.shape[-1]
                count = 0 if available < emitted * hop + n else (available - n) // hop + 1 - emitted
                if count > 0:
                    starts = (emitted + torch.arange(count)) * hop
                    windows = torch.stack([frames[..., s - first : s - first + n] for s in starts.tolist()])
                    score(windows, starts, None)
                    emitted += count
                keep = min(emitted * hop, available)
                frames, first = frames[..., keep - first :], keep
            total = first + frames.shape[-1]
            starts, weights = window_layout(total, n, self.windowing)
            rest = starts[emitted:]
            if len(rest):
                padded = F.fit_length(frames, int(rest[-1]) - first + n, pad_value=front.silence)
                windows = torch.stack([padded[..., s - first : s - first + n] for s in rest.tolist()])
                score(windows, rest, samples)
        window_logits = torch.cat(logits)
        return self._summary(path, window_logits, weights, samples, top_k, segments if timeline else None, caught)

    def predict(
        self,
        source: StrPath | Waveform,
        *,
        sample_rate: int | None = None,
        top_k: int = 3,
        timeline: bool = False,
        on_segment: Callable[[SegmentPrediction], None] | None = None,
    ) -> Prediction:
        """Predict the genre of one whole track.

        Parameters
        ----------
        source
            An audio file (WAV, FLAC, OGG, MP3, AU, AIFF; any rate, any channel count), or a
            waveform of shape ``(time,)`` or ``(channels, time)`` (tensor or array).
        sample_rate
            Rate of a waveform *source*; ``None`` means the model's. Ignored for files.
        top_k
            How many ``(genre, probability)`` pairs :attr:`Prediction.top_k` holds (at most
            the number of classes).
        timeline
            Also return each window's prediction (:attr:`Prediction.timeline`).
        on_segment
            Called with each window's prediction, in order, as soon as it is scored (for a
            long file, while the rest is still being decoded): write a timeline as it goes
            without holding it.

        Returns
        -------
        Prediction

        Raises
        ------
        AudioDecodeError
            If a file cannot be decoded (the message names it).
        ConfigurationError
            If *top_k* is below 1, or a waveform is empty, badly shaped or not finite.
        """
        k = self._check_top_k(top_k)
        if isinstance(source, torch.Tensor | np.ndarray):
            track = self._featurizer(self._mono(source, sample_rate))
            return self._prediction(None, track, self._scorer.track(track), k, timeline, on_segment)
        path = Path(source)
        outcome = run_job(self._featurizer.track, 0, path, catch=False)
        caught = reissue(outcome, stacklevel=2)
        if outcome.value is None:
            return self._stream(path, k, timeline, on_segment, caught)
        track = outcome.value
        return self._prediction(path, track, self._scorer.track(track), k, timeline, on_segment, caught)

    def _check_top_k(self, top_k: int) -> int:
        if top_k < 1:
            raise ConfigurationError(f"top_k must be at least 1, got {top_k}")
        return min(top_k, len(self.classes))

    # -- many files ---------------------------------------------------------------------
    def predict_many(
        self,
        paths: Sequence[StrPath],
        *,
        top_k: int = 3,
        timeline: bool = False,
        batch_size: int = 4,
        num_workers: int | None = None,
        progress: bool | None = None,
        on_segment: Callable[[Path, SegmentPrediction], None] | None = None,
    ) -> list[Prediction | FailedPrediction]:
        """Predict many files in worker processes; a bad file never stops the rest.

        Parameters
        ----------
        paths
            Audio files (use :func:`find_audio_files` for a folder).
        top_k, timeline
            As in :meth:`predict`.
        batch_size
            Files per batch (:func:`~musicgenre.parallel.map_files`). On an accelerator
            the windows of a batch's files go through the model together (in forward
            passes of the classifier's ``batch_size`` windows).
        num_workers
            Processes (one torch thread each) that decode files, compute their features
            and, on the CPU, run the model on them: each worker keeps one core busy from
            the file to its logits. On an accelerator this process runs the model. 0 does
            everything in this process (with all of torch's threads). ``None`` (default):
            :func:`~musicgenre.parallel.default_workers` for the number of files. Files
            longer than ``stream_seconds`` are streamed by this process.
        progress
            Show a tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
        on_segment
            Called with each file and each of its windows' predictions, as they are scored.

        Returns
        -------
        list of Prediction or FailedPrediction
            One per path, in order; a file that cannot be decoded gives a
            :class:`FailedPrediction` naming it and the reason.

        Warns
        -----
        MusicGenreWarning
            What decoding a file raised (:class:`~musicgenre.errors.TruncatedAudioWarning`,
            :class:`~musicgenre.errors.DecoderWarning`), in worker processes too: each is
            issued again here, once per file, and kept in :attr:`Prediction.warnings`.
        """
        k = self._check_top_k(top_k)
        workers = default_workers(len(paths)) if num_workers is None else num_workers
        # On the CPU each file's job runs the model too, so every worker keeps a core busy
        # end to end; on an accelerator the windows of a batch of files go to it together.
        job = _TrackJob(self._featurizer, self._scorer if self.device.type == "cpu" else None)
        results: list[Prediction | FailedPrediction] = []
        for batch in map_files(
            job, paths, num_workers=workers, files_per_batch=batch_size, progress=progress, desc="predicting"
        ):
            results.extend(self._predict_batch(batch, k, timeline, on_segment))
        return results

    def _predict_batch(
        self,
        batch: list[FileOutcome[_Track | None]],
        top_k: int,
        timeline: bool,
        on_segment: Callable[[Path, SegmentPrediction], None] | None,
    ) -> Iterator[Prediction | FailedPrediction]:
        unscored = [o.value for o in batch if o.value is not None and o.value.logits is None]
        logits = self._logits(torch.cat([t.features for t in unscored])) if unscored else torch.empty(0)
        per_track = iter(torch.split(logits, [len(t.features) for t in unscored]))
        for outcome in batch:
            caught = reissue(outcome, stacklevel=4)
            report = None if on_segment is None else _bind(on_segment, outcome.path)
            track = outcome.value
            if outcome.error is not None:
                yield FailedPrediction(outcome.path, outcome.error)
            elif track is None:
                try:
                    yield self._stream(outcome.path, top_k, timeline, report, caught)
                except AudioDecodeError as exc:
                    yield FailedPrediction(outcome.path, str(exc))
            else:
                window_logits = track.logits if track.logits is not None else next(per_track)
                yield self._prediction(outcome.path, track, window_logits, top_k, timeline, report, caught)


def _bind(callback: Callable[[Path, SegmentPrediction], None], path: Path) -> Callable[[SegmentPrediction], None]:
    return lambda segment: callback(path, segment)


def _check_fits(model: GenreCNN | MusicnnClassifier, classes: Sequence[str], features: FeatureConfig) -> None:
    cfg = model.config
    if len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    if cfg.n_mels != features.n_mels or (not cfg.global_pool and cfg.n_frames != features.n_frames):
        raise ConfigurationError(
            f"the features give (1, {features.n_mels}, {features.n_frames}) spectrograms but the model "
            f"expects (1, {cfg.n_mels}, {cfg.n_frames}); pass the FeatureConfig it was trained with"
        )
