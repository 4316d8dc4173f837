"""The first half of the track pipeline: decode -> front end -> the model's windows.

A :class:`Featurizer` decodes a file (mono, at its front end's rate), computes the front
end's frames of the whole track once (a :class:`~musicgenre.audio.windowing.FrontEnd`)
and cuts the model's windows from them, as a :class:`Windows` says:
:class:`SlidingWindows` are those of a :class:`~musicgenre.audio.windowing.Windowing`
(what evaluation scores), :class:`Patches` musicnn's back-to-back patches. For the first
window only, only the start of a file is decoded; a file longer than ``stream_seconds``
is left to :mod:`musicgenre.predict.streaming`.

>>> from musicgenre.audio.transforms import FeatureConfig
>>> from musicgenre.audio.windowing import LogMelFrontEnd
>>> featurizer = Featurizer(LogMelFrontEnd(FeatureConfig()), SlidingWindows(Windowing(hop_frames=100)))
>>> track = featurizer.cut(torch.zeros(22050 * 12))
>>> tuple(track.windows.shape), track.samples
((5, 1, 64, 215), 264600)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from musicgenre._config import StrPath
from musicgenre.audio.frontends import ShortPolicy, musicnn_patches
from musicgenre.audio.windowing import FrontEnd, LogMelFrontEnd, Windowing, cut_windows, track_frames
from musicgenre.errors import ConfigurationError
from musicgenre.io import audio_info, iter_audio_blocks, load_audio, waveform_to_mono
from musicgenre.predict.streaming import StreamedWindows

__all__ = ["Featurizer", "Patches", "SlidingWindows", "Track", "Waveform", "Windows"]

Waveform = torch.Tensor | NDArray[np.floating[Any]]
"""A waveform in memory, ``(time,)`` or ``(channels, time)`` samples, a tensor or an array."""


@dataclass(frozen=True)
class Track:
    """One track cut into the model's windows, and their outputs once scored.

    Attributes
    ----------
    windows
        The model's inputs, one per window (none left once a worker has scored them).
    weights
        ``(windows,)``: the share of each window that holds audio.
    starts
        ``(windows,)``: each window's first frame.
    samples
        Length of the mono track at the front end's rate.
    outputs
        ``(windows, outputs)``, once the model has scored the windows.
    frames
        ``(1, bands, frames)``: the windows' source, kept where the scorer can share the
        convolutions of overlapping windows.
    """

    windows: torch.Tensor
    weights: torch.Tensor
    starts: torch.Tensor
    samples: int
    outputs: torch.Tensor | None = None
    frames: torch.Tensor | None = None


class Windows(Protocol):
    """How a track's frames become the model's windows: the pipeline's windowing step."""

    def frames(self, waveform: torch.Tensor, front_end: FrontEnd) -> torch.Tensor:
        """The front end's frames of the part of a mono track the windows use, ``(1, bands, frames)``."""
        ...

    def cut(self, frames: torch.Tensor, front_end: FrontEnd) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The model's inputs, each window's weight and each window's first frame."""
        ...

    def span(self, front_end: FrontEnd) -> int:
        """Samples of audio one window covers (a timeline entry's length)."""
        ...

    def leading_samples(self, front_end: FrontEnd) -> int | None:
        """Samples at the start of a track that are all the windows use, or ``None`` for the whole track."""
        ...


@dataclass(frozen=True)
class SlidingWindows:
    """The windows of a :class:`~musicgenre.audio.windowing.Windowing`, as evaluation cuts them.

    Windows ``(n, 1, bands, window_frames)`` every ``hop`` frames over the whole track (the
    last one padded with the front end's silence and weighted by the share that holds
    audio), or the first window only.
    """

    windowing: Windowing = field(default_factory=Windowing)

    def frames(self, waveform: torch.Tensor, front_end: FrontEnd) -> torch.Tensor:
        """:func:`~musicgenre.audio.windowing.track_frames`."""
        return track_frames(waveform, front_end, self.windowing)

    def cut(self, frames: torch.Tensor, front_end: FrontEnd) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:func:`~musicgenre.audio.windowing.cut_windows`."""
        track = cut_windows(frames, front_end, self.windowing)
        return track.windows, track.weights, track.starts

    def span(self, front_end: FrontEnd) -> int:
        """The front end's ``window_samples``."""
        return front_end.window_samples

    def leading_samples(self, front_end: FrontEnd) -> int | None:
        """``window_samples`` for the first window only, else ``None``."""
        return front_end.window_samples if self.windowing.mode == "first" else None


