"""Fast prediction: the optimised model, block-wise long files, first-window decoding, workers and warnings."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

import musicgenre.parallel as parallel
import musicgenre.predict.streaming as streaming
from musicgenre.audio import FeatureConfig
from musicgenre.audio.windowing import LogMelFrontEnd, Windowing, cut_windows
from musicgenre.cli import main
from musicgenre.errors import TruncatedAudioWarning
from musicgenre.genres import GENRES
from musicgenre.io import iter_audio_blocks, load_audio
from musicgenre.models import GenreCNN, save_checkpoint
from musicgenre.parallel import default_workers
from musicgenre.predict import FailedPrediction, GenreClassifier, Prediction, SegmentPrediction
from musicgenre.synthetic import synthesize_clip

# Small features keep it fast: 8 kHz, 0.5-s windows of 32 frames, n_fft 256, hop 128.
FEATURES = FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128)


def _model(**overrides: Any) -> GenreCNN:
    """A batch-normalised model with statistics as after training."""
    config: dict[str, Any] = {
        "n_classes": len(GENRES),
        "n_mels": FEATURES.n_mels,
        "n_frames": FEATURES.n_frames,
        "channels": (4, 8),
        "embedding_dim": 16,
        "batch_norm": True,
        "input_norm": True,
        **overrides,
    }
    model = GenreCNN(seed=5, **config)
    gen = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert m.running_mean is not None
            assert m.running_var is not None
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 5 - 40)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 50 + 10)
    return model.eval()


def _music(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    clips = [synthesize_clip(g, duration=3.0, sample_rate=rate, seed=seed + i) for i, g in enumerate(GENRES[:4])]
    wave = np.concatenate(clips * int(np.ceil(seconds / 12.0)))[: round(seconds * rate)]
    return np.stack([wave, 0.7 * np.roll(wave, 37)][:channels], axis=1).astype(np.float32)


def _close(a: Prediction, b: Prediction, tol: float = 1e-5) -> None:
    assert (a.segments, a.path) == (b.segments, b.path)
    assert a.duration == pytest.approx(b.duration, abs=1e-9)
    assert a.probabilities == pytest.approx(b.probabilities, abs=tol)
    assert a.timeline is not None
    assert b.timeline is not None
    for sa, sb in zip(a.timeline, b.timeline, strict=True):
        assert (sa.start, sa.end) == pytest.approx((sb.start, sb.end), abs=1e-9)
        assert sa.probabilities == pytest.approx(sb.probabilities, abs=tol)


# -- the optimised model ---------------------------------------------------------------------------


def test_the_optimised_model_predicts_like_the_model_and_leaves_it_alone() -> None:
    model = _model()
    wave = torch.from_numpy(_music(7.3, 8000, 1)[:, 0])
    fast = GenreClassifier(model, GENRES, FEATURES, overlap=0.5)
    plain = GenreClassifier(model, GENRES, FEATURES, overlap=0.5, optimize=False)
    _close(fast.predict(wave, timeline=True), plain.predict(wave, timeline=True))
    assert plain.model is model
    assert fast.model is not model
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 3  # input + two blocks, unfolded
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.model.modules()) == 1  # only the input's


# -- long files, block by block -------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "rate", "channels"), [(".flac", 22050, 2), (".wav", 8000, 1)])
def test_a_long_file_streamed_block_by_block_equals_the_in_memory_prediction(
    tmp_path: Path, suffix: str, rate: int, channels: int
) -> None:
    path = tmp_path / f"long{suffix}"
    sf.write(str(path), _music(61.7, rate, channels), rate, subtype="PCM_16")
    windowings = (Windowing(hop_frames=13), Windowing(hop_frames=45), Windowing(average="logits"))
    for windowing in (*windowings, Windowing(hop_frames=45, tail="drop"), Windowing(tail="drop")):
        whole = GenreClassifier(_model(), GENRES, FEATURES, windowing=windowing)
        streamed = GenreClassifier(
            _model(), GENRES, FEATURES, windowing=windowing, stream_seconds=10.0, block_seconds=1.37
        )
        assert streamed.pipeline.featurizer.streams(path)
        assert not whole.pipeline.featurizer.streams(path)
        _close(streamed.predict(path, timeline=True), whole.predict(path, timeline=True))


def test_block_wise_log_mel_equals_the_whole_track_spectrogram() -> None:
    # The STFT frames near a block boundary see the next block's samples, as the whole
    # track's do; only float rounding differs (the FFT and the mel product run on other shapes).
    front = LogMelFrontEnd(FEATURES)
    wave = torch.from_numpy(_music(9.1, 8000, 1)[:, 0])
    whole = front.frames(wave)
    for block in (1, 100, 129, 256, 1000, 4097, 80000):
        for length in (len(wave), 129, 130, 300, 4000 + 77):
            part = wave[:length]
            streamed = torch.cat(list(streaming.LogMelStream(front)(torch.split(part, block))), dim=-1)
            expected = whole[..., : streamed.shape[-1]] if length == len(wave) else front.frames(part)
            assert streamed.shape == expected.shape
            torch.testing.assert_close(streamed, expected, atol=1e-4, rtol=0)  # dB; -100 dB is silence
    windows = Windowing(hop_frames=7)
    streamed = torch.cat(list(streaming.LogMelStream(front)(torch.split(wave, 999))), dim=-1)
    torch.testing.assert_close(
        cut_windows(streamed, front, windows).windows, cut_windows(whole, front, windows).windows, atol=1e-4, rtol=0
    )


def test_the_timeline_of_a_long_file_is_delivered_as_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.wav"
    sf.write(str(path), _music(30.0, 8000, 1), 8000, subtype="PCM_16")
    blocks_read: list[int] = []
    original = iter_audio_blocks

    def counting(*args: Any, **kwargs: Any) -> Iterator[torch.Tensor]:
        for block in original(*args, **kwargs):
            blocks_read.append(block.shape[-1])
            yield block

    monkeypatch.setattr(streaming, "iter_audio_blocks", counting)
    classifier = GenreClassifier(_model(), GENRES, FEATURES, stream_seconds=5.0, block_seconds=2.0)
    seen: list[tuple[int, SegmentPrediction]] = []
    prediction = classifier.predict(path, timeline=True, on_segment=lambda s: seen.append((len(blocks_read), s)))
    assert [s for _, s in seen] == list(prediction.timeline or ())
    assert seen[0][0] < len(blocks_read) / 2  # the first windows came while most of the file was still unread
    assert prediction.duration == pytest.approx(30.0)


# -- the first window only -------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "rate", "channels"), [(".mp3", 44100, 2), (".flac", 16000, 1), (".wav", 8000, 1)])
def test_first_window_prediction_decodes_the_start_and_equals_the_whole_file(
    tmp_path: Path, suffix: str, rate: int, channels: int
) -> None:
    path = tmp_path / f"song{suffix}"
    sf.write(str(path), _music(12.0, rate, channels), rate)
    classifier = GenreClassifier(_model(), GENRES, FEATURES, windowing=Windowing("first"))
    wave = classifier.load(path)
    from_file = classifier.predict(path, timeline=True)
    in_memory = classifier.predict(wave, timeline=True)
    assert from_file.segments == 1
    assert from_file.duration == pytest.approx(len(wave) / FEATURES.sample_rate, abs=2 / FEATURES.sample_rate)
    assert from_file.probabilities == pytest.approx(in_memory.probabilities, abs=1e-5)


# -- workers and warnings --------------------------------------------------------------------------


def test_default_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "usable_cores", lambda: 4)
    assert default_workers(3) == 0  # a handful of files: starting workers costs more than it saves
    assert default_workers(16) == 4
    assert default_workers(200) == 4
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    assert default_workers(200) == 0
    monkeypatch.undo()
    assert parallel.usable_cores() >= 1


def _truncated(path: Path) -> Path:
    sf.write(str(path), _music(2.0, 8000, 1), 8000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 2 * 8000])  # half of the declared samples
    return path


@pytest.mark.parametrize("workers", [0, 2])
def test_warnings_in_workers_reach_the_caller_once_per_file(tmp_path: Path, workers: int) -> None:
    good = tmp_path / "good.wav"
    sf.write(str(good), _music(2.0, 8000, 1), 8000)
    cut = [_truncated(tmp_path / f"cut{i}.wav") for i in range(3)]
    classifier = GenreClassifier(_model(), GENRES, FEATURES)
    threads = torch.get_num_threads()
    with pytest.warns(TruncatedAudioWarning) as record:
        results = classifier.predict_many([cut[0], good, cut[1], cut[2]], num_workers=workers, files_per_batch=2)
    assert torch.get_num_threads() == threads  # the caller's setting is restored
    assert sorted(str(w.message).split(":")[0] for w in record) == sorted(str(p) for p in cut)
    assert all(isinstance(r, Prediction) for r in results)
    for result, path in zip(results, [cut[0], good, cut[1], cut[2]], strict=True):
        assert isinstance(result, Prediction)
        if path == good:
            assert result.warnings == ()
        else:
            assert len(result.warnings) == 1
            assert result.warnings[0].startswith(f"{path}: is truncated")
            assert result.to_dict()["warnings"] == list(result.warnings)


def test_cli_reports_warnings_from_workers_as_one_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", _model(), classes=GENRES, features=FEATURES)
    folder = tmp_path / "music"
    folder.mkdir()
    cut = [_truncated(folder / f"cut{i}.wav") for i in range(2)]
    sf.write(str(folder / "good.wav"), _music(2.0, 8000, 1), 8000)
    with warnings.catch_warnings():
        warnings.simplefilter("default", TruncatedAudioWarning)  # as outside pytest
        status = main(["predict", "-c", str(checkpoint), str(folder), "--workers", "2", "--format", "csv"])
    out, err = capsys.readouterr()
    assert status == 0
    assert len(out.splitlines()) == 4
    lines = err.splitlines()
    assert sorted(line.split(": is truncated")[0] for line in lines) == [f"warning: {p}" for p in cut]


def test_cli_jsonl_timeline_streams_windows_then_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", _model(), classes=GENRES, features=FEATURES)
    path = tmp_path / "song.wav"
    sf.write(str(path), _music(3.2, 8000, 1), 8000)
    status = main(["predict", "-c", str(checkpoint), str(path), "--format", "jsonl", "--timeline"])
    out, _ = capsys.readouterr()
    assert status == 0
    lines = [json.loads(line) for line in out.splitlines()]
    windows, files = lines[:-1], lines[-1:]
    assert files[0]["segments"] == len(windows) == 7
    assert all(w["path"] == str(path) for w in windows)
    assert [w["start"] for w in windows] == sorted(w["start"] for w in windows)
    assert "timeline" not in files[0]


def test_predict_many_streams_long_files_among_short_ones(tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    long = tmp_path / "long.wav"
    sf.write(str(short), _music(3.0, 8000, 1), 8000)
    sf.write(str(long), _music(25.0, 8000, 1), 8000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt junk")
    classifier = GenreClassifier(_model(), GENRES, FEATURES, stream_seconds=10.0, block_seconds=3.0)
    reference = GenreClassifier(_model(), GENRES, FEATURES)
    results = classifier.predict_many([short, long, broken], num_workers=0, timeline=True)
    assert isinstance(results[2], FailedPrediction)
    for got, path in zip(results[:2], (short, long), strict=True):
        assert isinstance(got, Prediction)
        _close(got, reference.predict(path, timeline=True))
    wave, _ = load_audio(long, sample_rate=8000, mono=True)
    assert isinstance(results[1], Prediction)
    assert results[1].duration == pytest.approx(wave.shape[-1] / 8000)
