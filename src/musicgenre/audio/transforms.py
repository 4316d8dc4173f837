"""``nn.Module`` wrappers around :mod:`musicgenre.audio.functional`.

Modules keep their constants (Hann window, mel filter bank) as buffers, so ``.to(device)``
and ``state_dict`` work as with any torch module. :class:`FeatureConfig` bundles the
feature settings a trained model depends on; :class:`ClipFeatures` turns a mono waveform
into the model's input with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from musicgenre._config import from_plain
from musicgenre.audio import functional as F
from musicgenre.errors import ConfigurationError

__all__ = [
    "ClipFeatures",
    "FeatureConfig",
    "LogMelSpectrogram",
    "PadTrunc",
    "Resample",
    "SpecAugment",
    "ToMono",
]


@dataclass(frozen=True)
class FeatureConfig:
    """Feature settings: what a model was trained on and what prediction computes again.

    The defaults are the reference's: 22050 Hz, 5000 ms clips, 64 mel bands, n_fft 1024,
    hop 512, dB with an 80 dB range, giving a ``(1, 64, 215)`` input.

    Attributes
    ----------
    sample_rate
        Rate the audio is resampled to, in Hz.
    clip_ms
        Length of one clip in milliseconds (see :func:`~musicgenre.audio.functional.clip_samples`).
    n_mels, n_fft, hop_length
        Mel bands, FFT size (= window length) and hop.
    top_db
        Dynamic range kept below the peak of each model window (applied after the window is
        cut from the track's spectrogram, see :mod:`musicgenre.audio.windowing`); ``None``
        keeps everything down to -100 dB. Evaluation and
        :class:`~musicgenre.predict.GenreClassifier` cut their windows the same way, so they
        agree whatever this setting; a window cut from the whole-track spectrogram equals the
        window's own spectrogram except for the ``ceil(n_fft / 2 / hop_length)`` frames at
        each edge, whose STFT sees the neighbouring audio instead of reflecting the edge.
    """

    sample_rate: int = 22050
    clip_ms: int = 5000
    n_mels: int = 64
    n_fft: int = 1024
    hop_length: int = 512
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        for name in ("sample_rate", "clip_ms", "n_mels", "n_fft", "hop_length"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"FeatureConfig.{name} must be positive, got {getattr(self, name)}")
        if self.clip_samples <= 0:
            raise ConfigurationError(f"FeatureConfig: clip_ms={self.clip_ms} keeps no samples")

    @property
    def clip_samples(self) -> int:
        """Samples per clip, ``sample_rate // 1000 * clip_ms`` (110,000 for the reference)."""
        return F.clip_samples(self.sample_rate, self.clip_ms)

    @property
    def n_frames(self) -> int:
        """Spectrogram frames per clip, ``1 + clip_samples // hop_length`` (215 for the reference)."""
        return 1 + self.clip_samples // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for JSON and checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`ConfigurationError`."""
        return from_plain(cls, data)


class ToMono(nn.Module):
    """Average channels: ``(..., channels, time)`` -> ``(..., 1, time)``."""

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Apply :func:`~musicgenre.audio.functional.to_mono`."""
        return F.to_mono(waveform)


class Resample(nn.Module):
    """Resample ``(..., time)`` from *orig_freq* to *new_freq* with torchaudio's sinc filter."""

    def __init__(self, orig_freq: int, new_freq: int) -> None:
        super().__init__()
        self.orig_freq = orig_freq
        self.new_freq = new_freq

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Apply :func:`~musicgenre.audio.functional.resample`."""
        return F.resample(waveform, self.orig_freq, self.new_freq)


class PadTrunc(nn.Module):
    """Truncate or randomly zero-pad ``(..., time)`` to a fixed clip length.

    Parameters
    ----------
    sample_rate, max_ms
        Together give the length, ``sample_rate // 1000 * max_ms`` samples.
    generator
        Source of the random padding offset (seed it for reproducible padding).
    """

    def __init__(self, sample_rate: int, max_ms: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.max_ms = max_ms
        self.generator = generator

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Apply :func:`~musicgenre.audio.functional.pad_trunc`."""
        return F.pad_trunc(waveform, self.sample_rate, self.max_ms, generator=self.generator)


class LogMelSpectrogram(nn.Module):
    """Mel spectrogram in dB: ``(..., time)`` -> ``(..., n_mels, 1 + time // hop_length)``.

    Equal to torchaudio's ``MelSpectrogram`` followed by ``AmplitudeToDB(top_db=...)`` on
    each spectrogram; the window and filter bank are buffers.

    Examples
    --------
    >>> mel = LogMelSpectrogram(22050)
    >>> tuple(mel(torch.zeros(1, 110000)).shape)
    (1, 64, 215)
    """

    window: torch.Tensor
    fbanks: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        *,
        n_fft: int = 1024,
        hop_length: int = 512,
        n_mels: int = 64,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.top_db = top_db
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fbanks", F.mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)

    @classmethod
    def from_config(cls, config: FeatureConfig) -> LogMelSpectrogram:
        """The log-mel transform of a :class:`FeatureConfig` (its rate, FFT, hop, mels and range)."""
        return cls(
            config.sample_rate,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            n_mels=config.n_mels,
            top_db=config.top_db,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Compute the log-mel spectrogram of *waveform*."""
        spec = F.mel_spectrogram(
            waveform,
            self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            window=self.window,
            fbanks=self.fbanks,
        )
        return F.amplitude_to_db(spec, self.top_db)


class SpecAugment(nn.Module):
    """Frequency and time masking (see :func:`~musicgenre.audio.functional.spec_augment`)."""

    def __init__(
        self,
        max_mask_pct: float = 0.1,
        n_freq_masks: int = 1,
        n_time_masks: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.max_mask_pct = max_mask_pct
        self.n_freq_masks = n_freq_masks
        self.n_time_masks = n_time_masks
        self.generator = generator

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Mask *spec* of shape ``(..., n_mels, frames)``."""
        return F.spec_augment(
            spec,
            max_mask_pct=self.max_mask_pct,
            n_freq_masks=self.n_freq_masks,
            n_time_masks=self.n_time_masks,
            generator=self.generator,
        )


class ClipFeatures(nn.Module):
    """The reference's per-clip features: pad/truncate, then log-mel.

    Takes a mono waveform already at ``config.sample_rate`` (as :class:`~musicgenre.data.GTZANDataset`
    delivers it) and returns the model's input.

    Parameters
    ----------
    config
        Feature settings; the defaults reproduce the reference.
    generator
        Source of the random padding offset for clips shorter than ``config.clip_ms``.

    Examples
    --------
    >>> features = ClipFeatures()
    >>> tuple(features(torch.randn(1, 30 * 22050)).shape)
    (1, 64, 215)
    """

    def __init__(self, config: FeatureConfig | None = None, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config or FeatureConfig()
        self.pad_trunc = PadTrunc(self.config.sample_rate, self.config.clip_ms, generator)
        self.log_mel = LogMelSpectrogram.from_config(self.config)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(..., time)`` -> ``(..., n_mels, n_frames)``."""
        out: torch.Tensor = self.log_mel(self.pad_trunc(waveform))
        return out
