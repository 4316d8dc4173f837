"""TorchScript and ONNX exports: same outputs as the eager model, any batch size, metadata kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from musicgenre.audio import FeatureConfig
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.export import METADATA_KEY, export_onnx, export_torchscript
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN

# PyTorch 2.9+ deprecates TorchScript (FutureWarning on trace/save/load) and the
# TorchScript-based ONNX exporter (DeprecationWarnings); the export still works and is
# what this module tests, so exactly those warnings are ignored here.
pytestmark = [
    pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]

FEATURES = FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=16, n_fft=256, hop_length=128)


def _models() -> dict[str, GenreCNN]:
    small: dict[str, Any] = {"n_classes": 10, "n_mels": 16, "n_frames": FEATURES.n_frames, "embedding_dim": 16}
    return {
        "plain": GenreCNN(seed=1, channels=(4, 8), **small),
        "batch-norm": GenreCNN(seed=2, channels=(4, 8), batch_norm=True, input_norm=True, **small),
        "global-pool": GenreCNN(seed=3, channels=(4, 8, 8), global_pool=True, **small),
    }


def _trained_statistics(model: GenreCNN) -> GenreCNN:
    # Move BatchNorm running statistics off their initial values, then freeze.
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 1, model.config.n_mels, model.config.n_frames) * 20 - 40)
    return model.eval()


def _inputs(model: GenreCNN, batch: int, frames: int | None = None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(batch)
    cfg = model.config
    return torch.randn(batch, 1, cfg.n_mels, frames or cfg.n_frames, generator=gen) * 20 - 40


@pytest.mark.parametrize("name", ["plain", "batch-norm", "global-pool"])
def test_torchscript_matches_eager(tmp_path: Path, name: str) -> None:
    model = _trained_statistics(_models()[name])
    path = export_torchscript(model, tmp_path / "model.pt", classes=GENRES, features=FEATURES)
    extra = {f"{METADATA_KEY}.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)  # type: ignore[no-untyped-call]
    for batch in (1, 7):  # traced with 2: the batch dimension is dynamic
        x = _inputs(model, batch)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), atol=1e-5, rtol=0)
    # batch-norm after a convolution is folded into it; the input's BatchNorm2d(1) stays
    kept = str(loaded.inlined_graph).count("aten::batch_norm")
    assert kept == (1 if model.config.input_norm else 0)
    metadata = json.loads(extra[f"{METADATA_KEY}.json"])
    assert metadata["classes"] == list(GENRES)
    assert FeatureConfig.from_dict(metadata["features"]) == FEATURES
    assert metadata["model_config"] == model.get_config()


@pytest.mark.parametrize("name", ["plain", "batch-norm", "global-pool"])
def test_onnx_matches_eager(tmp_path: Path, name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = _trained_statistics(_models()[name])
    path = export_onnx(model, tmp_path / "model.onnx", classes=GENRES, features=FEATURES)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()
    assert input_meta.shape[0] == "batch"
    shapes: list[tuple[int, int | None]] = [(1, None), (7, None)]
    if model.config.global_pool:
        shapes.append((3, 50))  # and the number of frames is dynamic too
    for batch, frames in shapes:
        x = _inputs(model, batch, frames)
        (logits,) = session.run(None, {input_meta.name: x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(logits, model(x).numpy(), atol=1e-5, rtol=0)
    onnx = pytest.importorskip("onnx")
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("BatchNormalization") == (1 if model.config.input_norm else 0)  # only the input's is left
    metadata = json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert metadata["classes"] == list(GENRES)
    assert metadata["model_class"] == "GenreCNN"


def test_export_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    model = _models()["plain"].train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_torchscript(model, tmp_path / "model.pt")
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_export_checks_its_arguments(tmp_path: Path) -> None:
    model = _models()["plain"]
    with pytest.raises(ConfigurationError, match="3 class names"):
        export_torchscript(model, tmp_path / "model.pt", classes=GENRES[:3])
    with pytest.raises(ConfigurationError, match="GenreCNN"):
        export_torchscript(torch.nn.Linear(2, 2), tmp_path / "model.pt")  # type: ignore[arg-type]


def test_onnx_without_the_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'musicgenre\[onnx\]'") as info:
        export_onnx(_models()["plain"], tmp_path / "model.onnx")
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "model.onnx").exists()
