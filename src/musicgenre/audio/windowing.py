"""One spectrogram per track, cut into the model's windows: the windowing that evaluation and prediction share.

A track is turned into model inputs in three steps, the same in evaluation
(:func:`~musicgenre.evaluation.tracks.evaluate_tracks`, on the feature store) and in
prediction (:class:`~musicgenre.predict.GenreClassifier`, on files):

1. :meth:`FrontEnd.frames`: the front end's features of the **whole track at once**, one
   frame every ``hop_length`` samples (:class:`LogMelFrontEnd`: the power mel spectrogram in
   dB, without any floor). This is what :func:`~musicgenre.data.cache.extract_features` stores.
2. :func:`cut_windows`: the model's windows cut from those frames, every
   :meth:`Windowing.hop` frames, the last one padded with the front end's
   :attr:`~FrontEnd.silence` (the frame value of digital silence, so a window never depends
   on audio that comes after it), each weighted by the share of its frames that hold audio.
3. :meth:`FrontEnd.finish`: what is done per window (:class:`LogMelFrontEnd`: the ``top_db``
   floor below **each window's** peak, as the window's own spectrogram has it).

With ``mode="first"`` (the reference's evaluation) only the first window's audio is used:
the track is cut to ``window_samples`` before step 1, so the features are exactly the
reference's spectrogram of the first clip (padded with silence if the track is shorter).

How close are windows cut from a whole-track spectrogram to the spectrogram of each
window's own samples (what :class:`~musicgenre.predict.GenreClassifier` computed in
musicgenre 0.1.0)? Every frame whose STFT window lies inside the window's samples is equal to the bit;
only the frames within ``n_fft // 2`` samples of a window's edges differ, because the
whole-track spectrogram sees the neighbouring audio where the window's own spectrogram
reflects its edge: ``ceil(n_fft / 2 / hop_length)`` frames per side (2 for the improved
recipe, n_fft 2048 and hop 512; 1 for the reference, only at the end, since the first
window starts where the track does).

>>> import torch
>>> from musicgenre.audio.transforms import FeatureConfig
>>> front = LogMelFrontEnd(FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128))
>>> frames = front.frames(torch.zeros(8000 * 2))  # 2 s of silence
>>> track = cut_windows(frames, front, Windowing(hop_frames=16))
>>> tuple(track.windows.shape), track.weights.tolist()[-2:]
((7, 1, 16, 32), [1.0, 0.9375])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch

from musicgenre._config import check_keys
from musicgenre.audio import functional as F
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import ConfigurationError

__all__ = [
    "Averaging",
    "FrontEnd",
    "LogMelFrontEnd",
    "Tail",
    "TrackWindows",
    "WindowMode",
    "Windowing",
    "cut_windows",
    "track_frames",
    "window_layout",
]

WindowMode = Literal["first", "all"]
"""Which windows of a track are scored, ``"first"`` (the first window only, as the reference evaluates) or ``"all"``."""

Tail = Literal["pad", "drop"]
"""What ``"all"`` windows do with the frames after the last whole window, ``"pad"`` them or ``"drop"`` them."""

Averaging = Literal["probabilities", "logits"]
"""How window outputs are averaged per track, ``"probabilities"`` (mean softmax) or ``"logits"`` (mean logit)."""


@dataclass(frozen=True)
class Windowing:
    """Which windows of a track a model sees and how their outputs are averaged.

    Checkpoints record it (:meth:`to_dict`), so prediction serves a model with exactly the
    windowing its recipe was evaluated with.

    Attributes
    ----------
    mode
        ``"first"``: the first window only (the track's first ``window_samples``, padded with
        silence if shorter); ``"all"``: windows covering the whole track.
    hop_frames
        Frames between window starts in ``"all"`` mode; ``None`` is the window's length
        (back-to-back windows). A frame is ``hop_length`` samples.
    average
        ``"probabilities"`` (default): the mean of the windows' softmax probabilities,
        weighted by the share of each window that holds audio. ``"logits"``: the softmax of
        the same weighted mean of the logits (for a linear head over averaged features).
    tail
        ``"all"`` mode: ``"pad"`` (default) adds a last window padded with silence where
        the track does not end on a window's end, weighted by its share of audio;
        ``"drop"`` leaves the frames after the last whole window out, as musicnn cuts its
        patches (a track shorter than one window is still one padded window). For a 30-s
        track and 3-s windows, ``"drop"`` scores 10 windows instead of 11 (the 11th holding
        0.02 s of audio).

    Examples
    --------
    >>> Windowing(hop_frames=64).hop(129), Windowing().hop(129)
    (64, 129)
    >>> Windowing.from_dict(Windowing(mode="first").to_dict())
    Windowing(mode='first', hop_frames=None, average='probabilities', tail='pad')
    >>> [len(window_layout(1876, 187, Windowing(tail=tail))[0]) for tail in ("pad", "drop")]
    [11, 10]
    """

    mode: WindowMode = "all"
    hop_frames: int | None = None
    average: Averaging = "probabilities"
    tail: Tail = "pad"

    def __post_init__(self) -> None:
        if self.mode not in ("first", "all"):
            raise ConfigurationError(f"Windowing.mode must be 'first' or 'all', got {self.mode!r}")
        if self.average not in ("probabilities", "logits"):
            raise ConfigurationError(f"Windowing.average must be 'probabilities' or 'logits', got {self.average!r}")
        if self.tail not in ("pad", "drop"):
            raise ConfigurationError(f"Windowing.tail must be 'pad' or 'drop', got {self.tail!r}")
        if self.hop_frames is not None and (isinstance(self.hop_frames, bool) or self.hop_frames < 1):
            raise ConfigurationError(f"Windowing.hop_frames must be a positive number of frames, got {self.hop_frames}")

    @classmethod
    def from_overlap(cls, overlap: float, window_frames: int, *, average: Averaging = "probabilities") -> Windowing:
        """``"all"`` windows overlapping by *overlap* (in ``[0, 1)``) of *window_frames*.

        The hop is ``max(1, round(window_frames * (1 - overlap)))`` frames.
        """
        if not 0.0 <= overlap < 1.0:
            raise ConfigurationError(f"overlap must be in [0, 1), got {overlap}")
        return cls("all", max(1, round(window_frames * (1.0 - overlap))), average)

    def hop(self, window_frames: int) -> int:
        """Frames between window starts for windows of *window_frames* frames."""
        return window_frames if self.hop_frames is None else self.hop_frames

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for checkpoints and ``metrics.json``); ``tail`` only where it is not ``"pad"``.

        Leaving the default out keeps what earlier versions wrote (and read) for the
        windowings they knew, feature-cache keys included.
        """
        data = asdict(self)
        if self.tail == "pad":
            del data["tail"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Windowing:
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`~musicgenre.errors.ConfigurationError`."""
        check_keys(cls, data)
        hop = data.get("hop_frames")
        return cls(
            mode=data.get("mode", "all"),
            hop_frames=None if hop is None else int(hop),
            average=data.get("average", "probabilities"),
            tail=data.get("tail", "pad"),
        )


@runtime_checkable
class FrontEnd(Protocol):
    """What turns a mono waveform into the frames the model's windows are cut from.

    :class:`LogMelFrontEnd` is the log-mel front end of :class:`FeatureConfig`; a pretrained
    model's front end (for example musicnn's) plugs in the same way.
    """

    @property
    def sample_rate(self) -> int:
        """Rate the waveform must have, in Hz."""
        ...

    @property
    def hop_length(self) -> int:
        """Samples between frames."""
        ...

    @property
    def window_samples(self) -> int:
        """Samples of audio in one model window (what ``"first"`` mode keeps)."""
        ...

    @property
    def window_frames(self) -> int:
        """Frames in one model window."""
        ...

    @property
    def silence(self) -> float:
        """The frame value of digital silence, which pads the last window."""
        ...

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Features of a whole mono track: ``(time,)`` or ``(1, time)`` -> ``(1, bands, frames)``."""
        ...

    def finish(self, windows: torch.Tensor) -> torch.Tensor:
        """The per-window step on windows ``(n, 1, bands, window_frames)``; same shape."""
        ...


