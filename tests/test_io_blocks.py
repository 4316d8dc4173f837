"""Block-wise decoding and channel mixing (the MP3 decoder's messages: tests/test_io_messages.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from numpy.typing import NDArray

from musicgenre.errors import (
    AudioDecodeError,
    ConfigurationError,
    DecoderWarning,
    TruncatedAudioWarning,
)
from musicgenre.io import iter_audio_blocks, load_audio, waveform_to_mono


def _music(rng: np.random.Generator, seconds: float, rate: int, channels: int = 2) -> NDArray[np.float32]:
    """Different tones plus noise in each channel, shape ``(frames, channels)``."""
    t = np.arange(round(seconds * rate)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (220.0 + 110.0 * c) * t) for c in range(channels)]
    return (np.stack(tones, axis=1) + 0.05 * rng.standard_normal((len(t), channels))).astype(np.float32)


# -- blocks equal the whole file -------------------------------------------------------------

# Blocks of an MP3 differ from the whole read by at most a few float32 ulps of the decoder's
# output (measured: 6e-8 before resampling, 1.8e-7 after), 1/100 of a 16-bit step (3.1e-5).
MP3_ATOL = 1e-6

# (file rate, target rate): as GTZAN, a CD rip to the reference rate, a CD rip to a speech model's rate.
RATES = [(22050, 22050), (44100, 22050), (44100, 16000)]


@pytest.mark.parametrize(("file_rate", "target"), RATES, ids=[f"{a}->{b}" for a, b in RATES])
@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_blocks_concatenate_to_load_audio_exactly(
    tmp_path: Path, rng: np.random.Generator, ext: str, file_rate: int, target: int
) -> None:
    path = tmp_path / f"track{ext}"
    sf.write(str(path), _music(rng, 3.3, file_rate), file_rate)  # 3.3 s: not a multiple of the block
    whole, rate = load_audio(path, sample_rate=target, mono=True)

    blocks = list(iter_audio_blocks(path, sample_rate=target, mono=True, block_seconds=0.37))

    assert rate == target
    assert len(blocks) >= 9  # 3.3 s / 0.37 s: really cut, not one block
    assert all(b.dtype == torch.float32 and b.shape[0] == 1 for b in blocks)
    joined = torch.cat(blocks, dim=-1)
    assert joined.shape == whole.shape
    if ext == ".mp3":  # libsndfile's MP3 decoder rounds differently after a read boundary: one float32 ulp
        torch.testing.assert_close(joined, whole, rtol=0, atol=MP3_ATOL)
    else:  # decoding, mixing and soxr's stream resampler do not depend on where the cuts fall
        assert torch.equal(joined, whole)


def test_blocks_keep_the_channels_when_not_mixing(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "stereo.flac"
    sf.write(str(path), _music(rng, 2.0, 44100), 44100)
    whole, _ = load_audio(path, sample_rate=22050, mono=False)

    blocks = list(iter_audio_blocks(path, sample_rate=22050, mono=False, block_seconds=0.3))

    assert {b.shape[0] for b in blocks} == {2}
    assert torch.equal(torch.cat(blocks, dim=-1), whole)


@pytest.mark.parametrize(("file_rate", "target"), [(44100, 44100), (44100, 22050)])
def test_blocks_stay_near_the_requested_size(
    tmp_path: Path, rng: np.random.Generator, file_rate: int, target: int
) -> None:
    # What bounds memory: no block holds much more than block_seconds of audio.
    path = tmp_path / "long.wav"
    sf.write(str(path), _music(rng, 10.0, file_rate), file_rate)

    lengths = [b.shape[-1] for b in iter_audio_blocks(path, sample_rate=target, block_seconds=1.0)]

    assert sum(lengths) == 10 * target
    assert max(lengths) <= 1.1 * target
    assert 10 <= len(lengths) <= 12


def test_a_clip_that_vanishes_when_resampled_gives_one_zero_sample_either_way(tmp_path: Path) -> None:
    path = tmp_path / "one-sample.wav"
    sf.write(str(path), np.full((1, 2), 0.5, dtype=np.float32), 44100, subtype="FLOAT")
    whole, _ = load_audio(path, sample_rate=8000, mono=True)
    blocks = list(iter_audio_blocks(path, sample_rate=8000, mono=True))
    assert torch.equal(torch.cat(blocks, dim=-1), whole)
    assert whole.shape[-1] >= 1


def test_blocks_keep_the_files_channels_by_default_as_load_audio_does(tmp_path: Path, rng: np.random.Generator) -> None:
    # The siblings agree (as soundfile and torchaudio): mono only when asked for.
    path = tmp_path / "stereo.flac"
    sf.write(str(path), _music(rng, 1.0, 22050), 22050)

    whole, _ = load_audio(path)
    blocks = list(iter_audio_blocks(path, block_seconds=0.3))

    assert whole.shape[0] == 2
    assert all(block.shape[0] == 2 for block in blocks)
    assert torch.equal(torch.cat(blocks, dim=-1), whole)


# -- mixing --------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [2, 3, 6])
def test_mono_is_the_channel_mean_to_the_bit(tmp_path: Path, rng: np.random.Generator, channels: int) -> None:
    samples = _music(rng, 0.5, 22050, channels)
    path = tmp_path / f"{channels}ch.wav"
    sf.write(str(path), samples, 22050, subtype="FLOAT")

    mono, _ = load_audio(path, mono=True)

    np.testing.assert_array_equal(mono[0].numpy(), samples.mean(axis=1, dtype=np.float32))


# -- errors and warnings -------------------------------------------------------------------


def test_bad_paths_and_arguments_fail_at_the_call(tmp_path: Path, rng: np.random.Generator) -> None:
    missing = tmp_path / "nowhere.flac"
    with pytest.raises(AudioDecodeError, match=r"nowhere\.flac: file not found"):
        iter_audio_blocks(missing)  # no next() needed
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(rng.bytes(4096))
    with pytest.raises(AudioDecodeError, match="not a valid WAV"):
        iter_audio_blocks(garbage)
    good = tmp_path / "good.wav"
    sf.write(str(good), _music(rng, 0.1, 22050), 22050)
    with pytest.raises(ConfigurationError, match="block_seconds"):
        iter_audio_blocks(good, block_seconds=0)
    with pytest.raises(ConfigurationError, match="sample_rate"):
        iter_audio_blocks(good, sample_rate=-1)


def test_non_finite_samples_raise_while_iterating(tmp_path: Path, rng: np.random.Generator) -> None:
    samples = _music(rng, 2.0, 22050)
    samples[30000, 1] = np.nan  # in the third block of 0.5 s
    path = tmp_path / "nan.wav"
    sf.write(str(path), samples, 22050, subtype="FLOAT")

    blocks = iter_audio_blocks(path, mono=True, block_seconds=0.5)
    assert next(blocks).shape == (1, 11025)
    with pytest.raises(AudioDecodeError, match=r"nan\.wav: holds NaN or infinite samples"):
        list(blocks)


def test_truncated_wav_warns_before_the_first_block(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "cut.wav"
    sf.write(str(path), _music(rng, 1.0, 22050, channels=1), 22050, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * 8820])  # the header and 0.4 s of the 1 s declared
    with pytest.warns(TruncatedAudioWarning):
        whole, _ = load_audio(path, mono=True)

    blocks = iter_audio_blocks(path, mono=True, block_seconds=0.1)
    with pytest.warns(TruncatedAudioWarning, match=r"cut.wav: is truncated: .*\(40\.0%\)") as record:
        first = next(blocks)
    assert record[0].filename == __file__  # points at the consumer's line
    assert torch.equal(torch.cat([first, *blocks], dim=-1), whole)


def test_truncated_mp3_warns_after_the_last_block(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "cut.mp3"
    sf.write(str(path), _music(rng, 1.0, 22050), 22050)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])

    with pytest.warns(TruncatedAudioWarning, match="cut.mp3: is truncated"):
        blocks = list(iter_audio_blocks(path, block_seconds=0.05))

    assert 0 < sum(b.shape[-1] for b in blocks) < 0.5 * 22050


def test_errors_and_warnings_survive_pickling() -> None:
    # Loader workers send them to the main process; their arguments are keyword-only.
    import pickle

    items: list[Exception | Warning] = [
        TruncatedAudioWarning("is truncated", path="a.wav", fraction=0.4),
        DecoderWarning("decoder notes", path="b.mp3", messages=("Note: Illegal Audio-MPEG-Header",)),
        AudioDecodeError("is corrupt", path="c.flac"),
        ConfigurationError("bad value"),
    ]
    for item in items:
        copy = pickle.loads(pickle.dumps(item))
        assert type(copy) is type(item)
        assert str(copy) == str(item)
        assert vars(copy) == vars(item)


@pytest.mark.parametrize(("file_rate", "target"), RATES, ids=[f"{a}->{b}" for a, b in RATES])
def test_waveform_in_memory_converts_as_its_file_does(
    tmp_path: Path, rng: np.random.Generator, file_rate: int, target: int
) -> None:
    """``waveform_to_mono`` on samples a user holds: the same mixing and resampling as ``load_audio``."""
    path = tmp_path / "track.wav"
    music = _music(rng, 7.3, file_rate)  # long enough for several of soxr's pieces at 44.1 kHz
    sf.write(str(path), music, file_rate, subtype="FLOAT")
    expected, _ = load_audio(path, sample_rate=target, mono=True)
    got = waveform_to_mono(torch.from_numpy(music.T.copy()), sample_rate=file_rate, target_rate=target)
    assert got.shape == expected.shape[1:]
    assert torch.equal(got, expected[0])