@dataclass(frozen=True)
class Patches:
    """musicnn's patches (:func:`~musicgenre.audio.frontends.musicnn_patches`): ``(n, frames, bands)``.

    Back to back from the track's start; the frames after the last whole patch are dropped
    and a track shorter than one patch is filled as *short* says; every patch weighs 1.
    """

    patch_frames: int = 187
    short: ShortPolicy = "repeat"

    def frames(self, waveform: torch.Tensor, front_end: FrontEnd) -> torch.Tensor:
        """The whole track's frames."""
        return front_end.frames(waveform)

    def cut(self, frames: torch.Tensor, front_end: FrontEnd) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The patches, frames first as musicnn reads them."""
        patches = musicnn_patches(frames[0].transpose(0, 1), self.patch_frames, short=self.short)
        count = len(patches)
        return patches, torch.ones(count), torch.arange(count) * self.patch_frames

    def span(self, front_end: FrontEnd) -> int:
        """``patch_frames * hop_length``."""
        return self.patch_frames * front_end.hop_length

    def leading_samples(self, front_end: FrontEnd) -> int | None:
        """``None``: patches cover the whole track."""
        return None


def _no_window_step(front_end: FrontEnd) -> bool:
    """Whether the front end's :meth:`~FrontEnd.finish` leaves windows as cut (a log-mel without ``top_db``)."""
    return isinstance(front_end, LogMelFrontEnd) and front_end.config.top_db is None


class Featurizer:
    """Decode -> mono at the front end's rate -> frames -> windows. Picklable, so worker processes run it.

    Parameters
    ----------
    front_end
        The frames of a whole track.
    windows
        How they are cut into the model's windows.
    keep_frames
        Keep a track's frames with its windows where the front end does nothing per
        window and the windows cover the track (for a scorer that shares the convolutions
        of overlapping windows, ``Scorer.shares``).
    stream_seconds
        Files longer than this are decoded block by block (log-mel front end, ``"all"``
        :class:`SlidingWindows`).
    block_seconds
        Seconds of audio decoded per block when streaming.
    """

    def __init__(
        self,
        front_end: FrontEnd,
        windows: Windows,
        *,
        keep_frames: bool = False,
        stream_seconds: float = 600.0,
        block_seconds: float = 30.0,
    ) -> None:
        if not (stream_seconds > 0 and block_seconds > 0):
            raise ConfigurationError(
                f"stream_seconds and block_seconds must be positive, got {stream_seconds}, {block_seconds}"
            )
        self.front_end = front_end
        self.windows = windows
        self.keep_frames = keep_frames
        self.stream_seconds = stream_seconds
        self.block_seconds = block_seconds

    @property
    def sample_rate(self) -> int:
        """The front end's rate, which files and waveforms are resampled to."""
        return self.front_end.sample_rate

    def load(self, path: StrPath) -> torch.Tensor:
        """Decode *path*, mixed to mono at :attr:`sample_rate`: shape ``(time,)``."""
        return load_audio(path, sample_rate=self.sample_rate, mono=True)[0][0]

    def mono(self, waveform: Waveform, sample_rate: int | None = None) -> torch.Tensor:
        """A waveform at *sample_rate* (``None``: :attr:`sample_rate`) mixed to mono at :attr:`sample_rate`."""
        return waveform_to_mono(waveform, sample_rate=sample_rate or self.sample_rate, target_rate=self.sample_rate)

    def waveform(self, source: StrPath | Waveform, sample_rate: int | None = None) -> torch.Tensor:
        """A file decoded (:meth:`load`), or a waveform mixed (:meth:`mono`), to mono at :attr:`sample_rate`."""
        if isinstance(source, torch.Tensor | np.ndarray):
            return self.mono(source, sample_rate)
        return self.load(source)

    def cut(self, wave: torch.Tensor, samples: int | None = None) -> Track:
        """A mono track's windows (*samples*: the track's length, where *wave* holds only its start)."""
        with torch.inference_mode():
            frames = self.windows.frames(wave, self.front_end)
            windows, weights, starts = self.windows.cut(frames, self.front_end)
        keep = self.keep_frames and self.streamable and _no_window_step(self.front_end)
        return Track(
            windows, weights, starts, len(wave) if samples is None else samples, frames=frames if keep else None
        )

    @property
    def streamable(self) -> bool:
        """Whether long files can be streamed (a log-mel front end and ``"all"`` sliding windows)."""
        windows = self.windows
        return (
            isinstance(windows, SlidingWindows)
            and windows.windowing.mode == "all"
            and isinstance(self.front_end, LogMelFrontEnd)
        )

    def streams(self, path: Path) -> bool:
        """Whether *path* is long enough to be predicted block by block (see :attr:`streamable`)."""
        if not self.streamable:
            return False
        info = audio_info(path)
        return info.frames > self.stream_seconds * info.sample_rate

    def first(self, path: Path, need: int) -> Track:
        """The windows of the first *need* samples, decoding only the start of the file."""
        rate = self.sample_rate
        info = audio_info(path)
        blocks = iter_audio_blocks(path, sample_rate=rate, mono=True, block_seconds=need / rate + 0.5)
        samples = max(1, round(info.frames * rate / info.sample_rate))
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
        return self.cut(torch.cat(parts)[:need], samples)

    def track(self, path: Path) -> Track | None:
        """The file's windows, or ``None`` if it is to be streamed (:meth:`streams`)."""
        need = self.windows.leading_samples(self.front_end)
        if need is not None:
            return self.first(path, need)
        if self.streams(path):
            return None
        return self.cut(self.load(path))

    def stream(self, path: Path) -> StreamedWindows:
        """A long file's windows as it is decoded (:attr:`streamable` only)."""
        assert isinstance(self.front_end, LogMelFrontEnd)
        assert isinstance(self.windows, SlidingWindows)
        return StreamedWindows(path, self.front_end, self.windows.windowing, block_seconds=self.block_seconds)
