"""The tutorials in examples/ run end to end on synthetic data with tiny settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch

from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import load_checkpoint

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_tutorial", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_classify_your_music(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _load("classify_your_music").main(
        ["--out", str(out), "--clips-per-genre", "5", "--duration", "2", "--max-epochs", "1"]
    )

    assert (out / "model.ckpt").is_file()
    predictions = result["predictions"]
    assert len(predictions) == 3  # the three synthetic tracks, none failed
    for prediction in predictions:
        assert prediction["error"] is None
        assert len(prediction["top_k"]) == 3
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert [p["duration"] for p in predictions] == pytest.approx([12.0, 3.0, 7.5], abs=1e-3)
    timeline = result["timeline"]
    assert len(timeline) == predictions[0]["segments"] == 4  # 12 s in 5-s windows every 2.5 s
    assert timeline[-1]["end"] == pytest.approx(12.0, abs=1e-3)


def test_classify_your_music_with_a_checkpoint_and_a_folder(tmp_path: Path) -> None:
    module = _load("classify_your_music")
    checkpoint = module.train_small_model(tmp_path / "model", 5, 2.0, 1)
    folder = tmp_path / "album"
    folder.mkdir()
    tracks = module.synthetic_tracks(folder)
    (folder / "broken.wav").write_bytes(b"RIFF....garbage")

    result = module.main(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "unused"), str(folder)])

    assert not (tmp_path / "unused").exists()  # a checkpoint was given: nothing trained
    by_name = {Path(p["path"]).name: p for p in result["predictions"]}
    assert set(by_name) == {"broken.wav", *(t.name for t in tracks)}
    assert by_name["broken.wav"]["error"]  # reported, and the others still went through
    assert all(by_name[t.name]["genre"] for t in tracks)


def test_extend_genrecnn(tmp_path: Path) -> None:
    module = _load("extend_genrecnn")
    out = tmp_path / "run"
    result = module.main(["--out", str(out), "--clips-per-genre", "5", "--duration", "2", "--max-epochs", "2"])

    genres = load_checkpoint(out / "genres.ckpt")
    coarse = load_checkpoint(result["checkpoint"])
    assert type(coarse.model).__name__ == "ResidualGenreCNN"  # rebuilt by its registered name
    assert isinstance(coarse.model, GenreCNN)
    assert type(coarse.model.blocks[1]).__name__ == "ResidualBlock"
    assert coarse.model.num_classes == 3
    assert coarse.classes == ["calm", "groovy", "loud"]
    before, after = genres.model.state_dict(), coarse.model.state_dict()
    backbone = [k for k in after if not k.startswith("classifier.")]
    assert backbone
    assert all(torch.equal(before[k], after[k]) for k in backbone)  # frozen during fine-tuning
    assert result["reload_max_diff"] == 0.0


def test_train_your_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _load("train_your_folder").main(
        ["--out", str(out), "--clips-per-label", "6", "--duration", "1.5", "--max-epochs", "2", "--no-plots"]
    )

    for name in ("metrics.json", "report.txt", "model.ckpt"):
        assert (out / name).is_file()
    assert sorted(p.name for p in (out / "my-music").iterdir()) == ["calm", "groovy", "loud", "swing"]
    assert result["classes"] == ["calm", "groovy", "loud", "swing"]
    assert load_checkpoint(out / "model.ckpt").classes == result["classes"]
    prediction = result["prediction"]
    assert prediction["genre"] in result["classes"]
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
