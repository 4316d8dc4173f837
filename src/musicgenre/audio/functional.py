"""Pure functions on audio tensors: channel mixing, resampling, padding, log-mel, masking.

Shapes follow torchaudio: waveforms are ``(..., time)``, spectrograms ``(..., n_mels,
frames)``; leading dimensions (channels, batch) pass through unchanged. Every random step
takes a :class:`torch.Generator`, so a seeded generator gives the same output every run.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import soxr
import torch

from musicgenre.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "amplitude_to_db",
    "clip_samples",
    "fit_length",
    "mel_filterbank",
    "mel_spectrogram",
    "pad_trunc",
    "random_crop",
    "rechannel",
    "resample",
    "segments",
    "spec_augment",
    "to_mono",
]


def to_mono(waveform: torch.Tensor) -> torch.Tensor:
    """Average the channels into one.

    Parameters
    ----------
    waveform
        Shape ``(..., channels, time)``.

    Returns
    -------
    torch.Tensor
        Shape ``(..., 1, time)``.

    Examples
    --------
    >>> to_mono(torch.tensor([[1.0, 2.0], [-1.0, 0.0]]))
    tensor([[0., 1.]])
    """
    if waveform.dim() < 2:
        raise ConfigurationError(f"waveform must be (..., channels, time), got {tuple(waveform.shape)}")
    return waveform.mean(dim=-2, keepdim=True)


def rechannel(waveform: torch.Tensor, num_channels: int) -> torch.Tensor:
    """Convert to *num_channels* channels: mean to mono, or copy mono to every channel.

    Parameters
    ----------
    waveform
        Shape ``(..., channels, time)``.
    num_channels
        1 (average the channels) or any count when the input is mono (duplicate it).

    Returns
    -------
    torch.Tensor
        Shape ``(..., num_channels, time)``; the input itself when it already has that many.
    """
    channels = waveform.shape[-2] if waveform.dim() >= 2 else 0
    if channels == num_channels:
        return waveform
    if num_channels == 1:
        return to_mono(waveform)
    if channels == 1 and num_channels > 1:
        return waveform.expand(*waveform.shape[:-2], num_channels, waveform.shape[-1]).clone()
    raise ConfigurationError(f"cannot convert {channels} channels to {num_channels}; only to mono or from mono")


#: Largest sinc kernel (taps) :func:`resample` builds; every pair of common rates needs far fewer.
_MAX_SINC_TAPS = 1 << 20


def _sinc_taps(orig_freq: int, new_freq: int) -> int:
    # The size of the kernel torchaudio's resample builds (its default 6 zero crossings,
    # rolloff 0.99): new x (orig + 2 * width) taps for the gcd-reduced rates.
    gcd = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // gcd, new_freq // gcd
    width = math.ceil(6 * orig / (min(orig, new) * 0.99))
    return new * (orig + 2 * width)


def _soxr_resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    length = waveform.shape[-1]
    dtype = waveform.dtype if waveform.dtype == torch.float64 else torch.float32
    rows = waveform.detach().to("cpu", dtype).reshape(-1, length)
    out = soxr.resample(np.ascontiguousarray(rows.numpy().T), orig_freq, new_freq, quality="HQ")
    resampled = torch.from_numpy(np.ascontiguousarray(np.asarray(out).T)).reshape(*waveform.shape[:-1], -1)
    target = -(-length * new_freq // orig_freq)  # ceil, as torchaudio's length
    return fit_length(resampled, target).to(waveform.device, waveform.dtype)


def resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """Resample with torchaudio's windowed-sinc filter (the reference's method).

    The sinc kernel has ``new x orig`` taps for the rates divided by their greatest common
    divisor: a few thousand for common rates (44.1 or 48 kHz to 22.05 kHz), but billions
    for rates with a small common divisor (44,056 Hz to 22,050 Hz). When it would exceed
    about a million taps, the waveform is resampled with soxr on the CPU instead: the
    same output length and a filter of similar quality, but not differentiable and
    computed in float32 (float64 for float64 input).

    Parameters
    ----------
    waveform
        Shape ``(..., time)``, a floating-point tensor.
    orig_freq, new_freq
        Sample rates in Hz.

    Returns
    -------
    torch.Tensor
        Shape ``(..., ceil(time * new_freq / orig_freq))``; the input itself when the rates match.

    Raises
    ------
    ConfigurationError
        If a rate is not positive.
    MissingDependencyError
        If torchaudio cannot be loaded (e.g. a torchaudio built for another torch, as with
        a CPU-only torch build) and the sinc filter is needed.
    """
    if orig_freq <= 0 or new_freq <= 0:
        raise ConfigurationError(f"sample rates must be positive, got {orig_freq} -> {new_freq}")
    if orig_freq == new_freq:
        return waveform
    if _sinc_taps(orig_freq, new_freq) > _MAX_SINC_TAPS and waveform.numel() > 0:
        return _soxr_resample(waveform, orig_freq, new_freq)
    try:  # imported here only: nothing else in musicgenre needs torchaudio
        import torchaudio.functional as taF
    except (ImportError, OSError) as exc:  # OSError: a torchaudio built for another torch
        raise MissingDependencyError(
            f"resample() needs torchaudio's windowed-sinc filter, and torchaudio cannot be loaded ({exc}). "
            "Install the torchaudio that matches your torch (pip install torchaudio), or resample with "
            "soxr as musicgenre.io.load_audio(path, sample_rate=...) does."
        ) from exc
    out: torch.Tensor = taF.resample(waveform, orig_freq, new_freq)
    return out


def clip_samples(sample_rate: int, max_ms: int) -> int:
    """Number of samples the reference keeps for *max_ms* milliseconds.

    The reference computes ``sample_rate // 1000 * max_ms``, which floors the rate to whole
    kHz first: at 22050 Hz, 5000 ms keep 22 * 5000 = 110,000 samples (4.988 s), not 110,250.
    musicgenre keeps that rule so that features match the reference bit for bit.

    Examples
    --------
    >>> clip_samples(22050, 5000)
    110000
    """
    return sample_rate // 1000 * max_ms


def pad_trunc(
    waveform: torch.Tensor,
    sample_rate: int,
    max_ms: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Truncate to, or zero-pad up to, ``clip_samples(sample_rate, max_ms)`` samples.

    A longer signal keeps its beginning. A shorter one is zero-padded, the padding split
    between start and end at a random point (as in the reference); pass a seeded
    *generator* for a reproducible split. All leading dimensions share one split.

    Parameters
    ----------
    waveform
        Shape ``(..., time)``.
    sample_rate
        Rate of *waveform* in Hz.
    max_ms
        Target length in milliseconds.
    generator
        Source of the random padding offset; ``None`` uses torch's global generator.

    Returns
    -------
    torch.Tensor
        Shape ``(..., clip_samples(sample_rate, max_ms))``.
    """
    target = clip_samples(sample_rate, max_ms)
    if target <= 0:
        raise ConfigurationError(f"max_ms={max_ms} at {sample_rate} Hz keeps no samples")
    length = waveform.shape[-1]
    if length >= target:
        return waveform[..., :target]
    spare = target - length
    begin = int(torch.randint(0, spare + 1, (1,), generator=generator).item())
    return torch.nn.functional.pad(waveform, (begin, spare - begin))


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, *, scale: Literal["htk", "slaney"] = "htk"
) -> torch.Tensor:
    """Triangular mel filter bank from 0 Hz to half the sample rate.

    Parameters
    ----------
    sample_rate, n_fft, n_mels
        Rate of the audio, FFT size (``n_fft // 2 + 1`` frequency bins) and bands.
    scale
        ``"htk"``: the HTK mel scale with filters peaking at 1, as torchaudio's
        ``MelSpectrogram`` builds them (``melscale_fbanks(..., norm=None,
        mel_scale="htk")``, up to ``sample_rate // 2``). ``"slaney"``: Slaney's scale
        with filters of equal area, librosa's default (``norm="slaney",
        mel_scale="slaney"``, up to ``sample_rate / 2``).

    Returns
    -------
    torch.Tensor
        Shape ``(n_fft // 2 + 1, n_mels)``, float32: the same values as torchaudio's
        ``melscale_fbanks`` with those settings, computed by the same arithmetic here so
        that features (and so prediction) do not need torchaudio.

    Warns
    -----
    UserWarning
        If a band falls between two frequency bins and so is all zeros (too many bands
        for *n_fft*), with torchaudio's wording.

    Examples
    --------
    >>> fb = mel_filterbank(22050, 1024, 64)
    >>> tuple(fb.shape), bool((fb >= 0).all()), bool((fb <= 1).all())
    ((513, 64), True, True)
    """
    if scale not in ("htk", "slaney"):
        raise ConfigurationError(f"scale must be 'htk' or 'slaney', got {scale!r}")
    n_freqs = n_fft // 2 + 1
    bins = torch.linspace(0, sample_rate // 2, n_freqs)
    top = float(sample_rate // 2) if scale == "htk" else sample_rate / 2
    edges = _mel_to_hz(torch.linspace(_hz_to_mel(0.0, scale), _hz_to_mel(top, scale), n_mels + 2), scale)
    widths = edges[1:] - edges[:-1]
    slopes = edges.unsqueeze(0) - bins.unsqueeze(1)  # (n_freqs, n_mels + 2)
    rising = (-1.0 * slopes[:, :-2]) / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    fbanks = torch.max(torch.zeros(1), torch.min(rising, falling))
    if scale == "slaney":
        fbanks *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels])).unsqueeze(0)
    if (fbanks.max(dim=0).values == 0.0).any():
        warnings.warn(
            "At least one mel filterbank has all zero values. "
            f"The value for `n_mels` ({n_mels}) may be set too high. "
            f"Or, the value for `n_freqs` ({n_freqs}) may be set too low.",
            UserWarning,
            stacklevel=2,
        )
    return fbanks


