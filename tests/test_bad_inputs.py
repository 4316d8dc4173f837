"""The bad-input matrix: every kind of bad file, folder and checkpoint, and what each one gives.

Each row of :data:`AUDIO` writes one file into a temporary folder and states its outcome:

- ``error``: a typed :class:`~musicgenre.errors.AudioDecodeError` whose message names the
  file and says what to do;
- ``valid``: a float32 waveform of the documented shape, resampled and padded correctly;
- ``truncated``: the samples present, with a :class:`~musicgenre.errors.TruncatedAudioWarning`.

The same rows then go through each entry point that can meet such a file:

- :func:`musicgenre.io.load_audio` for the ``valid`` and ``truncated`` rows (the ``error``
  rows' messages at this level are checked by tests/test_io.py);
- :class:`~musicgenre.data.GTZANDataset`, where a file is ``used``, ``skipped`` (listed in
  ``dataset.skipped`` with the reason, and summarised in a warning) or, for NaN/Inf samples
  that only decoding finds, ``fails-when-read`` (:class:`AudioDecodeError` from the item,
  and a skip reported by :func:`~musicgenre.data.cache.extract_features`);
- :meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`,
  what ``musicgenre predict`` runs: a ``Prediction``, or a ``FailedPrediction`` naming the
  file, and the good file beside it is never lost.

Then the rows that are not audio files (a missing dataset root, an unknown genre prefix, a
truncated checkpoint, one of another architecture) and checkpoint writes interrupted half
way. tests/test_cli_messy.py runs the command line on a messy folder.
"""

from __future__ import annotations

import functools
import io
import pathlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import soundfile as sf
import torch
from numpy.typing import NDArray
from torch.utils.data import TensorDataset

from musicgenre.audio import ClipFeatures, FeatureConfig
from musicgenre.cli import main
from musicgenre.data import GTZANDataset
from musicgenre.data.cache import extract_features
from musicgenre.errors import (
    AudioDecodeError,
    CheckpointError,
    DatasetError,
    MusicGenreError,
    MusicGenreWarning,
    TruncatedAudioWarning,
)
from musicgenre.genres import GENRES
from musicgenre.io import audio_info, load_audio
from musicgenre.models import GenreCNN
from musicgenre.models import registry as registry_module
from musicgenre.models.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.models.image_cnn import SpectrogramImageCNN
from musicgenre.predict import FailedPrediction, GenreClassifier, Prediction
from musicgenre.training import Trainer, TrainerConfig

SR = 22050
FEATURES = FeatureConfig()  # the reference's: 22050 Hz, 5-s clips, (1, 64, 215)
FLOOR_DB = -100.0  # 10 * log10(amin): where silence lands

# Words that say what to do; every error message must hold one of them.
ACTIONS = ("check", "pass", "re-encode", "remove", "convert", "copy", "export", "download", "rename")

Build = Callable[[Path, np.random.Generator, pytest.MonkeyPatch], None]


def _assert_names_file_and_fix(message: str, path: Path) -> None:
    assert str(path) in message, f"{message!r} does not name {path}"
    assert any(word in message.lower() for word in ACTIONS), f"{message!r} does not say what to do"
    assert "Traceback" not in message


# -- builders ------------------------------------------------------------------------------


