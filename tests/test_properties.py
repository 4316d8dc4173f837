"""Property tests (hypothesis) for the audio transforms: shapes, dtypes and finiteness hold for any input.

The domain: any length from 1 sample to 10 minutes, any rate from 4 to 192 kHz, 1 to 8
channels, and any finite float32 sample values up to 2**40 (about 1e12, 240 dB above full
scale; beyond about 1e16 the power spectrum itself overflows float32, as documented in
:func:`musicgenre.audio.functional.mel_spectrogram`).

Ten minutes at 192 kHz on 8 channels is 3.7 GB of float32, more than a test should hold. So
a signal of up to 4.8 M samples (10 minutes at 8 kHz, mono) is a real tensor whose samples
repeat a drawn pattern; a longer one is a stride-0 view in which each channel holds one
drawn value throughout (no memory). Only the transforms that read a bounded part of their
input (``pad_trunc``, ``fit_length``, ``random_crop``, ``ClipFeatures``) take those; the
others get real tensors. Two fixed examples run the resampler on 10 whole minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray

from musicgenre.audio import ClipFeatures, FeatureConfig, LogMelSpectrogram
from musicgenre.audio import functional as F
from musicgenre.errors import ConfigurationError

MAX_SECONDS = 600
DENSE_BUDGET = MAX_SECONDS * 8000  # samples (all channels) held as a real tensor: 19 MB
MAX_VALUE = 2.0**40
COMMON_RATES = (4000, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
FAST = settings(max_examples=40, deadline=None)
SLOW = settings(max_examples=20, deadline=None)


@dataclass(frozen=True)
class Signal:
    """A drawn waveform, built on demand (see the module docs)."""

    rate: int
    channels: int
    length: int
    pattern: NDArray[np.float32]  # (channels, period): the samples repeat it

    @property
    def dense(self) -> bool:
        return self.channels * self.length <= DENSE_BUDGET

    def tensor(self) -> torch.Tensor:
        """``(channels, length)`` float32."""
        if not self.dense:  # each channel holds its first value throughout, in no memory
            return torch.from_numpy(self.pattern[:, :1].copy()).expand(self.channels, self.length)
        reps = -(-self.length // self.pattern.shape[1])
        return torch.from_numpy(np.ascontiguousarray(np.tile(self.pattern, (1, reps))[:, : self.length]))

    def __repr__(self) -> str:  # hypothesis prints failing examples with this
        kind = "dense" if self.dense else "stride-0"
        return f"Signal({self.rate} Hz, {self.channels} ch, {self.length} samples, {kind}, pattern={self.pattern!r})"


values = st.floats(-MAX_VALUE, MAX_VALUE, width=32, allow_nan=False, allow_infinity=False)
rates = st.one_of(st.sampled_from(COMMON_RATES), st.integers(4000, 192000))


@st.composite
def signals(draw: st.DrawFn, *, dense: bool = False, max_samples: int = DENSE_BUDGET) -> Signal:
    """Any rate, 1-8 channels, 1 sample to 10 minutes (within *max_samples* when *dense*)."""
    rate = draw(rates)
    channels = draw(st.integers(1, 8))
    longest = MAX_SECONDS * rate
    if dense:
        longest = max(1, min(longest, max_samples // channels))
    # Pick the scale first: integers over a wide range would mostly be small.
    scale = draw(st.sampled_from(("samples", "seconds", "minutes", "longest")))
    if scale == "samples":
        length = draw(st.integers(1, min(4096, longest)))
    elif scale == "seconds":
        length = draw(st.integers(1, min(60 * rate, longest)))
    elif scale == "minutes":
        length = draw(st.integers(min(60 * rate, longest), longest))
    else:
        length = longest
    period = draw(st.integers(1, 64))
    pattern = draw(arrays(np.float32, (channels, period), elements=values))
    return Signal(rate, channels, length, pattern)


def _ten_minutes(rate: int) -> Signal:
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)[None]  # 1 s, repeated
    return Signal(rate, 1, MAX_SECONDS * rate, tone)


def _features(rate: int) -> FeatureConfig:
    """The reference's settings at *rate*; above 96 kHz a 2048-point FFT keeps every mel band non-empty."""
    n_fft = 1024 if rate <= 96000 else 2048
    return FeatureConfig(sample_rate=rate, n_fft=n_fft, hop_length=n_fft // 2)


def _assert_finite_float32(x: torch.Tensor) -> None:
    assert x.dtype == torch.float32
    assert bool(torch.isfinite(x).all())


def _assert_top_db_range(spec: torch.Tensor, top_db: float) -> None:
    """Each ``(n_mels, frames)`` matrix spans at most *top_db* below its own peak."""
    flat = spec.reshape(*spec.shape[:-2], -1)
    peak = flat.amax(dim=-1)
    low = flat.amin(dim=-1)
    assert bool((peak - low <= top_db + 1e-3).all())


# -- channels ------------------------------------------------------------------------------


@FAST
@given(signal=signals(dense=True))
def test_to_mono_is_one_channel_between_the_channel_extremes(signal: Signal) -> None:
    x = signal.tensor()
    mono = F.to_mono(x)
    assert mono.shape == (1, signal.length)
    _assert_finite_float32(mono)
    slack = 1e-6 * float(x.abs().max())
    assert bool((mono[0] <= x.amax(dim=0) + slack).all())
    assert bool((mono[0] >= x.amin(dim=0) - slack).all())
    assert torch.equal(F.rechannel(mono, 3), mono.expand(3, -1))


# -- resampling ----------------------------------------------------------------------------


@SLOW
@given(signal=signals(dense=True, max_samples=1 << 17), new_rate=rates)
@example(signal=_ten_minutes(4000), new_rate=22050)  # the sinc filter, on 10 minutes
@example(signal=_ten_minutes(4001), new_rate=22050)  # coprime rates: soxr, on 10 minutes
@example(signal=Signal(4000, 2, 1, np.ones((2, 1), np.float32)), new_rate=192000)  # 1 sample, 48x up
@example(signal=Signal(192000, 2, 1, np.ones((2, 1), np.float32)), new_rate=4000)  # 1 sample, 48x down
def test_resample_gives_the_documented_length(signal: Signal, new_rate: int) -> None:
    x = signal.tensor()
    y = F.resample(x, signal.rate, new_rate)
    assert y.shape == (signal.channels, math.ceil(signal.length * new_rate / signal.rate))
    _assert_finite_float32(y)
    # A windowed-sinc low-pass overshoots a little (Gibbs), never by much.
    assert float(y.abs().max()) <= 2.0 * float(x.abs().max()) + 1e-30


def test_resampling_rates_with_a_small_common_divisor_stays_cheap_and_in_tune() -> None:
    # 44,056 -> 22,050 Hz reduce to 22,028 : 11,025, whose sinc kernel would need 243 M taps
    # (about 1 GB); resample() hands such ratios to soxr.
    assert F._sinc_taps(44056, 22050) > F._MAX_SINC_TAPS
    t = torch.arange(44056) / 44056
    x = torch.sin(2 * math.pi * 440 * t).repeat(2, 1)
    y = F.resample(x, 44056, 22050)
    assert y.shape == (2, 22050)
    assert float(torch.fft.rfft(y[0]).abs().argmax()) == pytest.approx(440, abs=1)
    assert not torch.equal(y[0], torch.zeros(22050))


def test_every_pair_of_common_rates_keeps_torchaudios_filter() -> None:
    # The reference's resampler (bit for bit) wherever a real recording's rate meets another.
    assert max(F._sinc_taps(a, b) for a in COMMON_RATES for b in COMMON_RATES) <= F._MAX_SINC_TAPS


# -- fixed-length clips --------------------------------------------------------------------


@FAST
@given(signal=signals(), max_ms=st.integers(1, 5000), seed=st.integers(0, 2**32 - 1))
def test_pad_trunc_keeps_or_zero_pads_to_the_clip_length(signal: Signal, max_ms: int, seed: int) -> None:
    x = signal.tensor()
    target = F.clip_samples(signal.rate, max_ms)
    out = F.pad_trunc(x, signal.rate, max_ms, generator=torch.Generator().manual_seed(seed))
    assert out.shape == (signal.channels, target)
    _assert_finite_float32(out)
    if signal.length >= target:
        assert torch.equal(out, x[:, :target])
        return
    begin = int(torch.randint(0, target - signal.length + 1, (1,), generator=torch.Generator().manual_seed(seed)))
    assert torch.equal(out[:, begin : begin + signal.length], x)
    assert not bool(out[:, :begin].any())
    assert not bool(out[:, begin + signal.length :].any())


@SLOW
@given(signal=signals())
@example(signal=Signal(4000, 1, 1, np.ones((1, 1), np.float32)))  # 1 sample
@example(signal=Signal(192000, 8, MAX_SECONDS * 192000, np.ones((8, 1), np.float32)))  # 10 min, 192 kHz, 8 ch
def test_clip_features_give_the_model_input(signal: Signal) -> None:
    config = _features(signal.rate)
    spec = ClipFeatures(config, generator=torch.Generator().manual_seed(0))(signal.tensor())
    assert spec.shape == (signal.channels, config.n_mels, config.n_frames)
    _assert_finite_float32(spec)
    if config.top_db is not None:
        _assert_top_db_range(spec, config.top_db)


@SLOW
@given(signal=signals(dense=True))
@example(signal=Signal(22050, 1, 1, np.full((1, 1), 0.5, np.float32)))  # shorter than n_fft // 2: zero-padded
@example(signal=Signal(22050, 2, 512, np.full((2, 1), 0.5, np.float32)))  # exactly n_fft // 2
def test_log_mel_of_any_length_has_the_documented_frames(signal: Signal) -> None:
    config = _features(signal.rate)
    mel = LogMelSpectrogram(signal.rate, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels)
    spec = mel(signal.tensor())
    assert spec.shape == (signal.channels, config.n_mels, 1 + signal.length // config.hop_length)
    _assert_finite_float32(spec)
    _assert_top_db_range(spec, 80.0)


def test_log_mel_of_a_short_input_equals_that_of_its_zero_padded_self() -> None:
    # Too short to reflect at the ends: the frames see the signal surrounded by silence.
    x = torch.linspace(-0.5, 0.5, 300)[None]
    short = F.mel_spectrogram(x, 22050)
    padded = F.mel_spectrogram(torch.nn.functional.pad(x, (512, 512)), 22050)
    assert short.shape == (1, 64, 1)
    torch.testing.assert_close(short[..., 0], padded[..., 1], rtol=1e-4, atol=1e-6)


def test_an_empty_waveform_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no samples"):
        F.mel_spectrogram(torch.zeros(2, 0), 22050)


def test_default_n_fft_above_96_khz_gets_torchaudios_empty_band_warning() -> None:
    # Documented in docs/troubleshooting.rst: use n_fft=2048 (hop 1024) at 96-192 kHz.
    with pytest.warns(UserWarning, match="filterbank"):
        LogMelSpectrogram(192000)


# -- windows and masks ---------------------------------------------------------------------


@FAST
@given(
    signal=signals(dense=True, max_samples=1 << 18),
    length=st.integers(1, 5000),
    hop=st.integers(1, 5000),
    seed=st.integers(0, 2**32 - 1),
)
def test_windowing_shapes_and_contents(signal: Signal, length: int, hop: int, seed: int) -> None:
    count = 1 + max(0, math.ceil((signal.length - length) / hop))
    assume(count * length * signal.channels <= 1 << 22)  # segments() holds every window
    x = signal.tensor()
    fitted = F.fit_length(x, length)
    crop = F.random_crop(x, length, generator=torch.Generator().manual_seed(seed))
    windows = F.segments(x, length, hop)
    for out in (fitted, crop):
        assert out.shape == (signal.channels, length)
        _assert_finite_float32(out)
    assert windows.shape == (count, signal.channels, length)
    _assert_finite_float32(windows)
    keep = min(length, signal.length)
    assert torch.equal(fitted[:, :keep], x[:, :keep])
    for i in range(count):
        part = x[:, i * hop : i * hop + length]
        assert torch.equal(windows[i, :, : part.shape[-1]], part)


@FAST
@given(
    spec=arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 80), st.integers(1, 300)), elements=values),
    pct=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_spec_augment_only_replaces_cells_with_the_mean(spec: NDArray[np.float32], pct: float, seed: int) -> None:
    x = torch.from_numpy(spec)
    out = F.spec_augment(
        x, max_mask_pct=pct, n_freq_masks=2, n_time_masks=2, generator=torch.Generator().manual_seed(seed)
    )
    assert out.shape == x.shape
    _assert_finite_float32(out)
    assert bool(((out == x) | (out == x.mean())).all())


@FAST
@given(signal=signals())
def test_long_inputs_are_cut_without_being_copied(signal: Signal) -> None:
    # pad_trunc, fit_length and random_crop of a signal longer than the window return a view.
    x = signal.tensor()
    window = min(signal.length, F.clip_samples(signal.rate, 5000))
    if signal.length > window:
        for out in (F.pad_trunc(x, signal.rate, 5000), F.fit_length(x, window), F.random_crop(x, window)):
            assert out.shape == (signal.channels, window)
            assert out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