#: Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_SLANEY_HZ_PER_MEL = 200.0 / 3
_SLANEY_LOG_HZ = 1000.0
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(freq: float, scale: str) -> float:
    if scale == "htk":
        return 2595.0 * math.log10(1.0 + (freq / 700.0))
    mels = freq / _SLANEY_HZ_PER_MEL
    if freq >= _SLANEY_LOG_HZ:
        mels = _SLANEY_LOG_HZ / _SLANEY_HZ_PER_MEL + math.log(freq / _SLANEY_LOG_HZ) / _SLANEY_LOG_STEP
    return mels


def _mel_to_hz(mels: torch.Tensor, scale: str) -> torch.Tensor:
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    freqs = _SLANEY_HZ_PER_MEL * mels
    log_mel = _SLANEY_LOG_HZ / _SLANEY_HZ_PER_MEL
    above = mels >= log_mel
    freqs[above] = _SLANEY_LOG_HZ * torch.exp(_SLANEY_LOG_STEP * (mels[above] - log_mel))
    return freqs


#: Values in one pass of the CPU's framed STFT: 512 KiB of float32 frames (a core's L2 cache
#: on many CPUs), which stay in cache from the window product through the FFT to the mel
#: product. 64 frames at n_fft 2048; passes of 128 were a third slower on a 512 KiB L2.
_PASS_VALUES = 1 << 17


