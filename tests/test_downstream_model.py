"""A model defined outside the library goes through every stage with no change to the library.

This is what "extend the model in a downstream project" means: a class written here,
subclassing :class:`~musicgenre.models.GenreModel` and registered, is trained by a recipe,
saved in a checkpoint, served by ``musicgenre predict``, scored by ``musicgenre evaluate``
and exported by ``musicgenre export``, exactly as the library's own models are.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from musicgenre.cli import main
from musicgenre.experiment import run_experiment
from musicgenre.models import GenreModel, load_checkpoint, register_model
from musicgenre.recipes import REFERENCE
from musicgenre.recipes.cnn import CNNRecipe
from musicgenre.synthetic import make_synthetic_gtzan


@dataclass(frozen=True)
class TinyConfig:
    n_classes: int = 10
    n_mels: int = 64
    n_frames: int = 215
    width: int = 6
    global_pool: bool = True


@register_model
class TinyGenreNet(GenreModel):
    """One convolution, global average pooling and a linear head: nothing the library knows of."""

    config: TinyConfig

    def __init__(self, config: TinyConfig | None = None, *, seed: int | None = None) -> None:
        super().__init__()
        self.config = config or TinyConfig()
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
        self.conv = nn.Conv2d(1, self.config.width, kernel_size=5, padding=2)
        self.head = nn.Linear(self.config.width, self.config.n_classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.1)

    @property
    def num_classes(self) -> int:
        return self.config.n_classes

    @property
    def num_features(self) -> int:
        return self.config.width

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return features if pre_logits else self.head(features)

    def get_config(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def from_config(cls, config: dict[str, Any], *, seed: int | None = None) -> TinyGenreNet:
        return cls(TinyConfig(**config), seed=seed)


@dataclass(frozen=True)
class TinyRecipe(CNNRecipe):
    """The reference recipe's data, training and windows, with the downstream model."""

    def build_model(self, n_classes: int, *, seed: int | None = None) -> GenreModel:
        cfg = TinyConfig(n_classes=n_classes, n_mels=self.features.n_mels, n_frames=self.features.n_frames)
        return TinyGenreNet(cfg, seed=seed)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_synthetic_gtzan(tmp_path_factory.mktemp("gtzan"), clips_per_genre=8, duration=5.0)
    recipe = TinyRecipe(**{**vars(REFERENCE), "name": "tiny-downstream", "description": "a downstream model"})
    recipe = replace(recipe, trainer=replace(recipe.trainer, max_epochs=3, progress=False))
    out = tmp_path_factory.mktemp("run")
    result = run_experiment(root, out, recipe=recipe, seed=0, plots=False, num_workers=0)
    assert result.metrics.accuracy >= 0.0
    return root, out / "model.ckpt"


def test_the_checkpoint_rebuilds_the_downstream_model(trained: tuple[Path, Path]) -> None:
    _, checkpoint = trained
    loaded = load_checkpoint(checkpoint)
    assert type(loaded.model) is TinyGenreNet
    assert loaded.model.config == TinyConfig(n_classes=10, n_mels=64, n_frames=215)
    assert loaded.parts is not None


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning")  # inside torch.onnx
def test_predict_evaluate_and_export_take_it(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, checkpoint = trained
    tracks = sorted(root.rglob("*.wav"))[:3]
    assert main(["predict", "-c", str(checkpoint), *map(str, tracks), "--format", "json", "--workers", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 0
    assert [Path(r["path"]) for r in report["results"]] == tracks
    assert all(sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5) for r in report["results"])

    assert main(["evaluate", "-c", str(checkpoint), "--root", str(root), "--format", "json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    parts = load_checkpoint(checkpoint).parts
    assert parts is not None
    assert evaluation["tracks_evaluated"] == evaluation["tracks_expected"] == len(parts["test"])
    assert evaluation["split"] == "stored"

    pytest.importorskip("onnx")
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "--out", str(onnx_path), "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["input_shape"] == ["batch", 1, 64, "frames"]
    assert onnx_path.stat().st_size > 0
