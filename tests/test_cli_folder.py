"""``musicgenre train`` on your own labelled folders: small, unbalanced, nested, mixed formats, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.cli import main
from musicgenre.data.layout import detect_layout
from musicgenre.synthetic import make_synthetic_gtzan, synthesize_clip

# Each label's sound: a synthetic genre.
SOUNDS = {"calm": "classical", "loud": "metal", "folk": "country", "swing": "jazz"}


def write(path: Path, genre: str, *, seed: int, duration: float = 1.0, rate: int = 22050, stereo: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = synthesize_clip(genre, duration=duration, sample_rate=rate, seed=seed)
    sf.write(str(path), np.stack([audio, audio], axis=1) if stereo else audio, rate)
    return path


def folder(root: Path, counts: dict[str, int], *, duration: float = 1.0, nested: bool = False) -> Path:
    """``root/<label>/...``: *counts* clips per label, every third two folders deeper if *nested*."""
    for label, count in counts.items():
        for i in range(count):
            sub = "live/2019/" if nested and i % 3 == 0 else ""
            write(root / label / f"{sub}take {i}.wav", SOUNDS[label], seed=100 * len(label) + i, duration=duration)
    return root


def test_a_label_of_one_file_is_one_clear_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = folder(tmp_path / "music", {"calm": 12, "loud": 3, "folk": 1})
    code = main(["train", "--root", str(root), "--out", str(tmp_path / "run"), "--recipe", "reference"])
    captured = capsys.readouterr()
    assert code == 2
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("error: label 'folk' has 1 file; each label needs at least 2")
    assert "Traceback" not in captured.err + captured.out
    assert "found 16 files in 3 labels (folder layout; reference recipe): calm 12, folk 1, loud 3" in captured.out
    assert not (tmp_path / "run" / "model.ckpt").exists()


def test_small_unbalanced_folder_is_cross_validated_and_predicts_its_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = folder(tmp_path / "music", {"calm": 12, "loud": 3, "folk": 2})
    out = tmp_path / "run"
    assert main(["train", "--root", str(root), "--out", str(out), "--no-plots"]) == 0  # the pretrained default
    text = capsys.readouterr().out
    assert "found 17 files in 3 labels (folder layout; pretrained recipe): calm 12, folk 2, loud 3" in text
    assert "evaluation: only 17 tracks" in text
    assert "5-fold stratified cross-validation" in text
    assert "5-fold cross-validation, seed 42: accuracy" in text
    assert "mean ± standard deviation over the 5 folds" in text
    assert "recall per label: calm " in text
    assert "folk " in text
    assert "loud " in text
    report = (out / "report.txt").read_text()
    assert report.startswith("evaluated by 5-fold stratified cross-validation: each of the 17 tracks tested once")
    assert "recall" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scheme"] == "cv"
    assert metrics["folds"] == 5
    assert len(metrics["fold_accuracy"]) == 5
    assert sum(c["support"] for c in metrics["per_class"].values()) == 17  # every track tested once
    assert set(metrics["per_class"]) == {"calm", "folk", "loud"}

    assert main(["info", str(out / "model.ckpt"), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["classes"] == ["calm", "folk", "loud"]
    assert info["extra"]["scheme"] == "cv"
    assert info["extra"]["folds"] == 5
    assert info["metrics"]["evaluated_on"] == "5-fold cross-validation"
    assert "accuracy_fold_std" in info["metrics"]

    # No track was held out from the final model: `evaluate` says so in one line.
    assert main(["evaluate", "--root", str(root), "--checkpoint", str(out / "model.ckpt")]) == 1
    assert "evaluated by 5-fold cross-validation and then trained on every track" in capsys.readouterr().err

    new = write(tmp_path / "new song.flac", "metal", seed=7, duration=2.0, rate=44100)
    assert main(["predict", "--checkpoint", str(out / "model.ckpt"), str(new), "--format", "json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    rows = predicted if isinstance(predicted, list) else predicted.get("results", [predicted])
    assert rows[0]["genre"] in {"calm", "folk", "loud"}


def test_nested_unbalanced_folder_says_how_it_was_evaluated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = folder(tmp_path / "music", {"calm": 30, "loud": 8, "folk": 5}, nested=True)
    out = tmp_path / "run"
    args = ["train", "--root", str(root), "--out", str(out), "--recipe", "reference", "--epochs", "2", "--no-plots"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "found 43 files in 3 labels (folder layout; reference recipe): calm 30, folk 5, loud 8" in text
    assert "5-fold cross-validation" in text
    assert "recall per label:" in text
    assert (out / "report.txt").read_text().startswith("evaluated by 5-fold stratified cross-validation")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {c: v["support"] for c, v in metrics["per_class"].items()} == {"calm": 30, "folk": 5, "loud": 8}


def test_held_out_split_when_asked_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = folder(tmp_path / "music", {"calm": 10, "loud": 10})
    out = tmp_path / "run"
    args = ["train", "--root", str(root), "--out", str(out), "--recipe", "reference", "--epochs", "1"]
    assert main([*args, "--scheme", "random", "--no-plots"]) == 0
    assert "random split" in capsys.readouterr().out
    assert (out / "report.txt").read_text().startswith("evaluated on the held-out test part of a stratified 64-16-20")


@pytest.mark.filterwarnings("always::UserWarning")
def test_mixed_formats_rates_and_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "music"
    for i in range(3):
        write(root / "calm" / f"c{i}.wav", "classical", seed=i, rate=22050)
        write(root / "calm" / f"c{i}.flac", "classical", seed=10 + i, rate=44100, stereo=True)
        write(root / "loud" / f"l{i}.ogg", "metal", seed=20 + i, rate=16000)
        write(root / "loud" / f"l{i}.wav", "metal", seed=30 + i, rate=48000, stereo=True)
    broken = root / "loud" / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    out = tmp_path / "run"
    args = ["train", "--root", str(root), "--out", str(out), "--recipe", "reference", "--epochs", "1", "--no-plots"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "found 12 files in 2 labels (folder layout; reference recipe): calm 6, loud 6" in captured.out
    assert "skipped 1 files:" in captured.out
    assert f"  {broken}: " in captured.out
    assert "Traceback" not in captured.err
    assert (out / "model.ckpt").is_file()


def test_layout_detection_and_override(tmp_path: Path) -> None:
    gtzan = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=1, duration=0.5)
    assert detect_layout(gtzan) == "gtzan"
    # GTZAN's file names under labels of your own are a folder of labels.
    mine = tmp_path / "mine"
    for label, source in (("calm", "classical.00000.wav"), ("heavy", "metal.00000.wav")):
        (mine / label).mkdir(parents=True)
        (mine / label / source).write_bytes(next(gtzan.rglob(source)).read_bytes())
    assert detect_layout(mine) == "folder"
    assert detect_layout(folder(tmp_path / "plain", {"calm": 1})) == "folder"


def test_gtzan_folder_trains_with_the_reference_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=3, duration=1.0)
    out = tmp_path / "run"
    args = ["train", "--root", str(root), "--out", str(out), "--epochs", "1", "--folds", "3", "--no-plots"]
    assert main([*args, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "found 30 files in 10 genres (gtzan layout; reference recipe)" in captured.err  # JSON alone on stdout
    result = json.loads(captured.out)
    assert result["recipe"] == "reference"
    assert result["scheme"] == "cv"
    assert result["folds"] == 3
    assert len(result["fold_accuracy"]) == 3
    assert result["evaluated_on"] == "cross-validation"
