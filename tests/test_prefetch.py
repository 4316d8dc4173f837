"""Decoding ahead (``musicgenre.io.AudioPrefetch``): what ``musicgenre predict`` decodes while PyTorch loads."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from numpy.typing import NDArray

from musicgenre.errors import AudioDecodeError, ConfigurationError, TruncatedAudioWarning
from musicgenre.genres import GENRES
from musicgenre.inference import FailedPrediction, GenreClassifier, Prediction
from musicgenre.io import AudioPrefetch, DecodedAudio, iter_audio_blocks, load_audio
from musicgenre.models import GenreCNN
from musicgenre.recipes import IMPROVED, REFERENCE, Recipe


def _music(rng: np.random.Generator, seconds: float, rate: int, channels: int = 2) -> NDArray[np.float32]:
    t = np.arange(round(seconds * rate)) / rate
    tones = [0.3 * np.sin(2 * np.pi * (220.0 + 110.0 * c) * t) for c in range(channels)]
    return (np.stack(tones, axis=1) + 0.05 * rng.standard_normal((len(t), channels))).astype(np.float32)


def _files(folder: Path, rng: np.random.Generator) -> list[Path]:
    """Users' formats: 44.1 kHz stereo MP3 and FLAC, GTZAN's 22.05 kHz mono WAV."""
    specs = [("rock.00001.mp3", 44100, 2, 4.2), ("jazz.00054.flac", 44100, 2, 3.1), ("blues.00000.wav", 22050, 1, 6.0)]
    paths = []
    for name, rate, channels, seconds in specs:
        path = folder / name
        sf.write(str(path), _music(rng, seconds, rate, channels), rate)
        paths.append(path)
    return paths


def test_decoded_ahead_equals_decoding_then(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _files(tmp_path, rng)
    decoded = AudioPrefetch(paths, uncompressed=True).wait()
    assert set(decoded) == set(paths)
    for path in paths:
        early = decoded[path]
        assert isinstance(early, DecodedAudio)
        assert early.error is None
        assert early.sample_rate == sf.info(str(path)).samplerate
        for rate in (None, 22050, 16000):
            wave, got_rate = early.load(sample_rate=rate)
            expected, expected_rate = load_audio(path, sample_rate=rate, mono=True)
            assert got_rate == expected_rate
            assert torch.equal(wave, expected)  # the same mixing and resampling, to the bit
        blocks = list(early.blocks(sample_rate=22050, block_seconds=0.7))
        assert len(blocks) > 3
        assert torch.equal(torch.cat(blocks, dim=-1), load_audio(path, sample_rate=22050, mono=True)[0])
        # and as the file's own blocks (MP3: within the decoder's rounding at read boundaries)
        from_file = torch.cat(list(iter_audio_blocks(path, sample_rate=22050, block_seconds=0.7)), dim=-1)
        torch.testing.assert_close(torch.cat(blocks, dim=-1), from_file, rtol=0, atol=1e-6)


def test_errors_and_warnings_wait_for_the_files_use(tmp_path: Path, rng: np.random.Generator) -> None:
    cut = tmp_path / "cut.wav"
    sf.write(str(cut), _music(rng, 1.0, 22050, channels=1), 22050, subtype="PCM_16")
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 8820])  # 0.4 s of the 1 s its header declares
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt " + bytes(range(200)))
    missing = tmp_path / "missing.mp3"

    with warnings.catch_warnings(record=True) as during:
        warnings.simplefilter("always")
        decoded = AudioPrefetch([cut, corrupt, missing], uncompressed=True).wait()
    assert during == []  # the thread issues nothing itself

    with pytest.warns(TruncatedAudioWarning, match=r"cut.wav: is truncated") as record:
        wave, _ = decoded[cut].load()
    assert record[0].filename == __file__  # points at the caller, as load_audio's does
    with pytest.warns(TruncatedAudioWarning):
        assert torch.equal(wave, load_audio(cut, mono=True)[0])
    for path in (corrupt, missing):
        assert decoded[path].samples is None
        with pytest.raises(AudioDecodeError) as raised:
            decoded[path].load()
        assert raised.value.path == path
        with pytest.raises(AudioDecodeError):
            decoded[path].blocks()


def test_memory_and_length_limits(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _files(tmp_path, rng)  # mono samples: 4.2 s x 44100 x 4 B = 741 kB, then 547 kB, then 529 kB
    long = tmp_path / "long.wav"
    sf.write(str(long), _music(rng, 8.0, 8000, channels=1), 8000)

    every = {"uncompressed": True}
    assert set(AudioPrefetch([long, *paths], max_seconds=7.0, **every).wait()) == set(paths)  # skipped, not stopped
    assert list(AudioPrefetch(paths, max_bytes=1_000_000, **every).wait()) == paths[:1]  # stops before the budget
    assert AudioPrefetch(paths, max_bytes=0, **every).wait() == {}
    # by default PCM files (read in a millisecond) are left to their user: nothing gained by holding them
    assert set(AudioPrefetch([long, *paths]).wait()) == {p for p in paths if p.suffix != ".wav"}
    with pytest.raises(ConfigurationError):
        AudioPrefetch(paths, max_seconds=0)


def test_stop_ends_decoding_and_keeps_what_is_done(tmp_path: Path, rng: np.random.Generator) -> None:
    paths = _files(tmp_path, rng) * 50
    ahead = AudioPrefetch(paths)
    first = ahead.stop()
    assert not ahead._thread.is_alive()
    assert ahead.stop() == first  # nothing more after the stop
    assert len(first) <= 3


# -- prediction with files decoded ahead -------------------------------------------------------


@pytest.mark.parametrize("recipe", [REFERENCE, IMPROVED], ids=["reference-first-window", "improved-all-windows"])
@pytest.mark.parametrize("workers", [0, 2])
def test_predictions_are_the_same_with_files_decoded_ahead(
    tmp_path: Path, rng: np.random.Generator, recipe: Recipe, workers: int
) -> None:
    model = GenreCNN(recipe.model_config(10), seed=0).eval()
    classifier = GenreClassifier(model, GENRES, features=recipe.features, windowing=recipe.windowing)
    paths = _files(tmp_path, rng)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\xff\xfb" + bytes(300))
    paths.insert(1, corrupt)

    plain = classifier.predict_many(paths, num_workers=workers, timeline=True)
    decoded = AudioPrefetch(paths, uncompressed=True).wait()
    assert set(decoded) == set(paths)
    for path in paths:  # what was decoded is not read again
        path.unlink()
    ahead = classifier.predict_many(paths, num_workers=workers, timeline=True, decoded=decoded)

    assert isinstance(plain[1], FailedPrediction)
    assert isinstance(ahead[1], FailedPrediction)
    assert ahead[1].error == plain[1].error
    for a, b in zip(ahead, plain, strict=True):
        if isinstance(b, Prediction):
            assert isinstance(a, Prediction)
            assert a.path == b.path
            assert a.duration == b.duration
            assert a.segments == b.segments
            # the reference model's first window: from whole-file samples against the file's
            # first blocks, which an MP3 decoder rounds a float32 step differently
            assert a.probabilities.keys() == b.probabilities.keys()
            for genre, p in b.probabilities.items():
                assert a.probabilities[genre] == pytest.approx(p, abs=1e-6)
            assert a.timeline is not None
            assert b.timeline is not None
            assert len(a.timeline) == len(b.timeline)


def test_tags_are_the_same_with_files_decoded_ahead(tmp_path: Path, rng: np.random.Generator) -> None:
    from musicgenre.tagging import Tagger, TagResult

    tagger = Tagger.from_pretrained("MSD_musicnn")
    paths = _files(tmp_path, rng)
    plain = tagger.tag_many(paths, num_workers=0)
    decoded = AudioPrefetch(paths, uncompressed=True).wait()
    for path in paths:  # what was decoded is not read again
        path.unlink()
    ahead = tagger.tag_many(paths, num_workers=0, decoded=decoded)
    for a, b in zip(ahead, plain, strict=True):
        assert isinstance(a, TagResult)
        assert isinstance(b, TagResult)
        assert a.tags == b.tags  # resampled to 16 kHz from the same samples: the same numbers
