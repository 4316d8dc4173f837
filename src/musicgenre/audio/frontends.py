"""Front ends of pretrained models: musicnn's log-mel spectrogram and its 3-s patches.

:class:`MusicnnFrontEnd` reproduces musicnn 0.1.0's ``extractor.batch_data`` (librosa
``feature.melspectrogram`` with librosa's defaults, then ``log10(10000 * mel + 1)``)
with torch/torchaudio, batched over any leading dimensions; :func:`musicnn_patches`
cuts the result into the 187-frame patches the model reads, as the extractor does.
It is also a :class:`~musicgenre.audio.windowing.FrontEnd` (:meth:`MusicnnFrontEnd.frames`,
bands first), so the shared windowing cuts musicnn's frames as it cuts log-mel
spectrograms.
"""

from __future__ import annotations

import json
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
    """musicnn's input features: mono waveform ``(..., time)`` -> ``(..., frames, n_mels)``; a front end.

    The computation is librosa 0.10/0.11's ``melspectrogram`` with musicnn's arguments:
    a centred STFT (``n_fft`` 512, hop 256, periodic Hann window, the signal padded with
    ``n_fft // 2`` zeros at each end: librosa >= 0.10's ``pad_mode="constant"``), power
    2, a Slaney-scale, Slaney-normalised mel filter bank from 0 Hz to Nyquist (librosa's
    ``filters.mel`` defaults), then ``log10(10000 * mel + 1)``. Frames come out first,
    as musicnn's patches and :class:`~musicgenre.models.musicnn.Musicnn` expect them;
    ``1 + time // hop_length`` of them. The filter bank and the window are buffers.

    It is a :class:`~musicgenre.audio.windowing.FrontEnd` too: :meth:`frames` gives a
    whole track's frames bands first, ``(1, n_mels, frames)``, as every feature store of
    the library keeps them, and a model window is ``window_frames`` of them; digital
    silence is 0 (``log10(1)``) and nothing is done per window (:meth:`finish`).

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
    window_frames
        Frames in one model window (187 = 3 s, musicnn's patch,
        :data:`MUSICNN_PATCH_FRAMES`); it changes no frame.

    Examples
    --------
    >>> front = MusicnnFrontEnd()
    >>> tuple(front(torch.zeros(2, 48000)).shape)
    (2, 188, 96)
    >>> tuple(front.frames(torch.zeros(48000)).shape), front.window_frames, front.window_samples
    ((1, 96, 188), 187, 47616)
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
        window_frames: int = MUSICNN_PATCH_FRAMES,
    ) -> None:
        super().__init__()
        if min(sample_rate, n_fft, hop_length, n_mels, window_frames) < 1:
            raise ConfigurationError("sample_rate, n_fft, hop_length, n_mels and window_frames must be positive")
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.pad_mode = pad_mode
        self.float16 = float16
        self.window_frames = window_frames
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

    # -- the FrontEnd protocol (musicgenre.audio.windowing) ---------------------------------
    @property
    def window_samples(self) -> int:
        """The samples whose frames fill one window, ``(window_frames - 1) * hop_length``."""
        return (self.window_frames - 1) * self.hop_length

    @property
    def silence(self) -> float:
        """0.0, the frame value of digital silence (``log10(10000 * 0 + 1)``)."""
        return 0.0

    def frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """A whole track's frames, bands first: ``(time,)`` or ``(1, time)`` -> ``(1, n_mels, 1 + time // hop_length)``.

        A view of :meth:`forward`'s ``(frames, n_mels)`` output (not a copy), so musicnn's
        patches cut from it (``musicnn_patches(frames[0].T)``) are those of :meth:`forward`.
        """
        with torch.no_grad():
            out: torch.Tensor = self(waveform.reshape(-1))
        return out.transpose(0, 1).unsqueeze(0)

    def finish(self, windows: torch.Tensor) -> torch.Tensor:
        """Nothing per window: *windows* unchanged."""
        return windows

    @property
    def key(self) -> str:
        """Everything that decides the frames, as a string (feature caches are keyed by it).

        ``window_frames`` is not in it: it changes no frame.
        """
        settings = {"front_end": "musicnn", "sample_rate": self.sample_rate, "n_fft": self.n_fft}
        settings |= {"hop_length": self.hop_length, "n_mels": self.n_mels, "pad_mode": self.pad_mode}
        settings |= {"float16": self.float16}
        return json.dumps(settings, sort_keys=True)

    def extra_repr(self) -> str:
        """Settings shown in ``repr``."""
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_mels={self.n_mels}, pad_mode={self.pad_mode!r}, float16={self.float16}, "
            f"window_frames={self.window_frames}"
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
