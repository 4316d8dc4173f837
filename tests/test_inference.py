"""Whole-track prediction: any length, rate, channel count and format; ranked, normalised, robust."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgenre.audio import FeatureConfig
from musicgenre.audio.windowing import Windowing
from musicgenre.errors import AudioDecodeError, CheckpointError, ConfigurationError
from musicgenre.genres import GENRES
from musicgenre.io import find_audio_files, load_audio
from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import save_checkpoint
from musicgenre.predict import FailedPrediction, GenreClassifier, Prediction

# A small model on small features keeps every prediction fast: 8 kHz, 0.5-s windows
# (4000 samples), 16 mel bands, 32 frames.
FEATURES = FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128)
CLIP = FEATURES.clip_samples
N_FRAMES = FEATURES.n_frames


def _model(**overrides: Any) -> GenreCNN:
    config: dict[str, Any] = {
        "n_classes": len(GENRES),
        "n_mels": FEATURES.n_mels,
        "n_frames": FEATURES.n_frames,
        "channels": (4, 8),
        "embedding_dim": 16,
        **overrides,
    }
    return GenreCNN(seed=3, **config)


@pytest.fixture(scope="module")
def classifier() -> GenreClassifier:
    return GenreClassifier(_model(), GENRES, FEATURES)


def _windows(samples: int, hop_frames: int = N_FRAMES) -> int:
    # Windows are cut from the whole track's 1 + samples // hop_length frames.
    frames = 1 + samples // FEATURES.hop_length
    return 1 + max(0, math.ceil((frames - N_FRAMES) / hop_frames))


def _assert_close(a: Prediction | FailedPrediction, b: Prediction | FailedPrediction) -> None:
    # Batching windows of several files together changes float rounding, nothing more.
    if isinstance(a, FailedPrediction) or isinstance(b, FailedPrediction):
        assert a == b
        return
    assert (a.path, a.segments, a.duration) == (b.path, b.segments, b.duration)
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)
    assert (a.timeline is None) == (b.timeline is None)
    for sa, sb in zip(a.timeline or (), b.timeline or (), strict=True):
        assert (sa.start, sa.end) == (sb.start, sb.end)
        assert sa.probabilities == pytest.approx(sb.probabilities, abs=1e-5)


def _check(prediction: Prediction, top_k: int = 3) -> None:
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert list(prediction.probabilities) == list(GENRES)
    assert all(0.0 <= p <= 1.0 for p in prediction.probabilities.values())
    assert len(prediction.top_k) == min(top_k, len(GENRES))
    probs = [p for _, p in prediction.top_k]
    assert probs == sorted(probs, reverse=True)
    best = sorted(prediction.probabilities.values(), reverse=True)[: len(probs)]
    assert probs == pytest.approx(best)
    assert all(prediction.probabilities[g] == p for g, p in prediction.top_k)
    assert prediction.genre == prediction.top_k[0][0]


# -- lengths, rates, channels --------------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [1, 100, CLIP - 1, CLIP, CLIP + 1, 3 * CLIP, 7 * CLIP + 123, 8000 * 60],
    ids=["1-sample", "short", "clip-1", "clip", "clip+1", "3-clips", "7.03-clips", "1-minute"],
)
def test_any_length_gives_normalised_ranked_probabilities(
    classifier: GenreClassifier, rng: np.random.Generator, samples: int
) -> None:
    wave = rng.standard_normal(samples).astype(np.float32) * 0.1
    prediction = classifier.predict(wave, top_k=3)
    _check(prediction)
    assert prediction.segments == _windows(samples)
    assert prediction.duration == pytest.approx(samples / FEATURES.sample_rate)
    assert prediction.path is None


def test_ten_minutes(tmp_path: Path, classifier: GenreClassifier, rng: np.random.Generator) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, (rng.standard_normal(8000 * 600) * 0.1).astype(np.float32), 8000, subtype="PCM_16")
    prediction = classifier.predict(path)
    _check(prediction)
    assert prediction.duration == pytest.approx(600.0)
    assert prediction.segments == _windows(8000 * 600) == 1172  # 37,501 frames, 32 per window
    assert prediction.path == path


@pytest.mark.parametrize(
    ("extension", "rate", "channels", "seconds"),
    [
        (".wav", 8000, 1, 1.0),
        (".wav", 44100, 2, 2.3),
        (".flac", 48000, 6, 1.7),
        (".ogg", 44100, 2, 1.2),
        (".mp3", 48000, 2, 1.5),
        (".au", 22050, 1, 0.3),
    ],
)
def test_files_of_every_format_rate_and_channel_count(
    tmp_path: Path,
    classifier: GenreClassifier,
    rng: np.random.Generator,
    extension: str,
    rate: int,
    channels: int,
    seconds: float,
) -> None:
    path = tmp_path / f"track{extension}"
    sf.write(path, (rng.standard_normal((round(seconds * rate), channels)) * 0.1).astype(np.float32), rate)
    prediction = classifier.predict(path, top_k=4)
    _check(prediction, top_k=4)
    # Lossy decoders may add priming samples: the length is close, not exact.
    assert prediction.duration == pytest.approx(seconds, abs=0.1)
    assert prediction.segments == _windows(round(prediction.duration * FEATURES.sample_rate))


def test_file_and_its_waveform_agree(tmp_path: Path, classifier: GenreClassifier, rng: np.random.Generator) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, (rng.standard_normal((44100 * 2, 2)) * 0.2).astype(np.float32), 44100, subtype="FLOAT")
    wave, rate = load_audio(path)  # 2 channels at 44.1 kHz: the classifier mixes and resamples
    from_file = classifier.predict(path)
    from_wave = classifier.predict(wave, sample_rate=rate)
    assert from_file.probabilities == pytest.approx(from_wave.probabilities, abs=1e-6)
    assert classifier.predict(wave.numpy(), sample_rate=rate).probabilities == pytest.approx(
        from_file.probabilities, abs=1e-6
    )


def test_waveform_at_the_model_rate_needs_no_rate(classifier: GenreClassifier, rng: np.random.Generator) -> None:
    wave = torch.from_numpy(rng.standard_normal(3 * CLIP).astype(np.float32))
    assert classifier.predict(wave).probabilities == classifier.predict(wave, sample_rate=8000).probabilities


@settings(max_examples=25, deadline=None)
@given(
    samples=st.integers(min_value=1, max_value=6 * CLIP),
    overlap=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
    channels=st.integers(min_value=1, max_value=6),
    top_k=st.integers(min_value=1, max_value=12),
)
def test_property_any_shape_and_overlap(samples: int, overlap: float, channels: int, top_k: int) -> None:
    classifier = GenreClassifier(_model(), GENRES, FEATURES, overlap=overlap)
    wave = np.random.default_rng(samples).standard_normal((channels, samples)).astype(np.float32) * 0.1
    prediction = classifier.predict(wave, top_k=top_k, timeline=True)
    _check(prediction, top_k=top_k)
    assert prediction.segments == _windows(samples, classifier.windowing.hop(N_FRAMES))
    assert prediction.timeline is not None
    assert len(prediction.timeline) == prediction.segments


# -- segments, padding and averaging -------------------------------------------------------


def test_timeline_and_weighted_average(rng: np.random.Generator) -> None:
    classifier = GenreClassifier(_model(), GENRES, FEATURES, overlap=0.5)
    samples = 3 * CLIP + 500  # 98 frames
    prediction = classifier.predict(rng.standard_normal(samples).astype(np.float32), timeline=True)
    timeline = prediction.timeline
    assert timeline is not None
    assert classifier.windowing.hop(N_FRAMES) == N_FRAMES // 2
    assert classifier.hop == N_FRAMES // 2 * FEATURES.hop_length  # 16 frames, 2048 samples
    assert prediction.segments == len(timeline) == 6  # starts every 16 frames up to frame 80
    assert [s.start for s in timeline] == pytest.approx([i * 2048 / 8000 for i in range(6)])
    assert timeline[-1].end == pytest.approx(samples / 8000)
    assert all(s.end - s.start == pytest.approx(CLIP / 8000) for s in timeline[:-1])
    for segment in timeline:
        assert sum(segment.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert segment.genre == max(segment.probabilities, key=segment.probabilities.__getitem__)
    # Each window counts by the share of its frames that hold audio.
    frames = 1 + samples // FEATURES.hop_length
    weights = np.array([min(N_FRAMES, frames - i * N_FRAMES // 2) / N_FRAMES for i in range(6)])
    rows = np.array([[s.probabilities[g] for g in GENRES] for s in timeline])
    expected = (rows * weights[:, None]).sum(0) / weights.sum()
    assert [prediction.probabilities[g] for g in GENRES] == pytest.approx(expected.tolist(), abs=1e-6)


def test_short_and_last_windows_are_padded_with_silence(classifier: GenreClassifier, rng: np.random.Generator) -> None:
    # The padding is the log-mel of digital silence, whatever the track: a short track
    # and the same track followed by enough silence have the same frames but for the
    # ceil(n_fft / 2 / hop_length) = 1 frame around the end, where the STFT reflects the
    # track in one case and sees zeros in the other.
    short = rng.standard_normal(CLIP // 3).astype(np.float32)
    padded = np.concatenate([short, np.zeros(CLIP - len(short), dtype=np.float32)])
    features = classifier.pipeline.featurizer.cut(torch.from_numpy(short)).windows
    reference = classifier.pipeline.featurizer.cut(torch.from_numpy(padded)).windows
    end = 1 + len(short) // FEATURES.hop_length
    assert torch.equal(features[..., : end - 1], reference[..., : end - 1])
    assert torch.equal(features[..., end + 1 :], reference[..., end + 1 :])
    # Silence is -100 dB, floored at top_db = 80 below the window's peak like every frame.
    silence = max(-100.0, float(features.max()) - 80.0)
    assert torch.equal(features[..., end + 1 :], torch.full_like(features[..., end + 1 :], silence))


def test_prediction_is_deterministic(classifier: GenreClassifier, rng: np.random.Generator) -> None:
    wave = rng.standard_normal(CLIP // 2).astype(np.float32)
    assert classifier.predict(wave) == classifier.predict(wave)


def test_batch_size_does_not_change_results(rng: np.random.Generator) -> None:
    wave = rng.standard_normal(9 * CLIP).astype(np.float32)
    one = GenreClassifier(_model(), GENRES, FEATURES, batch_size=1).predict(wave, timeline=True)
    many = GenreClassifier(_model(), GENRES, FEATURES, batch_size=64).predict(wave, timeline=True)
    assert one.probabilities == pytest.approx(many.probabilities, abs=1e-6)


def test_global_pool_model_and_reference_defaults(rng: np.random.Generator) -> None:
    pooled = GenreClassifier(_model(global_pool=True, n_frames=8), GENRES, FEATURES)  # frames need not match
    _check(pooled.predict(rng.standard_normal(2 * CLIP).astype(np.float32)))
    reference = GenreClassifier(GenreCNN(seed=0), GENRES)  # the reference features by default
    prediction = reference.predict(rng.standard_normal(44100 * 3).astype(np.float32), sample_rate=44100)
    _check(prediction)
    assert prediction.segments == 1  # 3 s fit in one 4.99-s window


# -- checkpoints ---------------------------------------------------------------------------


def test_from_checkpoint_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    model = _model()
    path = save_checkpoint(tmp_path / "model.ckpt", model, classes=GENRES, features=FEATURES)
    loaded = GenreClassifier.from_checkpoint(path)
    assert loaded.classes == GENRES
    assert loaded.features == FEATURES
    assert loaded.overlap == 0.0
    wave = rng.standard_normal(4 * CLIP).astype(np.float32)
    direct = GenreClassifier(model, GENRES, FEATURES).predict(wave, timeline=True)
    assert loaded.predict(wave, timeline=True) == direct


def test_from_checkpoint_takes_the_recipes_overlap(tmp_path: Path) -> None:
    # Files written by musicgenre 0.1.0 record the recipe's eval_hop (a fraction of the window).
    path = save_checkpoint(
        tmp_path / "model.ckpt", _model(), classes=GENRES, features=FEATURES, extra={"eval_hop": 0.5}
    )
    assert GenreClassifier.from_checkpoint(path).windowing == Windowing("all", N_FRAMES // 2)
    assert GenreClassifier.from_checkpoint(path).overlap == 0.5
    assert GenreClassifier.from_checkpoint(path, overlap=0.0).overlap == 0.0
    first = save_checkpoint(
        tmp_path / "first.ckpt", _model(), classes=GENRES, features=FEATURES, extra={"eval_hop": None}
    )
    assert GenreClassifier.from_checkpoint(first).windowing.mode == "first"


def test_from_checkpoint_refuses_features_that_do_not_fit(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "model.ckpt", _model(), classes=GENRES, features=FeatureConfig())
    with pytest.raises(CheckpointError, match=r"model\.ckpt: the features give \(1, 64, 215\)"):
        GenreClassifier.from_checkpoint(path)


# -- errors --------------------------------------------------------------------------------


def test_invalid_arguments() -> None:
    with pytest.raises(ConfigurationError, match="overlap"):
        GenreClassifier(_model(), GENRES, FEATURES, overlap=1.0)
    with pytest.raises(ConfigurationError, match="batch_size"):
        GenreClassifier(_model(), GENRES, FEATURES, batch_size=0)
    with pytest.raises(ConfigurationError, match="3 class names"):
        GenreClassifier(_model(), GENRES[:3], FEATURES)
    with pytest.raises(ConfigurationError, match="expects"):
        GenreClassifier(_model(), GENRES)  # the reference features give 64 x 215 inputs


@pytest.mark.parametrize(
    ("wave", "message"),
    [
        (np.zeros(0, dtype=np.float32), "non-empty"),
        (np.zeros((1, 2, 100), dtype=np.float32), "channels, time"),
        (np.array([0.0, np.nan], dtype=np.float32), "NaN"),
    ],
)
def test_bad_waveforms(classifier: GenreClassifier, wave: np.ndarray, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        classifier.predict(wave)


def test_bad_top_k_and_rate(classifier: GenreClassifier) -> None:
    wave = np.zeros(100, dtype=np.float32)
    with pytest.raises(ConfigurationError, match="top_k"):
        classifier.predict(wave, top_k=0)
    with pytest.raises(ConfigurationError, match="sample_rate"):
        classifier.predict(wave, sample_rate=-1)
    assert len(classifier.predict(wave, top_k=99).top_k) == len(GENRES)


def test_undecodable_file_raises_naming_it(tmp_path: Path, classifier: GenreClassifier) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(AudioDecodeError, match=r"bad\.wav"):
        classifier.predict(bad)


# -- many files ----------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path, rng: np.random.Generator) -> Path:
    root = tmp_path / "music"
    for i, (name, rate, seconds) in enumerate(
        [("a.wav", 8000, 0.2), ("sub/b.FLAC", 44100, 1.3), ("sub/deeper/c.ogg", 22050, 0.9), ("d.au", 8000, 2.2)]
    ):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        channels = 1 + i % 2
        data = (rng.standard_normal((round(rate * seconds), channels)) * 0.1).astype(np.float32)
        sf.write(path, data, rate, format={".FLAC": "FLAC"}.get(path.suffix))
    (root / "notes.txt").write_text("not audio")
    (root / ".hidden.wav").write_bytes(b"")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    return root


def test_find_audio_files(folder: Path) -> None:
    found = [p.relative_to(folder).as_posix() for p in find_audio_files(folder)]
    assert found == ["a.wav", "broken.wav", "d.au", "sub/b.FLAC", "sub/deeper/c.ogg"]


def test_predict_many_keeps_going_past_bad_files(folder: Path, classifier: GenreClassifier) -> None:
    paths = [*find_audio_files(folder), folder / "missing.mp3"]
    results = classifier.predict_many(paths, top_k=2, files_per_batch=2, progress=False)
    assert [r.path for r in results] == paths
    failed = [r for r in results if isinstance(r, FailedPrediction)]
    assert [f.path.name for f in failed] == ["broken.wav", "missing.mp3"]
    assert "broken.wav" in failed[0].error
    assert "not found" in failed[1].error
    for result in results:
        if isinstance(result, Prediction):
            _check(result, top_k=2)
            assert result.path is not None
            _assert_close(result, classifier.predict(result.path, top_k=2))  # as one at a time


def test_predict_many_with_worker_processes(folder: Path, classifier: GenreClassifier) -> None:
    paths = find_audio_files(folder)
    serial = classifier.predict_many(paths, timeline=True, progress=False)
    parallel = classifier.predict_many(paths, timeline=True, num_workers=2, files_per_batch=1, progress=False)
    for a, b in zip(parallel, serial, strict=True):
        _assert_close(a, b)


def test_predict_many_of_nothing_and_only_failures(tmp_path: Path, classifier: GenreClassifier) -> None:
    assert classifier.predict_many([], progress=False) == []
    results = classifier.predict_many([tmp_path / "a.wav", tmp_path / "b.wav"], progress=False)
    assert all(isinstance(r, FailedPrediction) for r in results)


def test_to_dict_is_json_ready(classifier: GenreClassifier) -> None:
    import json

    prediction = classifier.predict(np.zeros(CLIP + 200, dtype=np.float32), timeline=True)  # 33 frames
    data = json.loads(json.dumps(prediction.to_dict()))
    assert data["genre"] == prediction.genre
    assert data["error"] is None
    assert [row["genre"] for row in data["top_k"]] == [g for g, _ in prediction.top_k]
    assert len(data["timeline"]) == 2
    assert FailedPrediction(Path("x.wav"), "x.wav: bad").to_dict() == {"path": "x.wav", "error": "x.wav: bad"}


def test_prediction_needs_no_torchaudio(tmp_path: Path) -> None:
    # torchaudio 2.11 does not load with a CPU-only torch build (whose import needs 220 MiB of
    # memory against 506 for the CUDA build): decoding, features, models and the predict
    # command must work without it.
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", _model(), classes=GENRES, features=FEATURES)
    clip = tmp_path / "song.flac"
    sf.write(clip, np.random.default_rng(0).uniform(-0.5, 0.5, size=(3 * 44100, 2)), 44100)
    code = (
        "import sys\n"
        "sys.modules['torchaudio'] = None  # any import of it fails\n"
        "from musicgenre.cli import main\n"
        f"status = main(['predict', '-c', {str(checkpoint)!r}, '--format', 'json', '--workers', '0', {str(clip)!r}])\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["results"]
    assert row["path"].endswith("song.flac")
    assert row["genre"] in GENRES