class LogMelFrontEnd:
    """The log-mel front end of a :class:`FeatureConfig`, split into whole-track and per-window steps.

    :meth:`frames` is the power mel spectrogram in dB without a floor (``10 log10(max(p,
    1e-10))``); :meth:`finish` applies ``top_db`` below each window's own peak. Together they
    compute, for every frame away from a window's edges, exactly what
    :class:`~musicgenre.audio.transforms.LogMelSpectrogram` computes on the window's samples.

    Parameters
    ----------
    config
        The feature settings.
    """

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self.window = torch.hann_window(config.n_fft)
        self.fbanks = F.mel_filterbank(config.sample_rate, config.n_fft, config.n_mels)

    @property
    def sample_rate(self) -> int:
        """``config.sample_rate``."""
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        """``config.hop_length``."""
        return self.config.hop_length

    @property
    def window_samples(self) -> int:
        """``config.clip_samples``."""
        return self.config.clip_samples

    @property
    def window_frames(self) -> int:
        """``config.n_frames``."""
        return self.config.n_frames

    @property
    def silence(self) -> float:
        """The power floor ``1e-10`` in dB, -100 (the ``top_db`` floor of each window applies on top)."""
        return 10.0 * math.log10(1e-10)

    def frames(self, waveform: torch.Tensor, *, center: bool = True) -> torch.Tensor:
        """Whole-track mel spectrogram in dB, no floor: ``(time,)`` or ``(1, time)`` -> ``(1, n_mels, frames)``.

        ``center=False``: frames start at sample 0 and only whole ones are kept (for a block
        of a longer track whose context is already in place, see
        :func:`~musicgenre.audio.functional.mel_spectrogram`).
        """
        wave = waveform.reshape(1, -1)
        cfg = self.config
        with torch.no_grad():
            power = F.mel_spectrogram(
                wave,
                cfg.sample_rate,
                n_fft=cfg.n_fft,
                hop_length=cfg.hop_length,
                n_mels=cfg.n_mels,
                window=self.window.to(wave.device, wave.dtype),
                fbanks=self.fbanks.to(wave.device, wave.dtype),
                center=center,
            )
            return F.amplitude_to_db(power, None)

    def finish(self, windows: torch.Tensor) -> torch.Tensor:
        """The ``top_db`` floor below each window's peak (nothing with ``top_db=None``)."""
        if self.config.top_db is None:
            return windows
        floor = windows.amax(dim=(-2, -1), keepdim=True) - self.config.top_db
        return torch.maximum(windows, floor)

    def __repr__(self) -> str:
        return f"LogMelFrontEnd({self.config!r})"