def mel_spectrogram(
    waveform: torch.Tensor,
    sample_rate: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 512,
    n_mels: int = 64,
    window: torch.Tensor | None = None,
    fbanks: torch.Tensor | None = None,
    center: bool = True,
    pad_mode: Literal["reflect", "constant"] | None = None,
) -> torch.Tensor:
    """Power mel spectrogram, equal to ``torchaudio.transforms.MelSpectrogram`` within float rounding.

    Parameters
    ----------
    waveform
        Shape ``(..., time)``.
    sample_rate
        Rate of *waveform* in Hz.
    n_fft, hop_length, n_mels
        FFT size (also the Hann window length), hop between frames, mel bands.
    window, fbanks
        Precomputed window ``(n_fft,)`` (default: Hann) and filter bank ``(n_fft // 2 + 1,
        n_mels)`` (default: :func:`mel_filterbank`); the modules keep them as buffers.
    center
        Centre the frames (pad the signal by ``n_fft // 2`` at each end); ``False``: frame
        *t* starts at sample ``t * hop_length`` and only whole frames are kept (for a
        signal whose context is already in place, e.g. a block of a longer track).
    pad_mode
        How centred frames see beyond the ends: ``"reflect"`` (torchaudio's default) or
        ``"constant"`` (zeros, librosa's). ``None``: reflect, or zeros for a signal too
        short to reflect (at most ``n_fft // 2`` samples).

    Returns
    -------
    torch.Tensor
        Shape ``(..., n_mels, 1 + time // hop_length)`` (centred; ``1 + (time - n_fft) //
        hop_length`` with ``center=False``).

    Raises
    ------
    ConfigurationError
        If *waveform* has no samples, is too short for one frame with ``center=False``,
        or is too short to reflect with ``pad_mode="reflect"``.

    Notes
    -----
    The frames are the STFT's (``torch.stft`` with ``onesided=True``, no normalisation),
    but on the CPU they are transformed half a megabyte at a time, each pass windowed,
    transformed, squared and multiplied by the filter bank while it is still in cache:
    on a 30-s track this takes about half the time of ``torch.stft`` followed by the mel
    product. The power is summed from the squared real and imaginary parts (``abs()`` of a
    complex tensor costs more than the FFT on a CPU). The values differ from
    torchaudio's by float rounding (about 1e-6 relative).

    The power of float32 samples overflows above about 1e16 in magnitude (some 320 dB
    above full scale), so keep audio in a sensible range (decoded files are in [-1, 1]).
    """
    length = waveform.shape[-1]
    if length == 0:
        raise ConfigurationError(f"waveform of shape {tuple(waveform.shape)} has no samples; pass at least one sample")
    if window is None:
        window = torch.hann_window(n_fft, device=waveform.device, dtype=waveform.dtype)
    if fbanks is None:
        fbanks = mel_filterbank(sample_rate, n_fft, n_mels).to(waveform.device, waveform.dtype)
    lead = waveform.shape[:-1]
    flat = waveform.reshape(-1, length)
    if center:
        flat = _pad_ends(flat, n_fft // 2, pad_mode or ("reflect" if length > n_fft // 2 else "constant"))
    elif length < n_fft:
        raise ConfigurationError(f"{length} samples are fewer than one frame of n_fft={n_fft} (center=False)")
    mel = _framed_mel(flat.unfold(-1, n_fft, hop_length), window, fbanks)  # (batch, frames, n_mels)
    return mel.transpose(-1, -2).reshape(*lead, fbanks.shape[-1], -1)


def _pad_ends(flat: torch.Tensor, half: int, mode: str) -> torch.Tensor:
    """``(batch, time)`` padded by *half* samples at each end: reflected or zeros."""
    if mode == "constant":
        return torch.nn.functional.pad(flat, (half, half))
    if mode != "reflect":
        raise ConfigurationError(f"pad_mode must be 'reflect' or 'constant', got {mode!r}")
    if flat.shape[-1] <= half:
        raise ConfigurationError(f"{flat.shape[-1]} samples are too few to reflect {half} at each end")
    # torch.nn.functional.pad's reflection of a long signal is a slow kernel; a concatenation is not.
    return torch.cat([flat[:, 1 : half + 1].flip(-1), flat, flat[:, -half - 1 : -1].flip(-1)], dim=-1)


def _framed_mel(frames: torch.Tensor, window: torch.Tensor, fbanks: torch.Tensor) -> torch.Tensor:
    """Mel power of framed samples ``(batch, frames, n_fft)`` (a view) -> ``(batch, frames, n_mels)``."""
    if frames.device.type != "cpu" or (
        torch.is_grad_enabled() and (frames.requires_grad or window.requires_grad or fbanks.requires_grad)
    ):
        return torch.matmul(_power(torch.fft.rfft(frames * window)), fbanks)
    batch, count, n_fft = frames.shape
    step = min(count, max(1, _PASS_VALUES // n_fft))
    out = frames.new_empty(batch, count, fbanks.shape[-1])
    buffer = frames.new_empty(step, n_fft)
    for b in range(batch):
        for first in range(0, count, step):
            stop = min(count, first + step)
            windowed = torch.mul(frames[b, first:stop], window, out=buffer[: stop - first])
            torch.matmul(_power(torch.fft.rfft(windowed)), fbanks, out=out[b, first:stop])
    return out


def _power(spec: torch.Tensor) -> torch.Tensor:
    """``|spec| ** 2`` of a complex tensor, from its squared parts (in place unless it needs gradients)."""
    parts = torch.view_as_real(spec)
    squares = parts.square() if parts.requires_grad else parts.square_()
    return squares[..., 0] + squares[..., 1]


def amplitude_to_db(spec: torch.Tensor, top_db: float | None = 80.0, amin: float = 1e-10) -> torch.Tensor:
    """Convert a power spectrogram to decibels, floored *top_db* below each spectrogram's peak.

    Unlike torchaudio, whose floor depends on how inputs are batched, the floor here is
    computed per ``(n_mels, frames)`` matrix, so batching never changes a result. For one
    mono spectrogram both agree. Silence maps to ``10 * log10(amin)`` = -100 dB.

    Parameters
    ----------
    spec
        Power spectrogram, shape ``(..., freq, frames)``.
    top_db
        Dynamic range kept below the peak, or ``None`` for no floor.
    amin
        Smallest power before the logarithm.

    Returns
    -------
    torch.Tensor
        Same shape, in dB.

    Examples
    --------
    >>> amplitude_to_db(torch.tensor([[1.0, 1e-12]]), top_db=80.0)
    tensor([[  0., -80.]])
    """
    db = 10.0 * torch.log10(torch.clamp(spec, min=amin))
    if top_db is not None:
        floor = db.amax(dim=(-2, -1), keepdim=True) - top_db
        db = torch.maximum(db, floor)
    return db


def _mask_along(
    spec: torch.Tensor, param: float, dim: int, value: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    # The same draws as torchaudio.functional.mask_along_axis, but from *generator*.
    size = spec.shape[dim]
    draws = torch.rand(2, generator=generator)
    width = draws[0] * param
    start = (draws[1] * (size - width)).long()
    end = start + width.long()
    idx = torch.arange(size, device=spec.device)
    mask = (idx >= start) & (idx < end)
    shape = [1] * spec.dim()
    shape[dim] = size
    return spec.masked_fill(mask.view(shape), value)


def spec_augment(
    spec: torch.Tensor,
    *,
    max_mask_pct: float = 0.1,
    n_freq_masks: int = 1,
    n_time_masks: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment masking as in the reference: bands of mel bins and frames set to the mean.

    Each mask's width is drawn uniformly below ``max_mask_pct`` of the axis and its start
    uniformly where it fits, exactly as torchaudio's ``FrequencyMasking``/``TimeMasking``
    draw them, but from *generator* so a seed reproduces them. Leading dimensions share
    the masks.

    Parameters
    ----------
    spec
        Shape ``(..., n_mels, frames)``.
    max_mask_pct
        Largest mask as a fraction of the axis.
    n_freq_masks, n_time_masks
        How many masks along each axis.
    generator
        Source of randomness; ``None`` uses torch's global generator.

    Returns
    -------
    torch.Tensor
        Same shape; masked cells hold the input's mean.
    """
    if spec.dim() < 2:
        raise ConfigurationError(f"spec must be (..., n_mels, frames), got {tuple(spec.shape)}")
    value = spec.mean()
    out = spec
    for _ in range(n_freq_masks):
        out = _mask_along(out, max_mask_pct * spec.shape[-2], spec.dim() - 2, value, generator)
    for _ in range(n_time_masks):
        out = _mask_along(out, max_mask_pct * spec.shape[-1], spec.dim() - 1, value, generator)
    return out


def fit_length(x: torch.Tensor, length: int, *, pad_value: float = 0.0) -> torch.Tensor:
    """Keep the first *length* steps of the last axis, or pad the end with *pad_value*.

    Parameters
    ----------
    x
        Shape ``(..., time)`` (a waveform) or ``(..., n_mels, frames)`` (a spectrogram).
    length
        Target size of the last axis.
    pad_value
        Fill for missing steps (0 for waveforms; the dB floor for spectrograms).

    Returns
    -------
    torch.Tensor
        Shape ``(..., length)``.
    """
    if x.shape[-1] >= length:
        return x[..., :length]
    return torch.nn.functional.pad(x, (0, length - x.shape[-1]), value=pad_value)


def random_crop(
    x: torch.Tensor, length: int, *, generator: torch.Generator | None = None, pad_value: float = 0.0
) -> torch.Tensor:
    """Cut a window of *length* steps from a uniformly random start on the last axis.

    Every start from 0 to ``x.shape[-1] - length`` is equally likely, so the crops of a
    track cover all of it over many draws; an input shorter than *length* is padded at
    its end with *pad_value* instead.

    Parameters
    ----------
    x
        Shape ``(..., time)`` or ``(..., n_mels, frames)``.
    length
        Window size.
    generator
        Source of the start; seed it for reproducible crops.
    pad_value
        Fill when the input is shorter than *length*.

    Returns
    -------
    torch.Tensor
        Shape ``(..., length)``.

    Examples
    --------
    >>> crop = random_crop(torch.arange(10.0), 4, generator=torch.Generator().manual_seed(0))
    >>> crop.shape, bool((crop[1:] - crop[:-1] == 1).all())
    (torch.Size([4]), True)
    """
    spare = x.shape[-1] - length
    if spare <= 0:
        return fit_length(x, length, pad_value=pad_value)
    start = int(torch.randint(0, spare + 1, (1,), generator=generator).item())
    return x[..., start : start + length]


def segments(x: torch.Tensor, length: int, hop: int, *, pad_value: float = 0.0) -> torch.Tensor:
    """Cut the last axis into windows of *length* every *hop* steps, covering all of it.

    The last window is padded at its end with *pad_value* when the input does not divide
    evenly, and an input shorter than one window gives one padded window.

    Parameters
    ----------
    x
        Shape ``(..., time)`` or ``(..., n_mels, frames)``.
    length
        Window size.
    hop
        Step between window starts (``length`` for no overlap, ``length // 2`` for 50 %).

    Returns
    -------
    torch.Tensor
        Shape ``(n_windows, ..., length)`` with ``n_windows = 1 + ceil(max(0, T - length) / hop)``.

    Examples
    --------
    >>> segments(torch.arange(10.0), 4, 3)
    tensor([[0., 1., 2., 3.],
            [3., 4., 5., 6.],
            [6., 7., 8., 9.]])
    """
    if length < 1 or hop < 1:
        raise ConfigurationError(f"length and hop must be positive, got {length} and {hop}")
    total = x.shape[-1]
    count = 1 + max(0, -(-(total - length) // hop))
    padded = fit_length(x, length + (count - 1) * hop, pad_value=pad_value)
    # unfold gives (..., n_windows, length) as a view; windows go first, as a copy.
    return padded.unfold(-1, length, hop).movedim(-2, 0).contiguous()
