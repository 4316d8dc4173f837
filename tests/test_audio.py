"""Audio transforms, checked against physics (tones, silence) and against torchaudio."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from numpy.typing import NDArray

from musicgenre.audio import (
    AudioUtil,
    ClipFeatures,
    FeatureConfig,
    LogMelSpectrogram,
    PadTrunc,
    Resample,
    SpecAugment,
    ToMono,
)
from musicgenre.audio import functional as F
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.io import load_audio

SR = 22050
N_MELS = 64
Sine = Callable[..., NDArray[np.float32]]


def _hz_to_mel(f: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f) / 700.0))


def _mel_to_hz(m: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(700.0 * (10.0 ** (m / 2595.0) - 1.0))


def _band_with_most_weight(freq: float, sample_rate: int = SR, n_mels: int = N_MELS) -> int:
    """HTK triangular filters from first principles: which band responds most to *freq* Hz."""
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(sample_rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    weight = np.maximum(0.0, np.minimum((freq - lower) / (centre - lower), (upper - freq) / (upper - centre)))
    return int(np.argmax(weight))


def _tone(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * SR), dtype=torch.float64) / SR
    return (amplitude * torch.sin(2 * torch.pi * freq * t)).float().unsqueeze(0)


# -- log-mel physics -----------------------------------------------------------------------


@pytest.mark.parametrize("freq", [440.0, 110.0, 1000.0, 3000.0, 8000.0])
def test_tone_peaks_in_the_mel_band_containing_its_frequency(freq: float) -> None:
    spec = LogMelSpectrogram(SR)(_tone(freq))

    loudest = int(spec[0].mean(dim=-1).argmax())

    expected = _band_with_most_weight(freq)
    assert loudest == expected
    # The band's triangle spans the tone: [lower edge, upper edge] contains freq.
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(SR / 2)), N_MELS + 2))
    assert edges[loudest] < freq < edges[loudest + 2]


def test_band_centres_agree_with_torchaudio_filterbank() -> None:
    # The independent HTK formula above and torchaudio's filter bank describe the same bands.
    fbanks = torchaudio.functional.melscale_fbanks(513, 0.0, SR / 2, N_MELS, SR, norm=None, mel_scale="htk")
    bin_440 = round(440.0 * 1024 / SR)
    assert int(fbanks[bin_440].argmax()) == _band_with_most_weight(bin_440 * SR / 1024)
    torch.testing.assert_close(F.mel_filterbank(SR, 1024, N_MELS), fbanks)


def test_silence_sits_at_the_db_floor() -> None:
    spec = LogMelSpectrogram(SR)(torch.zeros(1, SR))
    assert spec.shape == (1, N_MELS, 1 + SR // 512)
    assert torch.all(spec == -100.0)  # 10 * log10(amin = 1e-10)


def test_top_db_floors_quiet_cells_80_db_below_the_peak(rng: np.random.Generator) -> None:
    # A loud tone followed by silence: the silent frames sit exactly 80 dB below the peak.
    wave = torch.cat([_tone(1000.0, seconds=0.5), torch.zeros(1, SR // 2)], dim=-1)
    spec = LogMelSpectrogram(SR, top_db=80.0)(wave)
    peak = float(spec.max())
    assert float(spec.min()) == pytest.approx(peak - 80.0, abs=1e-4)
    assert float(spec[..., -5:].max()) == pytest.approx(peak - 80.0, abs=1e-4)
    unfloored = LogMelSpectrogram(SR, top_db=None)(wave)
    assert float(unfloored.min()) < peak - 80.0


@pytest.mark.parametrize("sample_rate", [22050, 11025, 16000])
def test_log_mel_equals_torchaudio_mel_then_amplitude_to_db(rng: np.random.Generator, sample_rate: int) -> None:
    wave = torch.from_numpy(rng.uniform(-0.5, 0.5, size=(1, sample_rate)).astype(np.float32))
    reference = torchaudio.transforms.AmplitudeToDB(top_db=80)(
        torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=1024, n_mels=64)(wave)
    )
    torch.testing.assert_close(LogMelSpectrogram(sample_rate)(wave), reference, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    ("n_fft", "hop", "n_mels", "pad_mode"), [(2048, 512, 96, "reflect"), (512, 256, 32, "constant")]
)
def test_mel_power_of_long_batched_signals_equals_torchaudios(
    rng: np.random.Generator, n_fft: int, hop: int, n_mels: int, pad_mode: Literal["reflect", "constant"]
) -> None:
    # 20 s at 22.05 kHz: several of the CPU's framed passes per signal, and two signals of
    # very different loudness in one batch; the autograd path (whole, not framed) agrees too.
    wave = torch.from_numpy(rng.uniform(-0.5, 0.5, size=(2, 20 * SR)).astype(np.float32))
    wave[1] *= 1e-3
    reference = torchaudio.transforms.MelSpectrogram(SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels, pad_mode=pad_mode)(
        wave
    )
    power = F.mel_spectrogram(wave, SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels, pad_mode=pad_mode)
    assert power.shape == reference.shape == (2, n_mels, 1 + 20 * SR // hop)
    torch.testing.assert_close(power, reference, rtol=1e-5, atol=1e-12)
    traced = wave.clone().requires_grad_(True)
    with_grad = F.mel_spectrogram(traced, SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels, pad_mode=pad_mode)
    torch.testing.assert_close(with_grad.detach(), power, rtol=1e-6, atol=0.0)


def test_mel_power_without_centring_keeps_whole_frames_only() -> None:
    wave = torch.linspace(-0.5, 0.5, 5000)[None]
    frames = F.mel_spectrogram(wave, SR, center=False)
    assert frames.shape == (1, 64, 1 + (5000 - 1024) // 512)
    centred = F.mel_spectrogram(torch.nn.functional.pad(wave, (512, 512)), SR, center=False)
    torch.testing.assert_close(centred, F.mel_spectrogram(wave, SR, pad_mode="constant"), rtol=1e-5, atol=1e-12)
    with pytest.raises(ConfigurationError, match="fewer than one frame"):
        F.mel_spectrogram(wave[:, :1000], SR, center=False)
    with pytest.raises(ConfigurationError, match="too few to reflect"):
        F.mel_spectrogram(wave[:, :400], SR, pad_mode="reflect")


def test_batched_log_mel_equals_per_item_calls(rng: np.random.Generator) -> None:
    # Items of very different loudness: a per-batch dB floor would change the quiet ones.
    gains = np.array([1.0, 1e-3, 0.3, 0.0], dtype=np.float32)[:, None, None]
    batch = torch.from_numpy(rng.uniform(-1, 1, size=(4, 1, SR)).astype(np.float32) * gains)
    mel = LogMelSpectrogram(SR)

    batched = mel(batch)

    assert batched.shape == (4, 1, N_MELS, 1 + SR // 512)
    torch.testing.assert_close(batched, torch.stack([mel(item) for item in batch]))


def test_stereo_with_opposite_channels_averages_to_silence(sine: Sine) -> None:
    tone = torch.from_numpy(sine(440.0, seconds=0.5))
    stereo = torch.stack([tone, -tone])
    mono = ToMono()(stereo)
    assert mono.shape == (1, len(tone))
    assert torch.all(mono == 0.0)
    assert torch.all(LogMelSpectrogram(SR)(mono) == -100.0)


# -- the reference input -------------------------------------------------------------------


def test_reference_clip_keeps_110000_samples() -> None:
    # The reference computes sr // 1000 * max_ms: 22 * 5000, not 22.05 * 5000.
    assert F.clip_samples(22050, 5000) == 110_000
    assert FeatureConfig().clip_samples == 110_000
    assert F.pad_trunc(torch.zeros(1, 30 * SR), SR, 5000).shape == (1, 110_000)


def test_reference_input_is_1_by_64_by_215(rng: np.random.Generator) -> None:
    config = FeatureConfig()
    assert config.n_frames == 1 + 110_000 // 512 == 215
    features = ClipFeatures(config, generator=torch.Generator().manual_seed(0))
    for seconds in (30.0, 5.0, 1.5):  # longer, about equal, shorter than the clip
        wave = torch.from_numpy(rng.uniform(-0.5, 0.5, size=(1, round(seconds * SR))).astype(np.float32))
        assert features(wave).shape == (1, 64, 215)


def test_clip_features_is_pad_trunc_then_log_mel(rng: np.random.Generator) -> None:
    wave = torch.from_numpy(rng.uniform(-0.5, 0.5, size=(1, 6 * SR)).astype(np.float32))
    expected = LogMelSpectrogram(SR)(wave[..., :110_000])
    torch.testing.assert_close(ClipFeatures()(wave), expected)


def test_feature_config_round_trips_and_validates() -> None:
    config = FeatureConfig(n_mels=32, hop_length=256)
    assert FeatureConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigurationError, match="n_mels"):
        FeatureConfig(n_mels=0)
    with pytest.raises(ConfigurationError, match="unknown"):
        FeatureConfig.from_dict({"sample_rate": 22050, "colour": "blue"})


# -- pad / truncate ------------------------------------------------------------------------


def test_pad_trunc_truncation_keeps_the_beginning() -> None:
    wave = torch.arange(200_000, dtype=torch.float32).reshape(1, -1)
    out = F.pad_trunc(wave, SR, 5000)
    assert torch.equal(out, wave[:, :110_000])


def test_pad_trunc_pads_with_zeros_around_the_unchanged_signal(rng: np.random.Generator) -> None:
    signal = torch.from_numpy(rng.uniform(0.1, 1.0, size=(2, 30_000)).astype(np.float32))  # never zero

    out = F.pad_trunc(signal, SR, 5000, generator=torch.Generator().manual_seed(3))

    assert out.shape == (2, 110_000)
    nonzero = torch.nonzero(out[0]).flatten()
    begin = int(nonzero[0])
    assert len(nonzero) == 30_000
    assert torch.equal(out[:, begin : begin + 30_000], signal)  # both channels share one offset
    assert torch.all(out[:, :begin] == 0)
    assert torch.all(out[:, begin + 30_000 :] == 0)


def _pad_offset(seed: int, length: int = 1000) -> int:
    out = F.pad_trunc(torch.ones(1, length), SR, 1000, generator=torch.Generator().manual_seed(seed))
    return int(torch.nonzero(out[0])[0])


def test_pad_placement_is_reproducible_and_varies_with_the_seed() -> None:
    assert _pad_offset(7) == _pad_offset(7)
    offsets = {_pad_offset(seed) for seed in range(8)}
    assert len(offsets) > 1
    assert all(0 <= o <= F.clip_samples(SR, 1000) - 1000 for o in offsets)


def test_pad_trunc_module_uses_its_generator() -> None:
    a = PadTrunc(SR, 1000, torch.Generator().manual_seed(11))(torch.ones(1, 1000))
    b = F.pad_trunc(torch.ones(1, 1000), SR, 1000, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a, b)


def test_pad_trunc_exact_length_is_unchanged(rng: np.random.Generator) -> None:
    wave = torch.from_numpy(rng.standard_normal((1, 110_000)).astype(np.float32))
    assert torch.equal(F.pad_trunc(wave, SR, 5000), wave)


def test_pad_trunc_rejects_a_zero_length_target() -> None:
    with pytest.raises(ConfigurationError):
        F.pad_trunc(torch.ones(1, 10), SR, 0)


# -- channels and resampling ---------------------------------------------------------------


def test_rechannel_mono_and_duplicate(rng: np.random.Generator) -> None:
    stereo = torch.from_numpy(rng.standard_normal((2, 100)).astype(np.float32))
    torch.testing.assert_close(F.rechannel(stereo, 1), stereo.mean(dim=0, keepdim=True))
    mono = stereo[:1]
    duplicated = F.rechannel(mono, 2)
    assert duplicated.shape == (2, 100)
    assert torch.equal(duplicated[0], duplicated[1])
    assert torch.equal(duplicated[0], mono[0])
    assert F.rechannel(stereo, 2) is stereo
    with pytest.raises(ConfigurationError):
        F.rechannel(torch.zeros(3, 10), 2)


def test_resample_matches_torchaudio_and_length(sine: Sine) -> None:
    wave = torch.from_numpy(sine(440.0, seconds=1.0, sample_rate=44100)).unsqueeze(0)
    out = Resample(44100, 22050)(wave)
    assert out.shape == (1, 22050)
    torch.testing.assert_close(out, torchaudio.functional.resample(wave, 44100, 22050))
    assert F.resample(wave, 44100, 44100) is wave
    with pytest.raises(ConfigurationError):
        F.resample(wave, 0, 22050)


# -- SpecAugment ---------------------------------------------------------------------------


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spec(rng: np.random.Generator) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal((1, N_MELS, 215)).astype(np.float32))


def test_spec_augment_same_seed_same_masks(rng: np.random.Generator) -> None:
    spec = _spec(rng)
    a, b = (F.spec_augment(spec, max_mask_pct=0.2, n_freq_masks=2, n_time_masks=2, generator=_gen(s)) for s in (5, 5))
    assert torch.equal(a, b)
    masks = {
        F.spec_augment(spec, max_mask_pct=0.2, generator=torch.Generator().manual_seed(seed)).ne(spec).sum().item()
        for seed in range(6)
    }
    assert len(masks) > 1  # other seeds, other masks


@pytest.mark.parametrize("seed", range(5))
def test_spec_augment_masks_are_bands_filled_with_the_mean(rng: np.random.Generator, seed: int) -> None:
    spec = _spec(rng)  # continuous values: no cell equals the mean by chance

    out = SpecAugment(max_mask_pct=0.2, generator=torch.Generator().manual_seed(seed))(spec)

    assert out.shape == spec.shape
    changed = out.ne(spec)[0]
    assert torch.all(out[0][changed] == spec.mean())
    rows = torch.nonzero(changed.all(dim=1)).flatten()  # fully masked mel bands
    cols = torch.nonzero(changed.all(dim=0)).flatten()  # fully masked frames
    union = torch.zeros_like(changed)
    union[rows, :] = True
    union[:, cols] = True
    assert torch.equal(changed, union)  # nothing but whole bands and whole frames is touched
    for idx, size in ((rows, N_MELS), (cols, 215)):
        if len(idx):
            assert int(idx[-1] - idx[0]) + 1 == len(idx)  # one contiguous band
            assert len(idx) <= 0.2 * size


def test_spec_augment_masks_something_across_seeds(rng: np.random.Generator) -> None:
    spec = _spec(rng)
    changed = [
        int(F.spec_augment(spec, max_mask_pct=0.2, generator=torch.Generator().manual_seed(s)).ne(spec).sum())
        for s in range(5)
    ]
    assert max(changed) > 0


def test_spec_augment_leading_dims_share_masks(rng: np.random.Generator) -> None:
    spec = torch.from_numpy(rng.standard_normal((3, 1, N_MELS, 40)).astype(np.float32))
    out = F.spec_augment(spec, max_mask_pct=0.3, generator=torch.Generator().manual_seed(1))
    changed = out.ne(spec)
    assert torch.equal(changed[0], changed[1])
    assert torch.equal(changed[0], changed[2])


# -- AudioUtil: the reference's names --------------------------------------------------------


def test_audio_util_has_the_reference_names() -> None:
    for name in ("open", "rechannel", "resample", "pad_trunc", "spectro_gram", "spectro_augment"):
        assert callable(getattr(AudioUtil, name))


def test_audio_util_delegates_to_the_functional_api(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "blues.00000.wav"
    sf.write(str(path), rng.uniform(-0.5, 0.5, size=(44100, 2)).astype(np.float32), 44100, subtype="FLOAT")

    aud = AudioUtil.open(path)
    wave, rate = load_audio(path)
    assert rate == aud[1] == 44100
    assert torch.equal(aud[0], wave)

    aud = AudioUtil.rechannel(aud, 1)
    assert torch.equal(aud[0], F.rechannel(wave, 1))

    resampled = AudioUtil.resample(aud, 22050)
    assert resampled[1] == 22050
    assert torch.equal(resampled[0], F.resample(aud[0], 44100, 22050))

    padded = AudioUtil.pad_trunc(resampled, 5000, generator=torch.Generator().manual_seed(4))
    expected = F.pad_trunc(resampled[0], 22050, 5000, generator=torch.Generator().manual_seed(4))
    assert torch.equal(padded[0], expected)

    spec = AudioUtil.spectro_gram(padded, n_mels=64, n_fft=1024, hop_len=None)
    assert spec.shape == (1, 64, 215)
    torch.testing.assert_close(spec, LogMelSpectrogram(22050)(padded[0]))

    augmented = AudioUtil.spectro_augment(spec, 0.1, 1, 1, generator=torch.Generator().manual_seed(9))
    assert torch.equal(augmented, F.spec_augment(spec, generator=torch.Generator().manual_seed(9)))


@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels"), [(22050, 1024, 64), (22050, 2048, 96), (16000, 512, 96), (11025, 1024, 40)]
)
def test_mel_filterbanks_equal_torchaudios(sample_rate: int, n_fft: int, n_mels: int) -> None:
    # Built here so that prediction needs no torchaudio; the same arithmetic, the same bits.
    htk = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, float(sample_rate // 2), n_mels, sample_rate)
    slaney = torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm="slaney", mel_scale="slaney"
    )
    assert torch.equal(F.mel_filterbank(sample_rate, n_fft, n_mels), htk)
    assert torch.equal(F.mel_filterbank(sample_rate, n_fft, n_mels, scale="slaney"), slaney)


def test_sinc_resampling_without_a_loadable_torchaudio_is_a_missing_dependency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A CPU-only torch cannot load torchaudio 2.11: only this resampler needs it, and says so.
    monkeypatch.setitem(sys.modules, "torchaudio.functional", None)
    with pytest.raises(MissingDependencyError, match="torchaudio"):
        F.resample(torch.zeros(1, 4410), 44100, 22050)
    assert F.resample(torch.ones(1, 10), 22050, 22050).shape == (1, 10)  # nothing to resample: no torchaudio