def _tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0) -> NDArray[np.float64]:
    """A tone of *freq* Hz, shape ``(frames, channels)``; channel c at amplitude 0.5 - 0.05 c."""
    t = np.arange(round(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * freq * t)
    return np.stack([(0.5 - 0.05 * c) * wave for c in range(channels)], axis=1)


@functools.cache
def _ten_minutes() -> NDArray[np.float32]:
    return _tone(600.0, 8000).astype(np.float32)  # 4.8 M samples: 9.6 MB as 16-bit WAV


def _write(seconds: float, rate: int = SR, channels: int = 1, subtype: str = "PCM_16") -> Build:
    def build(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
        sf.write(str(path), _tone(seconds, rate, channels), rate, subtype=subtype)

    return build


def _garbage(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_bytes(rng.bytes(4096))


def _truncated(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(str(path), _tone(1.0, SR), SR, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * 8820])  # the 44-byte header and 0.4 s of the 1 s declared


def _empty(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_bytes(b"")


def _no_samples(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(str(path), np.zeros((0, 1), dtype=np.float32), SR)


def _with(value: float) -> Build:
    def build(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
        samples = _tone(0.5, SR).astype(np.float32)
        samples[1234, 0] = value
        sf.write(str(path), samples, SR, subtype="FLOAT")

    return build


def _silence(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(str(path), np.zeros((SR, 1), dtype=np.int16), SR, subtype="PCM_16")


def _long(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    sf.write(str(path), _ten_minutes(), 8000, subtype="PCM_16")


def _text(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_text("Verse 1: this is a text file with an .mp3 name\n" * 40)


def _directory(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    path.mkdir()
    sf.write(str(path / "inside.wav"), _tone(0.1, SR), SR)


def _unreadable(path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 does not stop root (the tests' user), so refuse to open this one path.
    sf.write(str(path), _tone(0.5, SR), SR)
    real_open = pathlib.Path.open

    def refusing_open(self: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", refusing_open)


# -- the matrix ----------------------------------------------------------------------------

Outcome = Literal["error", "valid", "truncated"]
InDataset = Literal["used", "skipped", "fails-when-read", "not-applicable"]


@dataclass(frozen=True)
class AudioCase:
    """One bad (or merely unusual) audio file and its documented outcome at each entry point."""

    build: Build
    ext: str
    outcome: Outcome
    dataset: InDataset
    words: str = ""  # for errors: in the message; for the others: nothing
    channels: int = 1
    frames: int = SR  # samples per channel at 22050 Hz after loading (valid and truncated rows)


AUDIO: dict[str, AudioCase] = {
    "garbage-bytes-wav": AudioCase(_garbage, ".wav", "error", "skipped", "not a valid WAV"),
    "truncated-mid-data": AudioCase(_truncated, ".wav", "truncated", "used", frames=8820),
    "empty-0-bytes": AudioCase(_empty, ".wav", "error", "skipped", "empty (0 bytes)"),
    "header-0-samples": AudioCase(_no_samples, ".wav", "error", "skipped", "no audio samples"),
    "1-sample": AudioCase(_write(1 / SR), ".wav", "valid", "used", frames=1),
    "50-ms": AudioCase(_write(0.05), ".wav", "valid", "used", frames=1102),
    "8-kHz": AudioCase(_write(1.0, 8000), ".wav", "valid", "used"),
    "44.1-kHz": AudioCase(_write(1.0, 44100), ".wav", "valid", "used"),
    "48-kHz": AudioCase(_write(1.0, 48000), ".wav", "valid", "used"),
    "96-kHz": AudioCase(_write(1.0, 96000), ".wav", "valid", "used"),
    "stereo": AudioCase(_write(1.0, channels=2), ".wav", "valid", "used", channels=2),
    "6-channels": AudioCase(_write(1.0, channels=6), ".wav", "valid", "used", channels=6),
    "int16": AudioCase(_write(1.0, subtype="PCM_16"), ".wav", "valid", "used"),
    "int32": AudioCase(_write(1.0, subtype="PCM_32"), ".wav", "valid", "used"),
    "float32": AudioCase(_write(1.0, subtype="FLOAT"), ".wav", "valid", "used"),
    "float64": AudioCase(_write(1.0, subtype="DOUBLE"), ".wav", "valid", "used"),
    "nan-sample": AudioCase(_with(np.nan), ".wav", "error", "fails-when-read", "NaN or infinite"),
    "inf-sample": AudioCase(_with(np.inf), ".wav", "error", "fails-when-read", "NaN or infinite"),
    "silence": AudioCase(_silence, ".wav", "valid", "used"),
    "10-minutes": AudioCase(_long, ".wav", "valid", "used", frames=600 * SR),
    "text-named-mp3": AudioCase(_text, ".mp3", "error", "skipped", "not a valid MP3"),
    "unsupported-extension": AudioCase(_garbage, ".wma", "error", "skipped", "unsupported format '.wma'"),
    "directory-as-file": AudioCase(_directory, ".wav", "error", "not-applicable", "is a directory"),
    "no-read-permission": AudioCase(_unreadable, ".wav", "error", "skipped", "permission denied"),
}

VALID = sorted(name for name, case in AUDIO.items() if case.outcome != "error")


@pytest.fixture(scope="module")
def classifier() -> GenreClassifier:
    return GenreClassifier(GenreCNN(seed=0), GENRES, FEATURES)


@pytest.fixture(scope="module")
def features() -> ClipFeatures:
    return ClipFeatures(FEATURES, generator=torch.Generator().manual_seed(0))


def _build(case: AudioCase, path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> Path:
    case.build(path, rng, monkeypatch)
    return path


def _warns_if_truncated(case: AudioCase, path: Path) -> AbstractContextManager[object]:
    if case.outcome != "truncated":
        return nullcontext()  # filterwarnings=error: any other warning fails the test
    return pytest.warns(TruncatedAudioWarning, match=rf"{path.name}: is truncated: .*\(40\.0%\).*Download or copy")


# -- load_audio ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALID)
def test_valid_files_load_at_the_model_rate(
    name: str, tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, features: ClipFeatures
) -> None:
    case = AUDIO[name]
    path = _build(case, tmp_path / f"clip{case.ext}", rng, monkeypatch)

    with _warns_if_truncated(case, path):
        wave, rate = load_audio(path, sample_rate=SR)
    with _warns_if_truncated(case, path):
        mono, _ = load_audio(path, sample_rate=SR, mono=True)

    assert rate == SR
    assert wave.dtype == torch.float32
    assert wave.shape == (case.channels, case.frames)
    assert mono.shape == (1, case.frames)
    assert bool(torch.isfinite(wave).all())
    assert float(wave.abs().max()) <= 1.0
    spec = features(mono)
    assert spec.shape == (1, FEATURES.n_mels, FEATURES.n_frames)
    assert spec.dtype == torch.float32
    assert bool(torch.isfinite(spec).all())


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000])
def test_odd_rates_keep_length_and_pitch(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone-{rate}.wav"
    sf.write(str(path), _tone(1.0, rate, freq=440.0), rate, subtype="FLOAT")

    wave, _ = load_audio(path, sample_rate=SR, mono=True)

    assert wave.shape == (1, SR)  # 1 s at any rate is 1 s at 22050 Hz
    spectrum = np.abs(np.fft.rfft(wave[0].numpy()))
    assert np.argmax(spectrum) * SR / wave.shape[-1] == pytest.approx(440.0, abs=1.0)
    assert float(wave[0, 2000:-2000].abs().max()) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    ("subtype", "atol"), [("PCM_16", 2.0**-15), ("PCM_32", 1e-7), ("FLOAT", 0.0), ("DOUBLE", 1e-7)]
)
def test_sample_formats_decode_to_the_same_float32_values(tmp_path: Path, subtype: str, atol: float) -> None:
    tone = _tone(0.25, SR, channels=2)
    path = tmp_path / f"{subtype}.wav"
    sf.write(str(path), tone, SR, subtype=subtype)

    wave, _ = load_audio(path)

    assert wave.dtype == torch.float32
    np.testing.assert_allclose(wave.numpy(), tone.T.astype(np.float32), rtol=0, atol=atol)


def test_six_channels_keep_their_order_and_mix_to_their_mean(tmp_path: Path) -> None:
    tone = _tone(0.25, SR, channels=6)
    path = tmp_path / "surround.wav"
    sf.write(str(path), tone, SR, subtype="FLOAT")

    wave, _ = load_audio(path)
    mono, _ = load_audio(path, mono=True)

    peaks = wave.abs().amax(dim=1)
    assert peaks.tolist() == pytest.approx([0.5 - 0.05 * c for c in range(6)], abs=1e-4)
    np.testing.assert_allclose(mono[0].numpy(), tone.mean(axis=1), rtol=0, atol=1e-6)


def test_a_50_ms_clip_is_padded_not_stretched(tmp_path: Path, features: ClipFeatures) -> None:
    path = tmp_path / "short.wav"
    sf.write(str(path), _tone(0.05, SR), SR, subtype="FLOAT")

    wave, _ = load_audio(path, sample_rate=SR, mono=True)
    spec = features(wave)

    assert spec.shape == (1, 64, 215)
    # 1102 samples reach at most 1102 / 512 + 3 frames (centred windows overlap the edges);
    # every other frame is the padding, at the dB floor.
    loud = (spec[0].amax(dim=0) > spec.min() + 1.0).sum()
    assert 1 <= int(loud) <= 1102 // 512 + 3


def test_silence_maps_to_the_db_floor_everywhere(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, features: ClipFeatures
) -> None:
    path = _build(AUDIO["silence"], tmp_path / "silence.wav", rng, monkeypatch)
    wave, _ = load_audio(path, sample_rate=SR, mono=True)
    spec = features(wave)
    assert bool((wave == 0).all())
    assert torch.equal(spec, torch.full((1, 64, 215), FLOOR_DB))


def test_truncated_wav_warns_on_each_read_and_keeps_the_samples_present(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _build(AUDIO["truncated-mid-data"], tmp_path / "cut.wav", rng, monkeypatch)

    with pytest.warns(TruncatedAudioWarning) as info_record:
        info = audio_info(path)
    with pytest.warns(TruncatedAudioWarning) as load_record:
        wave, _ = load_audio(path)

    for record in (info_record, load_record):
        assert len(record) == 1
        warning = record[0].message
        assert isinstance(warning, TruncatedAudioWarning)
        assert isinstance(warning, MusicGenreWarning)
        assert isinstance(warning, UserWarning)
        assert warning.path == path
        assert warning.fraction == pytest.approx(0.4)
        assert record[0].filename == __file__  # points at the caller's line, not musicgenre's
    assert info.frames == wave.shape[-1] == 8820
    np.testing.assert_allclose(wave[0].numpy(), _tone(0.4, SR)[:, 0], rtol=0, atol=2.0**-15)


def test_truncated_before_the_first_sample_is_an_error_that_says_so(tmp_path: Path) -> None:
    path = tmp_path / "header-only.wav"
    sf.write(str(path), _tone(1.0, SR), SR, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:44])

    for loader in (load_audio, audio_info):
        with pytest.raises(AudioDecodeError) as info:
            loader(path)
        assert "declares 44,100 bytes" in str(info.value)
        _assert_names_file_and_fix(str(info.value), path)


@pytest.mark.parametrize("ext", [".au", ".aiff", ".mp3"])
def test_other_truncated_formats_warn_too(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"cut{ext}"
    sf.write(str(path), _tone(1.0, SR, channels=2), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])

    with pytest.warns(TruncatedAudioWarning, match=rf"{path.name}: is truncated"):
        wave, _ = load_audio(path)

    assert 0 < wave.shape[-1] < SR * 0.5


@pytest.mark.parametrize("ext", [".wav", ".au", ".aiff", ".flac", ".mp3", ".ogg"])
def test_complete_files_do_not_warn(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"whole{ext}"
    sf.write(str(path), _tone(0.5, SR, channels=2), SR)
    audio_info(path)
    wave, _ = load_audio(path)  # filterwarnings=error turns any warning into a failure
    assert wave.shape[0] == 2


# -- GTZANDataset --------------------------------------------------------------------------

IN_DATASET = sorted(name for name, case in AUDIO.items() if case.dataset != "not-applicable")


@pytest.mark.parametrize("name", IN_DATASET)
def test_matrix_through_the_dataset(
    name: str, tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, features: ClipFeatures
) -> None:
    case = AUDIO[name]
    root = tmp_path / "gtzan"
    root.mkdir()
    good = root / "blues.00000.wav"
    sf.write(str(good), _tone(0.2, SR), SR)
    path = _build(case, root / f"jazz.00054{case.ext}", rng, monkeypatch)

    if case.dataset == "skipped":
        with pytest.warns(UserWarning, match=r"skipped 1 of 2 files .*jazz\.00054"):
            ds = GTZANDataset(root, transform=features)
        assert ds.files == [good]
        assert [s.path for s in ds.skipped] == [path]
        assert case.words in ds.skipped[0].reason
        assert ds.summary()["skipped"] == [{"path": str(path), "reason": ds.skipped[0].reason}]
        return

    with _warns_if_truncated(case, path):
        ds = GTZANDataset(root, transform=features)
    assert ds.files == [good, path]
    assert ds.skipped == []
    if case.dataset == "fails-when-read":
        with pytest.raises(AudioDecodeError) as info:
            ds[1]
        _assert_names_file_and_fix(str(info.value), path)
        with pytest.warns(UserWarning, match=r"extract_features skipped 1 of 2 files"):
            cached = extract_features(ds, FEATURES, progress=False)
        assert cached.files == [good]
        assert [(s.path, case.words in s.reason) for s in cached.skipped] == [(path, True)]
        return
    with _warns_if_truncated(case, path):
        x, target = ds[1]
    assert target == GENRES.index("jazz")
    assert x.shape == (1, 64, 215)
    assert bool(torch.isfinite(x).all())


def test_unknown_genre_prefix_shows_up_in_every_report(tmp_path: Path) -> None:
    # tests/test_data.py checks the dataset's own report; the feature cache carries it on.
    root = tmp_path / "gtzan"
    root.mkdir()
    for name in ("blues.00000.wav", "kpop.00001.wav"):
        sf.write(str(root / name), _tone(0.2, SR), SR)

    with pytest.warns(UserWarning, match=r"kpop\.00001\.wav"):
        ds = GTZANDataset(root)
    cached = extract_features(ds, FEATURES, progress=False)

    for report in (ds.skipped, cached.skipped):
        assert [s.path.name for s in report] == ["kpop.00001.wav"]
        assert "genre 'kpop' is not one of" in report[0].reason
    assert ds.summary()["skipped"][0]["path"] == str(root / "kpop.00001.wav")
    assert len(cached) == 1


def test_missing_dataset_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError) as info:
        GTZANDataset(missing)
    assert info.value.path == missing
    _assert_names_file_and_fix(str(info.value), missing)

    out = tmp_path / "run"
    assert main(["train", "--root", str(missing), "--out", str(out), "--no-plots"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {missing}: dataset root does not exist")
    assert "Traceback" not in captured.err
    assert not out.exists()  # nothing half-written


# -- GenreClassifier.predict_many (the CLI's engine) ----------------------------------------


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_matrix_through_predict_many(
    name: str,
    tmp_path: Path,
    rng: np.random.Generator,
    monkeypatch: pytest.MonkeyPatch,
    classifier: GenreClassifier,
) -> None:
    case = AUDIO[name]
    good = tmp_path / "good.wav"
    sf.write(str(good), _tone(0.5, SR), SR)
    path = _build(case, tmp_path / f"track{case.ext}", rng, monkeypatch)

    with _warns_if_truncated(case, path):
        first, second = classifier.predict_many([good, path], progress=False)

    assert isinstance(first, Prediction)  # a bad file never costs the good ones
    assert first.path == good
    if case.outcome == "error":
        assert isinstance(second, FailedPrediction)
        assert second.path == path
        assert case.words in second.error
        _assert_names_file_and_fix(second.error, path)
        return
    assert isinstance(second, Prediction)
    assert second.path == path
    assert sum(second.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(np.isfinite(p) for p in second.probabilities.values())
    assert second.duration == pytest.approx(case.frames / SR)
    assert second.segments == max(1, -(-case.frames // FEATURES.clip_samples))


# -- checkpoints ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", GenreCNN(seed=0), classes=GENRES)
    return path.read_bytes()


@pytest.mark.parametrize("keep", ["nothing", "64-bytes", "half", "all-but-1-byte"])
def test_truncated_checkpoint_is_refused_everywhere(
    tmp_path: Path, checkpoint_bytes: bytes, keep: str, capsys: pytest.CaptureFixture[str]
) -> None:
    size = {"nothing": 0, "64-bytes": 64, "half": len(checkpoint_bytes) // 2, "all-but-1-byte": -1}[keep]
    path = tmp_path / "model.ckpt"
    path.write_bytes(checkpoint_bytes[:size])
    track = tmp_path / "song.wav"
    sf.write(str(track), _tone(0.5, SR), SR)

    loaders: list[Callable[[Path], object]] = [
        load_checkpoint,
        GenreCNN.from_checkpoint,
        GenreClassifier.from_checkpoint,
    ]
    for loader in loaders:
        with pytest.raises(CheckpointError) as info:
            loader(path)
        assert info.value.path == path
        assert "truncated or corrupt" in str(info.value)

    for argv in (["predict", "--checkpoint", str(path), str(track)], ["info", str(path)]):
        assert main(argv) == 1
        captured = capsys.readouterr()
        assert captured.err.startswith(f"error: {path}: ")
        assert len(captured.err.splitlines()) == 1
        assert captured.out == ""


def test_resuming_from_a_truncated_checkpoint_is_refused(tmp_path: Path, checkpoint_bytes: bytes) -> None:
    path = tmp_path / "last.ckpt"
    path.write_bytes(checkpoint_bytes[: len(checkpoint_bytes) // 3])
    data = TensorDataset(torch.randn(4, 1, 64, 215), torch.tensor([0, 1, 2, 3]))
    trainer = Trainer(TrainerConfig(max_epochs=1, batch_size=2, progress=False))

    with pytest.raises(CheckpointError) as info:
        trainer.fit(GenreCNN(seed=0), data, resume_from=path)

    assert info.value.path == path
    assert trainer.history.epochs == []  # refused before any training


@pytest.fixture
def image_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint of the reference's picture model (RGB 128 x 128 input): another architecture."""
    model = SpectrogramImageCNN(seed=0, channels=(4, 8, 8), embedding_dim=8)
    return save_checkpoint(tmp_path / "images.ckpt", model, classes=GENRES)


@pytest.mark.parametrize("registered", [False, True], ids=["unregistered", "registered"])
def test_checkpoint_of_another_architecture_is_refused_for_audio(
    image_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, registered: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whether SpectrogramImageCNN is registered depends on what ran before; pin both states.
    if registered:
        monkeypatch.setitem(registry_module._MODELS, "SpectrogramImageCNN", SpectrogramImageCNN)
        expected = "expects (1, 128, 128)"
    else:
        monkeypatch.delitem(registry_module._MODELS, "SpectrogramImageCNN", raising=False)
        expected = "unknown model class 'SpectrogramImageCNN'"
    track = image_checkpoint.parent / "song.wav"
    sf.write(str(track), _tone(0.5, SR), SR)

    with pytest.raises(CheckpointError) as info:
        GenreClassifier.from_checkpoint(image_checkpoint)
    assert info.value.path == image_checkpoint
    assert expected in str(info.value)

    assert main(["predict", "--checkpoint", str(image_checkpoint), str(track), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: {info.value}\n"
    assert captured.out == ""


# -- interrupted checkpoint writes ---------------------------------------------------------


def _saving_half_then(exc: BaseException) -> Callable[..., None]:
    real_save = torch.save

    def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        raise exc

    return save


@pytest.mark.parametrize(
    "interruption",
    [OSError(28, "No space left on device"), KeyboardInterrupt(), MemoryError()],
    ids=["disk-full", "ctrl-c", "out-of-memory"],
)
@pytest.mark.parametrize("previous", [True, False], ids=["over-a-checkpoint", "first-save"])
def test_interrupted_save_keeps_the_previous_checkpoint_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interruption: BaseException, previous: bool
) -> None:
    target = tmp_path / "last.ckpt"
    if previous:
        save_checkpoint(target, GenreCNN(seed=0), classes=GENRES, metrics={"epoch": 1})
    before = target.read_bytes() if previous else None

    monkeypatch.setattr(torch, "save", _saving_half_then(interruption))
    with pytest.raises(type(interruption)):
        save_checkpoint(target, GenreCNN(seed=1), classes=GENRES, metrics={"epoch": 2})
    monkeypatch.undo()

    assert [p.name for p in tmp_path.iterdir()] == (["last.ckpt"] if previous else [])
    if previous:
        assert target.read_bytes() == before
        assert load_checkpoint(target).metrics == {"epoch": 1}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_mid_write_leaves_the_previous_checkpoint_intact(tmp_path: Path) -> None:
    # A hard kill runs no cleanup: the half-written temp file stays, hidden, beside an
    # intact target (docs/troubleshooting.rst says to delete it).
    target = save_checkpoint(tmp_path / "last.ckpt", GenreCNN(seed=0), classes=GENRES, metrics={"epoch": 1})
    before = target.read_bytes()
    script = textwrap.dedent(
        """
        import io, os, signal, sys
        import torch
        from musicgenre.models.checkpoint import save_checkpoint
        from musicgenre.genres import GENRES
        from musicgenre.models import GenreCNN

        real_save = torch.save

        def dying_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[:100_000])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = dying_save
        save_checkpoint(sys.argv[1], GenreCNN(seed=1), classes=GENRES, metrics={"epoch": 2})
        """
    )

    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, timeout=300, check=False)

    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert target.read_bytes() == before
    assert load_checkpoint(target).metrics == {"epoch": 1}
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1
    assert leftovers[0].name.startswith(".last.ckpt.")
    assert leftovers[0].stat().st_size == 100_000


# -- every error is a MusicGenreError --------------------------------------------------------


def test_every_matrix_error_is_one_musicgenre_error_type(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One `except MusicGenreError` catches all of them; no libsndfile or torch type leaks.
    for name, case in sorted(AUDIO.items()):
        if case.outcome != "error":
            continue
        path = _build(case, tmp_path / f"{name}{case.ext}", rng, monkeypatch)
        with pytest.raises(MusicGenreError) as info:
            load_audio(path)
        assert type(info.value) is AudioDecodeError, name
        _assert_names_file_and_fix(str(info.value), path)
