"""One path: evaluation and prediction share windowing, features and averaging; checkpoints remember their data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgenre.audio.transforms import FeatureConfig, LogMelSpectrogram
from musicgenre.audio.windowing import LogMelFrontEnd, Windowing, cut_windows, track_frames, window_layout
from musicgenre.cli import main
from musicgenre.errors import CheckpointError, ConfigurationError, SplitMismatchError
from musicgenre.experiment import evaluate_checkpoint, run_experiment
from musicgenre.models import GenreCNN, load_checkpoint, save_checkpoint
from musicgenre.models.scoring import average_tracks
from musicgenre.predict import GenreClassifier, Prediction
from musicgenre.recipes import IMPROVED, REFERENCE
from musicgenre.synthetic import make_synthetic_gtzan, synthesize_clip

# Four genres of six clips: the random scheme's parts (64-16-20) keep every genre in each part.
FOUR = ("blues", "classical", "jazz", "metal")
SMALL = FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128)


def _wave(seconds: float, rate: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(synthesize_clip("rock", duration=seconds, sample_rate=rate, seed=seed))


# -- whole-track windows against each window's own spectrogram -------------------------------


@pytest.mark.parametrize(
    "config", [IMPROVED.features, REFERENCE.features, SMALL], ids=["improved", "reference", "small"]
)
def test_whole_track_windows_equal_per_window_features_but_at_the_edges(config: FeatureConfig) -> None:
    # Each window's own log-mel (GenreClassifier in 0.1.0, one STFT per window) against the
    # window cut from the whole track's spectrogram: equal to the bit except for the
    # ceil(n_fft / 2 / hop_length) frames at each edge whose STFT reaches past the window.
    front = LogMelFrontEnd(config)
    windowing = Windowing("all", config.n_frames // 2)
    wave = _wave(12.0, config.sample_rate)
    track = cut_windows(track_frames(wave, front, windowing), front, windowing)
    own = LogMelSpectrogram.from_config(config)
    edge = math.ceil(config.n_fft / 2 / config.hop_length)
    hop = windowing.hop(config.n_frames) * config.hop_length
    inner_windows = [k for k in range(len(track.windows)) if k * hop + config.clip_samples <= len(wave)]
    assert len(inner_windows) >= 3
    for k in inner_windows:
        expected = own(wave[k * hop : k * hop + config.clip_samples])
        cut = track.windows[k, 0]
        left = 0 if k == 0 else edge  # the first window starts where the track does: same reflection
        assert torch.equal(cut[:, left : config.n_frames - edge], expected[:, left : config.n_frames - edge])
        differs = (cut != expected).any(dim=0).nonzero().flatten().tolist()
        assert all(j < left or j >= config.n_frames - edge for j in differs), differs


def test_first_window_is_the_references_spectrogram_of_the_first_clip() -> None:
    config = REFERENCE.features
    front, windowing = REFERENCE.front_end, REFERENCE.windowing
    assert windowing == Windowing("first")
    wave = _wave(9.0, config.sample_rate)
    track = cut_windows(track_frames(wave, front, windowing), front, windowing)
    expected = LogMelSpectrogram.from_config(config)(wave[: config.clip_samples])
    assert track.windows.shape == (1, 1, config.n_mels, config.n_frames)
    assert torch.equal(track.windows[0, 0], expected)  # bit for bit, top_db per window included


def test_padding_is_silence_and_never_depends_on_other_audio() -> None:
    front = LogMelFrontEnd(SMALL)
    windowing = Windowing("all", 16)
    wave = _wave(2.2, SMALL.sample_rate)
    frames = front.frames(wave)
    total = frames.shape[-1]
    track = cut_windows(frames, front, windowing)
    last_start = int(track.starts[-1])
    tail = total - last_start
    assert 0 < tail < SMALL.n_frames
    # Changing the audio before the last window (here: its frames) changes neither its
    # content nor its padding (0.1.0's evaluation padded with the track's minimum).
    altered = frames.clone()
    altered[..., :last_start] = -100.0
    assert torch.equal(cut_windows(altered, front, windowing).windows[-1], track.windows[-1])
    # The padding is the dB of digital silence (-100 dB), floored by top_db like every frame.
    peak = float(track.windows[-1].max())
    assert torch.equal(
        track.windows[-1, ..., tail:], torch.full_like(track.windows[-1, ..., tail:], max(-100.0, peak - 80))
    )
    # The windows of the audio's first part are those of the whole track, but for frames
    # within n_fft / 2 of where that part ends (what a block-wise computation relies on).
    edge = math.ceil(SMALL.n_fft / 2 / SMALL.hop_length)
    part = cut_windows(front.frames(wave[: 100 * SMALL.hop_length]), front, windowing)  # 101 frames
    inside = [k for k, start in enumerate(part.starts.tolist()) if start + SMALL.n_frames <= 101 - edge]
    assert len(inside) >= 4
    assert torch.equal(part.windows[inside], track.windows[inside])
    np.testing.assert_allclose(track.weights[-1].item(), tail / SMALL.n_frames)


def test_average_probabilities_and_logits() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [1.0, 0.0]])
    weights = torch.tensor([1.0, 1.0, 0.5, 1.0])
    probs = average_tracks(logits, weights, [3, 1], "probabilities")
    p = torch.softmax(logits, 1)
    expected = (p[0] + p[1] + 0.5 * p[2]) / 2.5
    torch.testing.assert_close(probs[0], expected)
    torch.testing.assert_close(probs[1], p[3])
    mean_logit = (logits[0] + logits[1] + 0.5 * logits[2]) / 2.5
    torch.testing.assert_close(average_tracks(logits, weights, [3, 1], "logits")[0], torch.softmax(mean_logit, 0))


# -- evaluation equals serving ----------------------------------------------------------------


def _serve(ckpt: Path, files: list[Path], **kwargs: object) -> np.ndarray:
    classifier = GenreClassifier.from_checkpoint(ckpt, **kwargs)  # type: ignore[arg-type]
    results = classifier.predict_many(files, top_k=1, files_per_batch=3, progress=False)
    rows = []
    for r in results:
        assert isinstance(r, Prediction)
        rows.append([r.probabilities[c] for c in classifier.classes])
    return np.array(rows)


@pytest.mark.parametrize(
    ("recipe", "duration", "windows"),
    [(IMPROVED, 7.0, "all"), (REFERENCE, 4.0, "first")],
    ids=["improved", "reference-first-window"],
)
def test_evaluated_probabilities_equal_predict_many(
    tmp_path: Path, recipe: object, duration: float, windows: str
) -> None:
    root = make_synthetic_gtzan(tmp_path / "data", clips_per_genre=6, genres=FOUR, duration=duration, seed=5)
    out = tmp_path / "run"
    result = run_experiment(root, out, recipe=recipe, scheme="random", seed=1, max_epochs=2, plots=False)  # type: ignore[arg-type]
    ckpt = out / "model.ckpt"
    loaded = load_checkpoint(ckpt)
    assert loaded.windowing.mode == windows
    parts = loaded.parts
    assert parts is not None
    assert set(parts) == {"train", "validation", "test"}
    evaluation = evaluate_checkpoint(ckpt, root)
    assert evaluation.split == "stored"
    assert evaluation.metrics.accuracy == pytest.approx(result.metrics.accuracy)  # what training reported
    files = sorted(root.rglob("*.wav"))
    by_id = {p.name.rsplit(".", 1)[0]: p for p in files}
    test_files = [by_id[i] for i in parts["test"].ids]
    served = _serve(ckpt, test_files)  # the windows the checkpoint records, by default
    np.testing.assert_allclose(served, evaluation.predictions.probabilities, atol=1e-5, rtol=0)
    if windows == "first":  # the whole track is another thing: an explicit choice
        assert GenreClassifier.from_checkpoint(ckpt, windows="all").windowing.mode == "all"


# -- checkpoints remember their data ----------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_synthetic_gtzan(tmp_path_factory.mktemp("data"), clips_per_genre=6, genres=FOUR, duration=1.0, seed=3)
    out = tmp_path_factory.mktemp("run")
    run_experiment(root, out, recipe="reference", scheme="random", seed=0, max_epochs=1, plots=False)
    return root, out / "model.ckpt"


def _copy(root: Path, dest: Path) -> Path:
    for path in root.rglob("*.wav"):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return dest


def test_a_clip_removed_after_training_does_not_shift_the_test_set(trained: tuple[Path, Path], tmp_path: Path) -> None:
    root, ckpt = trained
    parts = load_checkpoint(ckpt).parts
    assert parts is not None
    before = evaluate_checkpoint(ckpt, root)
    assert before.evaluated == before.expected == len(parts["test"])
    # 49 of 50: one training clip is gone (deleted, or unreadable and skipped).
    copy = _copy(root, tmp_path / "copy")
    gone = parts["train"].ids[0]
    next(copy.rglob(f"{gone}.wav")).unlink()
    after = evaluate_checkpoint(ckpt, copy)
    np.testing.assert_array_equal(after.predictions.targets, before.predictions.targets)
    np.testing.assert_allclose(after.predictions.probabilities, before.predictions.probabilities, atol=1e-6)
    # Re-splitting (what 0.1.0 did) gives another test part: training tracks leak into it.
    resplit = evaluate_checkpoint(ckpt, copy, scheme="random", seed=0)
    assert resplit.split == "re-split"
    assert resplit.evaluated != before.evaluated or not np.array_equal(
        resplit.predictions.probabilities, before.predictions.probabilities
    )


def test_missing_or_changed_test_tracks_are_refused_or_left_out_when_allowed(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    root, ckpt = trained
    parts = load_checkpoint(ckpt).parts
    assert parts is not None
    copy = _copy(root, tmp_path / "copy")
    removed, changed = parts["test"].ids[0], parts["test"].ids[1]
    next(copy.rglob(f"{removed}.wav")).unlink()
    other = next(copy.rglob(f"{changed}.wav"))
    sf.write(other, synthesize_clip("metal", duration=1.0, sample_rate=22050, seed=99), 22050)  # new content
    with pytest.raises(SplitMismatchError, match=r"2 of the \d+ test tracks") as info:
        evaluate_checkpoint(ckpt, copy)
    assert info.value.missing == (removed,)
    assert info.value.changed == (changed,)
    assert removed in str(info.value)
    assert changed in str(info.value)
    subset = evaluate_checkpoint(ckpt, copy, allow_missing=True, out=tmp_path / "eval")
    assert subset.evaluated == len(parts["test"]) - 2
    assert not subset.complete
    assert (subset.missing, subset.changed) == ((removed,), (changed,))
    written = (tmp_path / "eval" / "metrics.json").read_text()
    assert '"tracks_evaluated"' in written
    assert removed in written


@pytest.mark.filterwarnings("default:GTZANDataset skipped:UserWarning")
def test_cli_evaluate_refuses_then_scores_the_subset(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, ckpt = trained
    parts = load_checkpoint(ckpt).parts
    assert parts is not None
    copy = _copy(root, tmp_path / "copy")
    next(copy.rglob(f"{parts['test'].ids[0]}.wav")).write_bytes(b"RIFF corrupt")  # unreadable now
    args = ["evaluate", "-c", str(ckpt), "--root", str(copy), "--out", str(tmp_path / "e")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "warning: GTZANDataset skipped 1 of" in err  # the CLI prints the skip report
    assert "1 missing or unreadable" in err
    assert "--allow-missing" in err
    assert main([*args, "--allow-missing"]) == 0
    text = capsys.readouterr().out
    assert f"{len(parts['test']) - 1} of {len(parts['test'])} tracks" in text
    assert "note: only the tracks that match were scored" in text


def test_a_checkpoint_without_parts_needs_an_explicit_split(trained: tuple[Path, Path], tmp_path: Path) -> None:
    root, ckpt = trained
    loaded = load_checkpoint(ckpt)
    old = save_checkpoint(
        tmp_path / "old.ckpt",
        loaded.model,
        classes=loaded.classes,
        features=loaded.features,
        extra={k: v for k, v in loaded.extra.items() if k not in ("parts", "windowing")} | {"eval_hop": None},
    )
    with pytest.raises(CheckpointError, match=r"old\.ckpt: this checkpoint stores no split.*--scheme"):
        evaluate_checkpoint(old, root)
    result = evaluate_checkpoint(old, root, scheme="random", seed=0)
    assert result.split == "re-split"
    assert result.windowing.mode == "first"  # eval_hop None: the reference's first window


def test_checkpoint_stores_plain_parts_and_windowing(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    payload = torch.load(ckpt, weights_only=True)  # plain values only
    stored = payload["extra"]["parts"]["test"]
    assert set(stored) == {"ids", "hashes", "labels"}
    assert all(isinstance(x, str) for x in stored["ids"] + stored["hashes"] + stored["labels"])
    assert payload["extra"]["windowing"] == {"mode": "first", "hop_frames": None, "average": "probabilities"}


def test_from_checkpoint_serves_the_stored_windowing(tmp_path: Path) -> None:
    model = GenreCNN(n_classes=2, n_mels=SMALL.n_mels, n_frames=SMALL.n_frames, channels=(4,), embedding_dim=8, seed=0)
    path = save_checkpoint(
        tmp_path / "m.ckpt", model, classes=["a", "b"], features=SMALL, windowing=Windowing("first", average="logits")
    )
    wave = _wave(3.0, SMALL.sample_rate)
    first = GenreClassifier.from_checkpoint(path)
    assert first.windowing == Windowing("first", average="logits")
    assert first.predict(wave).segments == 1
    whole = GenreClassifier.from_checkpoint(path, windows="all")
    assert whole.windowing == Windowing("all", None, "logits")
    assert whole.predict(wave).segments == 1 + math.ceil((1 + len(wave) // 128 - SMALL.n_frames) / SMALL.n_frames)
    assert GenreClassifier.from_checkpoint(path, overlap=0.5).windowing == Windowing("all", 16, "logits")


def test_a_drop_tail_scores_whole_windows_only_and_checkpoints_keep_it(tmp_path: Path) -> None:
    n = SMALL.n_frames
    pad, drop = Windowing(), Windowing(tail="drop")
    for total in (1, n - 1, n, n + 1, 3 * n - 1, 3 * n, 3 * n + 5):
        starts, weights = window_layout(total, n, drop)
        assert len(starts) == max(1, total // n)  # whole windows; a short track is one padded window
        assert len(window_layout(total, n, pad)[0]) == max(1, math.ceil(total / n))
        assert bool((weights == 1).all()) or (total < n and len(weights) == 1)
    frames = torch.randn(1, SMALL.n_mels, 3 * n + 5)
    front = LogMelFrontEnd(SMALL)
    cut = cut_windows(frames, front, drop)
    assert cut.windows.shape[0] == 3
    assert torch.equal(cut.windows, cut_windows(frames, front, pad).windows[:3])
    assert pad.to_dict() == {"mode": "all", "hop_frames": None, "average": "probabilities"}  # as 0.2 wrote it
    assert Windowing.from_dict(drop.to_dict()) == drop
    with pytest.raises(ConfigurationError, match="tail"):
        Windowing(tail="repeat")  # type: ignore[arg-type]
    model = GenreCNN(n_classes=2, n_mels=SMALL.n_mels, n_frames=n, channels=(4,), embedding_dim=8, seed=0)
    path = save_checkpoint(tmp_path / "m.ckpt", model, classes=["a", "b"], features=SMALL, windowing=drop)
    served = GenreClassifier.from_checkpoint(path)
    assert served.windowing == drop
    wave = _wave(3.0, SMALL.sample_rate)
    assert served.predict(wave).segments == (1 + len(wave) // SMALL.hop_length) // n
    assert GenreClassifier.from_checkpoint(path, overlap=0.5).windowing.tail == "drop"


def test_the_pretrained_recipe_predicts_on_the_windows_the_tagger_tags() -> None:
    """One backbone pass per musicnn patch: a genre prediction costs what tagging the track does."""
    from musicgenre.models import MusicnnClassifier
    from musicgenre.predict import Tagger
    from musicgenre.recipes import PRETRAINED_MUSICNN

    model = MusicnnClassifier.from_pretrained("MSD_musicnn", 3, seed=0)
    classifier = GenreClassifier(
        model, ["a", "b", "c"], PRETRAINED_MUSICNN.features, windowing=PRETRAINED_MUSICNN.windowing
    )
    tagger = Tagger.from_pretrained("MSD_musicnn")
    for seconds in (30.013, 7.5, 2.0):
        wave = _wave(seconds, 22050)
        prediction = classifier.predict(wave, sample_rate=22050, timeline=True)
        tags = tagger.tag(wave, sample_rate=22050, timeline=True)
        assert prediction.segments == tags.patches
        assert [s.start for s in prediction.timeline or []] == [s.start for s in tags.timeline or []]
