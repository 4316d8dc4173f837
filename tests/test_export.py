"""TorchScript and ONNX exports: same outputs as the eager model, any batch size, metadata kept."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from musicgenre.audio import FeatureConfig
from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.export import METADATA_KEY, export_onnx, export_torchscript
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN, GenreModel, MusicnnClassifier, MusicnnClassifierConfig, SpectrogramImageCNN

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
    with pytest.raises(ConfigurationError, match="GenreModel"):
        export_torchscript(torch.nn.Linear(2, 2), tmp_path / "model.pt")  # type: ignore[arg-type]


def test_onnx_without_the_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'musicgenre\[onnx\]'") as info:
        export_onnx(_models()["plain"], tmp_path / "model.onnx")
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "model.onnx").exists()


# -- the metadata describes the model's real input (issue 22, defect 3) ------------------------


def _read_torchscript(path: Path) -> tuple[Any, dict[str, Any]]:
    extra = {f"{METADATA_KEY}.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)  # type: ignore[no-untyped-call]
    return loaded, json.loads(extra[f"{METADATA_KEY}.json"])


def _read_onnx(path: Path) -> tuple[Any, dict[str, Any]]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (input_meta,) = session.get_inputs()

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {input_meta.name: x.numpy()})[0])

    metadata = json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert input_meta.name == metadata["input"]["name"]  # the graph's input is named as the metadata says
    return run, metadata


EXPORTS: dict[str, tuple[Callable[..., Path], Callable[[Path], tuple[Any, dict[str, Any]]]]] = {
    "torchscript": (export_torchscript, _read_torchscript),
    "onnx": (export_onnx, _read_onnx),
}
#: What the pretrained recipe's checkpoints store as their features: 16 kHz, 96 bands, hop 256.
MUSICNN_FEATURES = FeatureConfig(sample_rate=16000, clip_ms=3000, n_mels=96, n_fft=512, hop_length=256)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_pretrained_recipe_export_describes_musicnn_frames(tmp_path: Path, kind: str) -> None:
    export, read = EXPORTS[kind]
    model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=3), seed=0).eval()
    path = export(model, tmp_path / f"model.{kind}", classes=["a", "b", "c"], features=MUSICNN_FEATURES)
    run, metadata = read(path)
    spec = metadata["input"]
    assert spec["name"] == "musicnn_frames"  # not "log_mel": the model does not read dB log-mel
    assert spec["shape"] == ["batch", 1, 96, "frames"]
    assert spec["frames"] == 187
    front = spec["front_end"]
    assert front["kind"] == "musicnn_log_mel"
    assert front["formula"] == "log10(10000 * mel_power + 1)"
    assert metadata["features"] is None  # the dB FeatureConfig does not compute this input
    # A deployment that builds the input from the metadata alone gets the model's own numbers.
    settings = {k: front[k] for k in ("sample_rate", "n_fft", "hop_length", "n_mels", "pad_mode", "float16")}
    rebuilt = MusicnnFrontEnd(**settings)
    wave = torch.randn(front["sample_rate"] * 3, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        ours = model.front_end().frames(wave)[..., : spec["frames"]].unsqueeze(0)
        theirs = rebuilt(wave).T[None, None, :, : spec["frames"]]
        assert torch.equal(theirs, ours)
        torch.testing.assert_close(run(theirs), model(ours), atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_log_mel_export_describes_its_feature_config(tmp_path: Path, kind: str) -> None:
    export, read = EXPORTS[kind]
    model = _models()["plain"].eval()
    _, metadata = read(export(model, tmp_path / f"model.{kind}", classes=GENRES, features=FEATURES))
    spec = metadata["input"]
    assert spec["name"] == "log_mel"
    assert spec["shape"] == ["batch", 1, 16, FEATURES.n_frames]
    assert spec["front_end"]["kind"] == "log_mel_db"
    for key in ("sample_rate", "n_fft", "hop_length", "n_mels", "top_db"):
        assert spec["front_end"][key] == getattr(FEATURES, key)
    assert FeatureConfig.from_dict(metadata["features"]) == FEATURES
    _, unknown = read(export(model, tmp_path / f"bare.{kind}"))
    assert unknown["input"]["front_end"] is None  # no FeatureConfig given: the model cannot tell
    assert unknown["features"] is None


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_an_image_model_exports_with_its_three_channels(tmp_path: Path, kind: str) -> None:
    export, read = EXPORTS[kind]
    model = SpectrogramImageCNN(seed=0, n_mels=16, n_frames=16, channels=(4, 8), embedding_dim=8, n_classes=3).eval()
    run, metadata = read(export(model, tmp_path / f"model.{kind}", classes=["a", "b", "c"], features=FEATURES))
    assert metadata["input"]["name"] == "image"
    assert metadata["input"]["shape"] == ["batch", 3, 16, 16]
    assert metadata["features"] is None
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(run(x), model(x), atol=1e-5, rtol=0)


class Downstream(GenreModel):
    """A genre model defined outside the library, with its own front end: export asks it, not a class list."""

    def __init__(self) -> None:
        super().__init__()
        self.config = GenreCNN(n_mels=8, n_frames=16, channels=(2,), global_pool=True).config
        self.linear = torch.nn.Linear(8, 2)

    @property
    def num_classes(self) -> int:
        return 2

    @property
    def num_features(self) -> int:
        return 8

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 3))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return features if pre_logits else self.linear(features)

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any], *, seed: int | None = None) -> Downstream:
        return cls()

    def input_spec(self, features: FeatureConfig | None = None) -> Any:
        from dataclasses import replace

        return replace(super().input_spec(features), name="cqt", front_end={"kind": "cqt", "bins": 8})


def test_export_takes_the_input_a_downstream_model_describes(tmp_path: Path) -> None:
    model = Downstream().eval()
    run, metadata = _read_onnx(export_onnx(model, tmp_path / "model.onnx", classes=["x", "y"]))
    assert metadata["input"] == {
        "name": "cqt",
        "shape": ["batch", 1, 8, "frames"],
        "frames": 16,
        "front_end": {"kind": "cqt", "bins": 8},
    }
    x = torch.randn(3, 1, 8, 40)
    with torch.no_grad():
        torch.testing.assert_close(run(x), model(x), atol=1e-6, rtol=0)


# -- where the file goes (issue 22, defects 5 and 8) ------------------------------------------


def _unwritable(tmp_path: Path, where: str) -> Path:
    if where == "under-a-file":
        (tmp_path / "a-file").write_text("x")
        return tmp_path / "a-file" / "model.out"
    if where == "a-folder":
        (tmp_path / "folder").mkdir()
        return tmp_path / "folder"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder / "model.out"


@pytest.mark.parametrize("kind", sorted(EXPORTS))
@pytest.mark.parametrize("where", ["under-a-file", "a-folder", "read-only-folder"])
def test_an_unwritable_destination_is_a_clear_error(tmp_path: Path, kind: str, where: str) -> None:
    if kind == "onnx":
        pytest.importorskip("onnx")
    if where == "read-only-folder" and (sys.platform == "win32" or os.geteuid() == 0):
        pytest.skip("folder permissions do not stop this user (root or Windows)")
    export, _ = EXPORTS[kind]
    target = _unwritable(tmp_path, where)
    try:
        with pytest.raises(ConfigurationError, match="cannot write the export here") as info:
            export(_models()["plain"], target)
    finally:
        if (tmp_path / "read-only").exists():
            (tmp_path / "read-only").chmod(0o700)
    assert info.value.path == target
    assert str(target) in str(info.value)
    reason = {"under-a-file": "a-file is a file, not a folder", "a-folder": "it is a folder"}.get(where, "ermission")
    assert reason in str(info.value)
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporary file left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_exports_follow_the_umask(tmp_path: Path, kind: str) -> None:
    if kind == "onnx":
        pytest.importorskip("onnx")
    export, _ = EXPORTS[kind]
    old = os.umask(0o027)
    try:
        path = export(_models()["plain"], tmp_path / f"model.{kind}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_folder_without_write_permission_is_a_clear_error(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root (CI containers) chmod does not stop writing: the refusal is simulated.
    if kind == "onnx":
        pytest.importorskip("onnx")
    export, _ = EXPORTS[kind]
    real_open = Path.open

    def refusing_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "x" in mode or "w" in mode:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    model = _models()["plain"]
    monkeypatch.setattr(Path, "open", refusing_open)
    with pytest.raises(ConfigurationError, match="Permission denied") as info:
        export(model, tmp_path / "model.out")
    assert info.value.path == tmp_path / "model.out"


def test_the_old_module_names_still_work_with_a_warning() -> None:
    import musicgenre.export as export_module

    with pytest.warns(DeprecationWarning, match="input_spec"):
        assert export_module.INPUT_NAME == "log_mel"
    with pytest.warns(DeprecationWarning, match="GenreModel"):
        assert export_module.Exportable is GenreModel
