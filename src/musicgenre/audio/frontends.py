"""Front ends of pretrained models: musicnn's log-mel spectrogram and its 3-s patches.

:class:`MusicnnFrontEnd` reproduces musicnn 0.1.0's ``extractor.batch_data`` (librosa
``feature.melspectrogram`` with librosa's defaults, then ``log10(10000 * mel + 1)``)
with torch/torchaudio, batched over any leading dimensions; :func:`musicnn_patches`
cuts the result into the 187-frame patches the model reads, as the extractor does.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from musicgenre.audio import functional as F
from musicgenre.errors import ConfigurationError

__all__ = ["MUSICNN_PATCH_FRAMES", "MusicnnFrontEnd", "ShortPolicy", "musicnn_patches"]

MUSICNN_PATCH_FRAMES = 187
"""The number of frames in one musicnn patch, ``librosa.time_to_frames(3 s) + 1`` at 16 kHz with hop 256."""

ShortPolicy = Literal["repeat", "zeros", "error"]
"""What :func:`musicnn_patches` does with fewer frames than one patch."""

_FLOAT16_MAX = 65504.0


class MusicnnFrontEnd(nn.Module):
    """musicnn's input features: mono waveform ``(..., time)`` -> ``(..., frames, n_mels)``.

    The computation is librosa 0.10/0.11's ``melspectrogram`` with musicnn's arguments:
    a centred STFT (``n_fft`` 512, hop 256, periodic Hann window, the signal padded with
    ``n_fft // 2`` zeros at each end: librosa >= 0.10's ``pad_mode="constant"``), power
    2, a Slaney-scale, Slaney-normalised mel filter bank from 0 Hz to Nyquist (librosa's
    ``filters.mel`` defaults), then ``log10(10000 * mel + 1)``. Frames come out first,
    as musicnn's patches and :class:`~musicgenre.models.musicnn.Musicnn` expect them;
    ``1 + time // hop_length`` of them. The filter bank and the window are buffers.

    Parameters
    ----------
    sample_rate
        Sample rate of the input (musicnn: 16,000 Hz; resample before, e.g. with
        :func:`musicgenre.io.load_audio`'s ``sample_rate=16000``).
    n_fft, hop_length, n_mels
        STFT size, hop and mel bands (musicnn: 512, 256, 96).
    pad_mode
        Padding of the centred STFT. ``"constant"`` (zeros) is what librosa >= 0.10 does
        and what the parity fixture was made with; librosa < 0.10 (the one musicnn was
        trained with in 2019) used ``"reflect"``. The difference touches the first and
        last frame only.
    float16
        Round the mel power to float16 before the log, as musicnn's extractor does
        (``audio_rep.astype(np.float16)``); values beyond float16's range are clipped
        to its maximum (where the original gives ``inf``).

    Examples
    --------
    >>> front = MusicnnFrontEnd()
    >>> tuple(front(torch.zeros(2, 48000)).shape)
    (2, 188, 96)
    """

    window: torch.Tensor
    fbanks: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 96,
        *,
        pad_mode: Literal["constant", "reflect"] = "constant",
        float16: bool = True,
    ) -> None:
        super().__init__()
        if min(sample_rate, n_fft, hop_length, n_mels) < 1:
            raise ConfigurationError("sample_rate, n_fft, hop_length and n_mels must be positive")
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.pad_mode = pad_mode
        self.float16 = float16
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True, dtype=torch.float64).float())
        self.register_buffer("fbanks", F.mel_filterbank(sample_rate, n_fft, n_mels, scale="slaney"))  # (freqs, n_mels)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log-mel features, ``(..., time)`` -> ``(..., 1 + time // hop_length, n_mels)``."""
        if waveform.dim() < 1 or waveform.shape[-1] < 1:
            raise ConfigurationError(f"expected a waveform (..., time) with samples, got {tuple(waveform.shape)}")
        lead = waveform.shape[:-1]
        flat = waveform.reshape(-1, waveform.shape[-1]).float()
        mel = F.mel_spectrogram(
            flat,
            self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            fbanks=self.fbanks,
            pad_mode=self.pad_mode,
        ).transpose(1, 2)  # (B, frames, n_mels)
        if self.float16:
            mel = mel.clamp(max=_FLOAT16_MAX).to(torch.float16).float()
        out = torch.log10(10000.0 * mel + 1.0)
        return out.reshape(*lead, out.shape[-2], out.shape[-1])

    def extra_repr(self) -> str:
        """Settings shown in ``repr``."""
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_mels={self.n_mels}, pad_mode={self.pad_mode!r}, float16={self.float16}"
        )


def musicnn_patches(
    features: torch.Tensor,
    n_frames: int = MUSICNN_PATCH_FRAMES,
    hop: int | None = None,
    *,
    short: ShortPolicy = "repeat",
) -> torch.Tensor:
    """Cut ``(..., frames, mels)`` features into patches ``(..., patches, n_frames, mels)``, as musicnn does.

    musicnn's ``extractor.batch_data`` takes patches starting at frames ``0, hop, 2 hop,
    ...`` while a whole patch fits (``hop = n_frames`` by default: no overlap) and drops
    the frames after the last whole patch. A 30-s track (1,876 frames) gives 10 patches.

    Parameters
    ----------
    features
        Output of :class:`MusicnnFrontEnd`, frames on the second-to-last axis.
    n_frames
        Patch length (187 = 3 s, what the models were trained on).
    hop
        Frames between patch starts; ``None`` is *n_frames* (musicnn's default, no overlap).
    short
        Fewer frames than one patch: the original fails on such input.
        ``"repeat"`` tiles the features until one patch is full (how musicnn's training
        padded short clips, ``pad_short: repeat-pad`` in its ``config.json``),
        ``"zeros"`` pads with zeros (log-mel of silence), ``"error"`` raises
        :class:`~musicgenre.errors.ConfigurationError`.

    Returns
    -------
    torch.Tensor
        ``(..., patches, n_frames, mels)``, a view of *features* where no padding was needed.
    """
    hop = n_frames if hop is None else hop
    if n_frames < 1 or hop < 1 or features.dim() < 2:
        raise ConfigurationError(f"need features (..., frames, mels), n_frames >= 1 and hop >= 1; got {features.shape}")
    frames = features.shape[-2]
    if frames < n_frames:
        if short == "error" or frames == 0:
            raise ConfigurationError(f"{frames} frames is shorter than one {n_frames}-frame patch")
        if short == "repeat":
            reps = -(-n_frames // frames)
            features = torch.cat([features] * reps, dim=-2)[..., :n_frames, :]
        else:
            pad = features.new_zeros(*features.shape[:-2], n_frames - frames, features.shape[-1])
            features = torch.cat([features, pad], dim=-2)
    return features.unfold(-2, n_frames, hop).transpose(-1, -2)
