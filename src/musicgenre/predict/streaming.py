"""Long files block by block: the log-mel frames and the windows of a track as it is decoded.

A file longer than the pipeline's ``stream_seconds`` is decoded block by block
(:func:`~musicgenre.io.iter_audio_blocks`); :class:`LogMelStream` computes its log-mel
frames with the STFT's context carried across blocks, so that they equal the whole-track
spectrogram (within float rounding: a few 1e-6 dB), and :class:`StreamedWindows` cuts the
model's windows as they complete. Memory holds one decoded block and less than one window
of frames beyond it, for any length.

>>> import torch
>>> from musicgenre.audio.transforms import FeatureConfig
>>> front = LogMelFrontEnd(FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128))
>>> wave = torch.rand(8000 * 2) - 0.5
>>> streamed = torch.cat(list(LogMelStream(front)(torch.split(wave, 999))), dim=-1)
>>> streamed.shape == front.frames(wave).shape
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from musicgenre.audio import functional as F
from musicgenre.audio.windowing import LogMelFrontEnd, Windowing, window_layout
from musicgenre.io import iter_audio_blocks

__all__ = ["LogMelStream", "StreamedWindows"]


class LogMelStream:
    """:meth:`LogMelFrontEnd.frames` of a track that arrives in blocks, frame by frame.

    Frame ``t`` of the whole-track spectrogram covers samples ``[t * hop - n_fft // 2,
    t * hop + n_fft // 2)`` of the track reflected at both ends (``center=True``). The
    stream keeps the samples that the next frames still need (less than ``n_fft``), the
    first ``n_fft // 2 + 1`` samples for the left reflection and the last ``n_fft // 2 + 1``
    for the right one, and transforms each block's complete frames with ``center=False``:
    the same frames, equal to the whole-track ones within float rounding (the FFT and the
    mel product see other batch shapes).

    Parameters
    ----------
    front_end
        The log-mel front end.
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


class StreamedWindows:
    """A long file's finished windows, cut as its blocks are decoded.

    Iterating yields ``(windows, starts, last)``: finished windows ``(n, 1, n_mels,
    window_frames)`` as soon as their frames are complete, their first frames, and whether
    they are the track's last ones (padded with silence; the track's end is then known).
    After the iteration ``samples`` is the track's length and ``weights`` the
    weights of all its windows, as :func:`~musicgenre.audio.windowing.window_layout` gives
    them. Run it under ``torch.inference_mode()``.

    Parameters
    ----------
    path
        The file.
    front_end
        The log-mel front end (its rate is the decoding rate).
    windowing
        ``"all"`` windows, every :meth:`~musicgenre.audio.windowing.Windowing.hop` frames.
    block_seconds
        Seconds of audio decoded per block.
    """

    def __init__(self, path: Path, front_end: LogMelFrontEnd, windowing: Windowing, *, block_seconds: float) -> None:
        self.path = path
        self.front_end = front_end
        self.windowing = windowing
        self.block_seconds = block_seconds
        self.samples = 0
        self.weights = torch.empty(0)

    def _mono_blocks(self) -> Iterator[torch.Tensor]:
        rate = self.front_end.sample_rate
        for block in iter_audio_blocks(self.path, sample_rate=rate, mono=True, block_seconds=self.block_seconds):
            self.samples += block.shape[-1]
            yield block[0]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        front = self.front_end
        n = front.window_frames
        hop = self.windowing.hop(n)
        self.samples = 0
        frames = torch.empty(1, front.config.n_mels, 0)
        first = 0  # frame index of frames[..., 0]
        emitted = 0  # windows given so far; the next one starts at emitted * hop
        for block in LogMelStream(front)(self._mono_blocks()):
            frames = torch.cat([frames, block], dim=-1)
            available = first + frames.shape[-1]
            count = 0 if available < emitted * hop + n else (available - n) // hop + 1 - emitted
            if count > 0:
                starts = (emitted + torch.arange(count)) * hop
                windows = torch.stack([frames[..., s - first : s - first + n] for s in starts.tolist()])
                yield front.finish(windows), starts, False
                emitted += count
            keep = min(emitted * hop, available)
            frames, first = frames[..., keep - first :], keep
        total = first + frames.shape[-1]
        starts, self.weights = window_layout(total, n, self.windowing)
        rest = starts[emitted:]
        if len(rest):
            padded = F.fit_length(frames, int(rest[-1]) - first + n, pad_value=front.silence)
            windows = torch.stack([padded[..., s - first : s - first + n] for s in rest.tolist()])
            yield front.finish(windows), rest, True