@dataclass(frozen=True)
class TrackWindows:
    """A track cut into the model's windows.

    Attributes
    ----------
    windows
        ``(n_windows, 1, bands, window_frames)``, finished (ready for the model).
    weights
        ``(n_windows,)``: the share of each window's frames that hold audio, in ``(0, 1]``.
    starts
        ``(n_windows,)``: each window's first frame.
    frames
        Frames of the track (before padding).
    """

    windows: torch.Tensor
    weights: torch.Tensor
    starts: torch.Tensor
    frames: int


def track_frames(waveform: torch.Tensor, front_end: FrontEnd, windowing: Windowing) -> torch.Tensor:
    """Step 1: the front end's frames of a mono track, ``(1, bands, frames)``.

    In ``"first"`` mode only the first ``window_samples`` are used (as
    :func:`~musicgenre.data.cache.extract_features` with the recipe's ``max_seconds`` keeps them).
    """
    wave = waveform.reshape(-1)
    if windowing.mode == "first":
        wave = wave[: front_end.window_samples]
    return front_end.frames(wave)


def window_layout(total_frames: int, window_frames: int, windowing: Windowing) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the windows of a track of *total_frames* start, and their weights.

    Returns
    -------
    tuple of torch.Tensor
        The first frame of each window (int64) and the share of each window's frames that
        hold audio (float32, in ``(0, 1]``; 1 for the single ``"first"`` window).
    """
    if windowing.mode == "first":
        return torch.zeros(1, dtype=torch.long), torch.ones(1)
    hop = windowing.hop(window_frames)
    beyond = max(0, total_frames - window_frames)  # frames after the first window
    count = 1 + (beyond // hop if windowing.tail == "drop" else -(-beyond // hop))
    starts = torch.arange(count) * hop
    return starts, (total_frames - starts).clamp(min=1, max=window_frames).float() / window_frames


def cut_windows(frames: torch.Tensor, front_end: FrontEnd, windowing: Windowing) -> TrackWindows:
    """Steps 2 and 3: cut ``(1, bands, frames)`` into the model's windows and finish each.

    ``"first"``: one window, the first ``window_frames`` (padded with silence). ``"all"``:
    windows starting every :meth:`Windowing.hop` frames until the track is covered (``1 +
    ceil(max(0, frames - window_frames) / hop)`` of them), the last one padded with
    :attr:`FrontEnd.silence`; with ``tail="drop"``, only the whole windows (``1 +
    floor(...)``; a track shorter than one window is one padded window).
    """
    if frames.dim() != 3 or frames.shape[-1] == 0:
        raise ConfigurationError(f"frames must be (1, bands, frames) with frames >= 1, got {tuple(frames.shape)}")
    n = front_end.window_frames
    total = frames.shape[-1]
    starts, weights = window_layout(total, n, windowing)
    if windowing.mode == "first":
        windows = F.fit_length(frames, n, pad_value=front_end.silence).unsqueeze(0)
    else:
        windows = F.segments(frames, n, windowing.hop(n), pad_value=front_end.silence)[: len(starts)]
    return TrackWindows(front_end.finish(windows), weights, starts, total)
