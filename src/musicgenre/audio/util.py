"""``AudioUtil``: the reference's helper names, as a thin facade over the functional API."""

from __future__ import annotations

import os

import torch

from musicgenre.audio import functional as F
from musicgenre.io import load_audio

__all__ = ["AudioUtil"]

Audio = tuple[torch.Tensor, int]


class AudioUtil:
    """The reference's ``AudioUtil`` methods, working on ``(signal, sample_rate)`` pairs.

    Each method delegates to :mod:`musicgenre.audio.functional` (or :func:`~musicgenre.io.load_audio`),
    so code written against the reference runs unchanged and gets the same numbers.

    Examples
    --------
    >>> import torch
    >>> aud = (torch.randn(2, 44100), 44100)
    >>> aud = AudioUtil.rechannel(aud, 1)
    >>> aud = AudioUtil.resample(aud, 22050)
    >>> aud = AudioUtil.pad_trunc(aud, 5000, generator=torch.Generator().manual_seed(0))
    >>> tuple(AudioUtil.spectro_gram(aud).shape)
    (1, 64, 215)
    """

    @staticmethod
    def open(audio_file: str | os.PathLike[str]) -> Audio:
        """Decode a file into ``(signal (channels, time), sample_rate)``; see :func:`~musicgenre.io.load_audio`."""
        return load_audio(audio_file, mono=False)

    @staticmethod
    def rechannel(aud: Audio, new_channel: int) -> Audio:
        """Mix to mono by channel mean (``new_channel=1``) or copy mono to ``new_channel`` channels."""
        sig, sr = aud
        return F.rechannel(sig, new_channel), sr

    @staticmethod
    def resample(aud: Audio, newsr: int) -> Audio:
        """Resample to ``newsr`` Hz with torchaudio."""
        sig, sr = aud
        return F.resample(sig, sr, newsr), newsr

    @staticmethod
    def pad_trunc(aud: Audio, max_ms: int, generator: torch.Generator | None = None) -> Audio:
        """Keep the first ``sr // 1000 * max_ms`` samples, or zero-pad at a random split to that length."""
        sig, sr = aud
        return F.pad_trunc(sig, sr, max_ms, generator=generator), sr

    @staticmethod
    def spectro_gram(
        aud: Audio, n_mels: int = 64, n_fft: int = 1024, hop_len: int | None = None, top_db: float = 80.0
    ) -> torch.Tensor:
        """Mel spectrogram in dB, ``(channels, n_mels, frames)``; ``hop_len=None`` means ``n_fft // 2``."""
        sig, sr = aud
        hop = hop_len if hop_len is not None else n_fft // 2
        spec = F.mel_spectrogram(sig, sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
        return F.amplitude_to_db(spec, top_db)

    @staticmethod
    def spectro_augment(
        spec: torch.Tensor,
        max_mask_pct: float = 0.1,
        n_freq_masks: int = 1,
        n_time_masks: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Frequency and time masks filled with the spectrogram's mean."""
        return F.spec_augment(
            spec,
            max_mask_pct=max_mask_pct,
            n_freq_masks=n_freq_masks,
            n_time_masks=n_time_masks,
            generator=generator,
        )
