"""Samples to tensors: 16-bit reads, channel mixing and resampling, one implementation for whole files and blocks.

:class:`Converter` mixes and resamples consecutive blocks of one file; ``load_audio``
passes it the whole file as one block, ``iter_audio_blocks`` block after block, and
``waveform_to_mono`` an in-memory waveform, so all three give the same samples. Channels
are mixed to mono *before* resampling (one resampler channel, not two), by a sum of column
views of soundfile's ``(frames, channels)`` array (:func:`mix_down`): the same result, to
the bit, as numpy's ``mean(axis=1)``, without its strided reduction over a short last axis.
PyTorch is imported only where the tensors are made.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

from musicgenre.errors import AudioDecodeError

if TYPE_CHECKING:  # imported where tensors are made: decoding can start while PyTorch loads
    import torch

__all__ = ["Converter", "Samples", "mix_down", "read_samples"]

#: float32 samples, ``(frames, channels)`` as soundfile reads them, or ``(frames,)`` once mixed.
Samples = NDArray[np.float32]

#: The scale of 16-bit samples: libsndfile reads them as float as ``sample / 32768``.
PCM_16_SCALE = np.float32(1.0 / 32768)
#: Frames per integer read of a 16-bit file (4 MiB of stereo samples).
READ_FRAMES = 1 << 20


def read_samples(fh: sf.SoundFile, frames: int = -1) -> Samples:
    """The next *frames* (-1: all the rest) as float32 ``(frames, channels)``, scaled as libsndfile scales them.

    16-bit files (GTZAN's WAV and AU among them) are read as integers and scaled here: the
    same values (a power-of-two scale is exact), sooner than libsndfile converts them
    itself. They are read :data:`READ_FRAMES` at a time into the float32 result, so a long
    file needs no integer copy of itself.
    """
    if fh.subtype != "PCM_16":
        data: Samples = fh.read(frames, dtype="float32", always_2d=True)
        return data
    wanted = max(0, fh.frames - fh.tell()) if frames < 0 else frames
    out: Samples = np.empty((wanted, fh.channels), dtype=np.float32)
    done = 0
    while done < wanted:
        part = fh.read(min(READ_FRAMES, wanted - done), dtype="int16", always_2d=True)
        np.multiply(part, PCM_16_SCALE, out=out[done : done + len(part)])
        done += len(part)
        if len(part) == 0:  # the file holds fewer frames than its header says
            break
    return out[:done]


def mix_down(data: Samples) -> Samples:
    """The mean of the channels of a ``(frames, channels)`` block, as a ``(frames,)`` array.

    A sum of column views, then one division: the same operations, in the same order, as
    ``data.mean(axis=1, dtype=np.float32)``, without numpy's slow strided reduction over a
    short last axis.
    """
    channels = data.shape[1]
    if channels == 1:
        return data[:, 0]  # a view; contiguous, as the row stride is one sample
    out: Samples = data[:, 0] + data[:, 1]
    for c in range(2, channels):
        out += data[:, c]
    out /= np.float32(channels)
    return out


#: Frames per soxr call (mono: 256 KiB of float32).
RESAMPLE_FRAMES = 1 << 16
#: Spare output frames for a block's resampled samples (the filter's delay is far shorter).
RESAMPLE_MARGIN = 1 << 17


class Converter:
    """Mix and resample consecutive decoded blocks of one file into ``(channels, time)`` tensors.

    soxr's stream resampler gives the same samples whichever way the input is cut into
    blocks, and the same as its one-shot ``soxr.resample``, so a file converted in one block
    (``load_audio``) or many (``iter_audio_blocks``) gives the same waveform. Each
    block goes through it in pieces of :data:`RESAMPLE_FRAMES`, which stay in the CPU's
    cache.
    """

    def __init__(self, path: Path, file_rate: int, channels: int, *, sample_rate: int | None, mono: bool) -> None:
        self.path = path
        self.channels = 1 if mono else channels
        self.file_rate = file_rate
        self.rate = file_rate if sample_rate is None else sample_rate
        self.stream: soxr.ResampleStream | None = None
        self.produced = 0

    def _resample(self, data: Samples, *, last: bool) -> Samples:
        """*data* through the file's soxr stream, in pieces of at most :data:`RESAMPLE_FRAMES`."""
        if self.stream is None:
            self.stream = soxr.ResampleStream(self.file_rate, self.rate, self.channels, dtype="float32", quality="HQ")
        frames = data.shape[0]
        if frames <= RESAMPLE_FRAMES:
            single: Samples = self.stream.resample_chunk(data, last=last)
            return single
        # One output array (a list of pieces and their concatenation would hold the output
        # twice), with room for the filter's delay carried over from the previous block.
        shape = (frames * self.rate // self.file_rate + RESAMPLE_MARGIN, *data.shape[1:])
        out: Samples = np.empty(shape, np.float32)
        size = 0
        for i in range(0, frames, RESAMPLE_FRAMES):
            piece = self.stream.resample_chunk(
                data[i : i + RESAMPLE_FRAMES], last=last and i + RESAMPLE_FRAMES >= frames
            )
            if size + len(piece) > len(out):  # more delay than the margin: grow
                out = np.concatenate([out[:size], np.empty_like(out[: len(piece) + RESAMPLE_MARGIN])])
            out[size : size + len(piece)] = piece
            size += len(piece)
        return out[:size]

    def __call__(self, block: Samples, *, last: bool) -> torch.Tensor | None:
        """Convert the next *block* (``(frames, channels)``; *last* if none follows), or ``None`` if empty."""
        data = mix_down(block) if self.channels == 1 else block
        if not np.isfinite(data).all():
            raise AudioDecodeError("holds NaN or infinite samples; the file is damaged, re-encode it", path=self.path)
        if self.rate != self.file_rate:
            data = self._resample(data, last=last)
        if last and self.produced + data.shape[0] == 0:  # a clip of a few samples can vanish when downsampled
            data = np.zeros(1 if self.channels == 1 else (1, self.channels), dtype=np.float32)
        if data.shape[0] == 0:
            return None
        self.produced += data.shape[0]
        import torch

        if data.ndim == 1:
            return torch.from_numpy(data).reshape(1, -1)
        return torch.from_numpy(np.ascontiguousarray(data.T))
