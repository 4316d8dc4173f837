"""Audio decoding: formats, channel mixing, resampling and typed errors that name the file."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from numpy.typing import NDArray

from musicgenre.errors import AudioDecodeError, MusicGenreError
from musicgenre.io import AUDIO_EXTENSIONS, audio_info, iter_audio_blocks, load_audio
from musicgenre.io import _convert as mio_convert

SR = 22050
Loader = Callable[[Path], object]


def _stereo(rng: np.random.Generator, frames: int = SR // 2) -> NDArray[np.float32]:
    """Two different channels of quiet noise, shape (frames, 2) as soundfile wants it."""
    return (0.25 * rng.uniform(-1.0, 1.0, size=(frames, 2))).astype(np.float32)


# -- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "lossless"),
    [(".wav", True), (".flac", True), (".au", True), (".ogg", False), (".mp3", False)],
)
def test_load_audio_decodes_each_format(tmp_path: Path, rng: np.random.Generator, ext: str, lossless: bool) -> None:
    samples = _stereo(rng)
    path = tmp_path / f"blues.00000{ext}"
    sf.write(str(path), samples, SR, subtype="PCM_16" if lossless else None)

    wave, rate = load_audio(path)

    assert rate == SR
    assert wave.dtype == torch.float32
    assert wave.shape == (2, len(samples))  # (channels, time), not soundfile's (time, channels)
    assert float(wave.abs().max()) <= 1.0
    if lossless:  # 16-bit PCM: within one quantisation step of the written samples
        np.testing.assert_allclose(wave.numpy(), samples.T, atol=1.0 / 2**15)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".au", ".ogg", ".mp3"])
def test_audio_info_reads_the_header(tmp_path: Path, rng: np.random.Generator, ext: str) -> None:
    samples = _stereo(rng, frames=SR)
    path = tmp_path / f"jazz.00001{ext}"
    sf.write(str(path), samples, SR)

    info = audio_info(path)

    assert info.path == path
    assert (info.sample_rate, info.channels, info.frames) == (SR, 2, SR)
    assert info.duration == pytest.approx(1.0)
    assert info.format == ext.lstrip(".").upper()


def test_load_audio_accepts_str_paths(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "rock.00002.wav"
    sf.write(str(path), _stereo(rng), SR)
    by_str, _ = load_audio(str(path))
    by_path, _ = load_audio(path)
    assert torch.equal(by_str, by_path)


def test_float_wav_keeps_values_exactly(tmp_path: Path, rng: np.random.Generator) -> None:
    samples = _stereo(rng)
    path = tmp_path / "pop.00000.wav"
    sf.write(str(path), samples, SR, subtype="FLOAT")
    wave, _ = load_audio(path)
    np.testing.assert_array_equal(wave.numpy(), samples.T)


def test_mono_mixing_averages_the_channels(tmp_path: Path, rng: np.random.Generator) -> None:
    samples = _stereo(rng)
    path = tmp_path / "disco.00000.wav"
    sf.write(str(path), samples, SR, subtype="FLOAT")

    wave, _ = load_audio(path, mono=True)

    assert wave.shape == (1, len(samples))
    np.testing.assert_allclose(wave[0].numpy(), samples.mean(axis=1), rtol=0, atol=1e-7)


def test_mono_of_opposite_channels_is_silence(tmp_path: Path, sine: Callable[..., NDArray[np.float32]]) -> None:
    tone = sine(440.0, seconds=0.5)
    path = tmp_path / "metal.00000.wav"
    sf.write(str(path), np.stack([tone, -tone], axis=1), SR, subtype="FLOAT")
    wave, _ = load_audio(path, mono=True)
    assert float(wave.abs().max()) == 0.0


def test_mono_file_stays_one_channel(tmp_path: Path, sine: Callable[..., NDArray[np.float32]]) -> None:
    path = tmp_path / "classical.00000.wav"
    sf.write(str(path), sine(440.0, seconds=0.5), SR)
    for mono in (False, True):
        wave, _ = load_audio(path, mono=mono)
        assert wave.shape == (1, SR // 2)


# -- resampling ----------------------------------------------------------------------------


@pytest.mark.parametrize(("frames", "expected"), [(44100, 22050), (2 * 44100, 44100), (3 * 44100 + 2, 66151)])
def test_resampling_44k1_to_22k05_halves_the_length(tmp_path: Path, frames: int, expected: int) -> None:
    t = np.arange(frames) / 44100
    path = tmp_path / "country.00000.wav"
    sf.write(str(path), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32), 44100)

    wave, rate = load_audio(path, sample_rate=22050)

    assert rate == 22050
    assert wave.shape == (2, expected)
    assert wave.dtype == torch.float32


def test_resampling_preserves_a_tone(tmp_path: Path, sine: Callable[..., NDArray[np.float32]]) -> None:
    # A 1 kHz tone resampled from 44.1 kHz must still be a 1 kHz tone of the same amplitude.
    path = tmp_path / "reggae.00000.wav"
    sf.write(str(path), sine(1000.0, seconds=1.0, sample_rate=44100), 44100, subtype="FLOAT")

    wave, rate = load_audio(path, sample_rate=22050, mono=True)

    spectrum = np.abs(np.fft.rfft(wave[0].numpy()))
    peak_hz = np.argmax(spectrum) * rate / wave.shape[-1]
    assert peak_hz == pytest.approx(1000.0, abs=2.0)
    middle = wave[0, 1000:-1000]  # away from the filter's edge effects
    assert float(middle.abs().max()) == pytest.approx(0.5, abs=0.01)


def test_same_rate_is_not_resampled(tmp_path: Path, rng: np.random.Generator) -> None:
    samples = _stereo(rng)
    path = tmp_path / "hiphop.00000.wav"
    sf.write(str(path), samples, SR, subtype="FLOAT")
    wave, rate = load_audio(path, sample_rate=SR)
    assert rate == SR
    np.testing.assert_array_equal(wave.numpy(), samples.T)


# -- errors --------------------------------------------------------------------------------


def _assert_names_file(exc: AudioDecodeError, path: Path) -> None:
    assert isinstance(exc, MusicGenreError)
    assert exc.path == path
    assert path.name in str(exc)


def _garbage_wav(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "jazz.00054.wav"
    path.write_bytes(rng.bytes(4096))
    return path


def _text_mp3(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "notes.mp3"
    path.write_text("this is a text file, not an mp3\n" * 50)
    return path


def _empty_file(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


def _zero_samples(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "zero.wav"
    sf.write(str(path), np.zeros((0, 1), dtype=np.float32), SR)
    assert path.stat().st_size > 0  # a valid header, just no samples
    return path


def _m4a(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + rng.bytes(1024))
    return path


def _missing(tmp_path: Path, rng: np.random.Generator) -> Path:
    return tmp_path / "does-not-exist.wav"


def _directory(tmp_path: Path, rng: np.random.Generator) -> Path:
    path = tmp_path / "folder.wav"
    path.mkdir()
    return path


BAD_FILES: dict[str, tuple[Callable[[Path, np.random.Generator], Path], str]] = {
    "missing": (_missing, "not found"),
    "directory": (_directory, "directory"),
    "empty": (_empty_file, "empty"),
    "garbage-wav": (_garbage_wav, "WAV"),
    "text-mp3": (_text_mp3, "MP3"),
    "zero-samples": (_zero_samples, "no audio samples"),
    "unsupported-m4a": (_m4a, "unsupported format"),
}


@pytest.mark.parametrize("loader", [load_audio, audio_info], ids=["load_audio", "audio_info"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_audio_decode_error(
    tmp_path: Path, rng: np.random.Generator, case: str, loader: Callable[[Path], Any]
) -> None:
    make, words = BAD_FILES[case]
    path = make(tmp_path, rng)
    with pytest.raises(AudioDecodeError) as info:
        loader(path)
    _assert_names_file(info.value, path)
    assert words.lower() in str(info.value).lower()


def test_unsupported_format_lists_the_supported_ones(tmp_path: Path, rng: np.random.Generator) -> None:
    path = _m4a(tmp_path, rng)
    with pytest.raises(AudioDecodeError) as info:
        load_audio(path)
    for ext in (".wav", ".flac", ".mp3"):
        assert ext in str(info.value)
    assert ".m4a" not in AUDIO_EXTENSIONS


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_raise(tmp_path: Path, sine: Callable[..., NDArray[np.float32]], bad: float) -> None:
    samples = sine(440.0, seconds=0.25)
    samples[100] = bad
    path = tmp_path / "blues.00003.wav"
    sf.write(str(path), samples, SR, subtype="FLOAT")

    with pytest.raises(AudioDecodeError) as info:
        load_audio(path)

    _assert_names_file(info.value, path)
    assert "NaN or infinite" in str(info.value)


def test_permission_denied_is_reported(
    tmp_path: Path, sine: Callable[..., NDArray[np.float32]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod 000 does not stop root, so refuse opening this one path instead.
    path = tmp_path / "rock.00009.wav"
    sf.write(str(path), sine(440.0, seconds=0.25), SR)
    real_open = pathlib.Path.open

    def refusing_open(self: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", refusing_open)

    for loader in (load_audio, audio_info):
        with pytest.raises(AudioDecodeError) as info:
            loader(path)
        _assert_names_file(info.value, path)
        assert "permission denied" in str(info.value).lower()


def test_audio_decode_error_is_not_a_bare_runtime_error(tmp_path: Path, rng: np.random.Generator) -> None:
    # Callers catch musicgenre's hierarchy; libsndfile's own error types must not leak.
    path = _garbage_wav(tmp_path, rng)
    with pytest.raises(MusicGenreError) as info:
        load_audio(path)
    assert type(info.value) is AudioDecodeError


@pytest.mark.parametrize("extension", [".wav", ".au", ".flac"])
def test_16_bit_files_read_as_libsndfile_scales_them(tmp_path: Path, extension: str) -> None:
    # 16-bit samples are read as integers and scaled by 1/32768 here (faster): the values
    # must be libsndfile's own float conversion, bit for bit, extremes included.
    rng = np.random.default_rng(0)
    samples = rng.integers(-32768, 32768, size=(22050, 2), dtype=np.int16)
    samples[:4, 0] = [-32768, 32767, 0, -1]
    path = tmp_path / f"blues.00000{extension}"
    sf.write(path, samples, 22050, subtype="PCM_16")
    expected = sf.read(path, dtype="float32", always_2d=True)[0].T
    wave, _ = load_audio(path)
    assert torch.equal(wave, torch.from_numpy(np.ascontiguousarray(expected)))
    blocks = torch.cat(list(iter_audio_blocks(path, mono=False, block_seconds=0.3)), dim=-1)
    assert torch.equal(blocks, wave)


@pytest.mark.parametrize("margin", [1 << 17, 0])
def test_resampled_file_equals_one_soxr_call_on_the_mixed_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, margin: int
) -> None:
    # The converter feeds soxr's stream in pieces (faster) into one array; the samples must be
    # exactly what one soxr.resample call on the channel mean gives, for a file several pieces
    # long, also when the array has no spare room and has to grow.
    monkeypatch.setattr(mio_convert, "RESAMPLE_MARGIN", margin)
    rng = np.random.default_rng(1)
    stereo = rng.uniform(-0.5, 0.5, size=(200_000, 2)).astype(np.float32)
    path = tmp_path / "song.flac"
    sf.write(path, stereo, 44100, subtype="PCM_24")
    decoded = sf.read(path, dtype="float32")[0]
    expected = soxr.resample(decoded.mean(axis=1, dtype=np.float32), 44100, 22050, quality="HQ")
    wave, rate = load_audio(path, sample_rate=22050, mono=True)
    assert rate == 22050
    assert torch.equal(wave[0], torch.from_numpy(expected))
