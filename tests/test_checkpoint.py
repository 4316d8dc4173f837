"""Checkpoints: exact round trips, and a CheckpointError naming the file for every bad file."""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from musicgenre._version import __version__
from musicgenre.audio import FeatureConfig
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from musicgenre.models.registry import register_model, registered_models


class Payload:
    """A custom object in a tampered checkpoint: unpickling it would create the file *marker*."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _x(rng: np.random.Generator) -> torch.Tensor:
    return torch.from_numpy(rng.normal(-40.0, 15.0, size=(3, 1, 64, 215)).astype(np.float32))


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, GenreCNN]:
    model = GenreCNN(seed=0).eval()
    path = save_checkpoint(tmp_path / "model.ckpt", model, classes=GENRES)
    return path, model


def _assert_refused(path: Path, *words: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert info.value.path == path
    assert path.name in str(info.value)
    for word in words:
        assert word in str(info.value)
    return info.value


# -- round trips ---------------------------------------------------------------------------


def test_round_trip_gives_identical_outputs(tmp_path: Path, rng: np.random.Generator) -> None:
    model = GenreCNN(n_classes=3, channels=(4, 8, 16, 32), embedding_dim=24, batch_norm=True, seed=5)
    model.train()
    model(_x(rng))  # moves the BatchNorm running statistics away from their initial values
    model.eval()
    features = FeatureConfig(n_mels=64, hop_length=512)
    path = save_checkpoint(
        tmp_path / "nested" / "m.ckpt",
        model,
        classes=["x", "y", "z"],
        features=features,
        metrics={"accuracy": 0.75},
        extra={"note": "hello", "tensor": torch.arange(3)},
    )

    loaded = load_checkpoint(path)

    assert isinstance(loaded, Checkpoint)
    assert type(loaded.model) is GenreCNN
    assert not loaded.model.training
    assert loaded.model.get_config() == model.get_config()
    x = _x(rng)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
        assert torch.equal(loaded.model.embed(x), model.embed(x))
    assert loaded.classes == ["x", "y", "z"]
    assert loaded.features == features
    assert loaded.metrics == {"accuracy": 0.75}
    assert loaded.extra["note"] == "hello"
    assert torch.equal(loaded.extra["tensor"], torch.arange(3))
    assert [p.name for p in path.parent.iterdir()] == ["m.ckpt"]  # no temp file left behind


def test_from_checkpoint(saved: tuple[Path, GenreCNN], rng: np.random.Generator) -> None:
    path, model = saved
    loaded = GenreCNN.from_checkpoint(path)
    assert isinstance(loaded, GenreCNN)
    assert not loaded.training
    x = _x(rng)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_save_checks_the_class_count(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        save_checkpoint(tmp_path / "m.ckpt", GenreCNN(), classes=["only", "three", "names"])
    assert not (tmp_path / "m.ckpt").exists()


# -- bad files -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    _assert_refused(tmp_path / "nowhere.ckpt", "not found")


def test_truncated_file(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    _assert_refused(truncated)


def _zip_without_torch_data(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a checkpoint")


JUNK: dict[str, Callable[[Path], object]] = {
    "zeros": lambda p: p.write_bytes(bytes(4096)),
    "png": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)),
    "other-zip": _zip_without_torch_data,
}


@pytest.mark.parametrize("kind", sorted(JUNK))
def test_junk_files_are_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.ckpt"
    JUNK[kind](path)
    _assert_refused(path)


@pytest.mark.parametrize("kind", ["random-bytes", "text", "unknown-memo"])
def test_non_checkpoint_bytes_are_refused(tmp_path: Path, rng: np.random.Generator, kind: str) -> None:
    data = {
        "random-bytes": rng.bytes(4096),
        "text": b"this is a text file, not a checkpoint\n" * 10,
        "unknown-memo": b"h\x05",
    }[kind]
    path = tmp_path / f"{kind}.ckpt"
    path.write_bytes(data)
    _assert_refused(path)


def test_foreign_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": GenreCNN().state_dict(), "epoch": 3}, path)
    _assert_refused(path, "not a musicgenre checkpoint")


def test_tampered_file_with_a_pickled_object_is_refused(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    marker = tmp_path / "code-ran"
    payload = torch.load(path, weights_only=True)
    payload["extra"] = {"evil": Payload(marker)}
    tampered = tmp_path / "tampered.ckpt"
    torch.save(payload, tampered)

    _assert_refused(tampered, "refused")

    assert not marker.exists()  # the object's code never ran


def test_config_that_does_not_match_the_weights(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["embedding_dim"] = 64  # the stored weights are for 128
    edited = tmp_path / "edited.ckpt"
    torch.save(payload, edited)

    _assert_refused(edited, "does not match")


def test_unknown_config_key(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["model_config"]["attention"] = True
    edited = tmp_path / "edited.ckpt"
    torch.save(payload, edited)
    _assert_refused(edited)


def test_unknown_model_class(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["model_class"] = "TransformerOfDoom"
    edited = tmp_path / "edited.ckpt"
    torch.save(payload, edited)
    _assert_refused(edited, "TransformerOfDoom")


def test_class_names_that_do_not_match_the_outputs(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["classes"] = ["blues", "jazz"]
    edited = tmp_path / "edited.ckpt"
    torch.save(payload, edited)
    _assert_refused(edited, "class names")


def test_numpy_values_and_paths_in_metrics_still_load(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "np.ckpt",
        GenreCNN(),
        classes=GENRES,
        metrics={"accuracy": np.float64(0.5), "confusion": np.eye(2, dtype=np.int64)},
        extra={"root": tmp_path},
    )
    loaded = load_checkpoint(path)
    assert loaded.metrics["accuracy"] == 0.5
    assert isinstance(loaded.metrics["accuracy"], float)
    assert torch.equal(loaded.metrics["confusion"], torch.eye(2, dtype=torch.int64))
    assert loaded.extra["root"] == str(tmp_path)


def _edited(tmp_path: Path, saved: tuple[Path, GenreCNN], **changes: Any) -> Path:
    payload = torch.load(saved[0], weights_only=True)
    payload.update(changes)
    edited = tmp_path / "edited.ckpt"
    torch.save(payload, edited)
    return edited


@pytest.mark.parametrize("key", ["metrics", "extra", "classes"])
@pytest.mark.parametrize("value", [5, "accuracy=0.9", None], ids=["number", "text", "none"])
def test_a_tampered_entry_of_the_wrong_kind_is_refused(
    tmp_path: Path, saved: tuple[Path, GenreCNN], key: str, value: object
) -> None:
    # Issue 22, defect 8: metrics=5 ended in a TypeError traceback from dict(5).
    _assert_refused(_edited(tmp_path, saved, **{key: value}), repr(key), "tampered")


def test_a_checkpoint_from_a_newer_musicgenre_names_the_versions(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    # Issue 22, defect 8: a newer library whose config has keys this one does not know was
    # reported as "config does not match the stored weights".
    payload = torch.load(saved[0], weights_only=True)
    newer = "99.1.0"
    payload["library_version"] = newer
    payload["model_config"]["attention_heads"] = 4
    edited = tmp_path / "newer.ckpt"
    torch.save(payload, edited)
    error = _assert_refused(edited, f"musicgenre {newer}", f"this musicgenre {__version__}", "upgrade")
    assert "does not match" not in str(error)
    assert "attention_heads" in str(error)  # what this version could not read


def test_a_newer_checkpoint_format_names_the_versions(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    edited = _edited(tmp_path, saved, format_version=2, library_version="1.0.0")
    _assert_refused(edited, "musicgenre 1.0.0", f"this musicgenre {__version__}", "upgrade", "format 2")


def test_an_unknown_class_from_a_newer_musicgenre_names_the_versions(
    tmp_path: Path, saved: tuple[Path, GenreCNN]
) -> None:
    edited = _edited(tmp_path, saved, model_class="FutureModel", library_version="5.0")
    _assert_refused(edited, "FutureModel", "musicgenre 5.0", "upgrade")


def test_an_older_or_same_version_still_says_what_does_not_match(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    payload = torch.load(saved[0], weights_only=True)
    payload["library_version"] = "0.1.0"
    payload["model_config"]["embedding_dim"] = 64
    edited = tmp_path / "older.ckpt"
    torch.save(payload, edited)
    error = _assert_refused(edited, "does not match")
    assert "upgrade" not in str(error)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_checkpoints_follow_the_umask(tmp_path: Path, umask: int) -> None:
    # Issue 22, defect 5: mkstemp made every checkpoint 0600 whatever the umask.
    old = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "m.ckpt", GenreCNN(seed=0), classes=GENRES)
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what any other output gets
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask == stat.S_IMODE(plain.stat().st_mode)


def test_saving_where_no_file_can_be_written_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for target in (blocker / "m.ckpt", tmp_path):  # under a file; a folder itself
        with pytest.raises(CheckpointError, match="cannot write the checkpoint") as info:
            save_checkpoint(target, GenreCNN(seed=0), classes=GENRES)
        assert info.value.path == target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


class Unregistered(GenreCNN):
    """A subclass nobody registered: load_checkpoint could not rebuild it."""


def test_save_refuses_what_load_could_not_rebuild(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="register_model"):
        save_checkpoint(tmp_path / "m.ckpt", Unregistered(seed=0), classes=GENRES)
    with pytest.raises(ConfigurationError, match="GenreModel"):
        save_checkpoint(tmp_path / "m.ckpt", torch.nn.Linear(2, 10), classes=GENRES)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_the_registry_takes_genre_models_only() -> None:
    with pytest.raises(ConfigurationError, match="GenreModel"):
        register_model(torch.nn.Linear)  # type: ignore[type-var]
    assert "Musicnn" not in registered_models()  # the tagger is not a genre model
    assert {"GenreCNN", "MusicnnClassifier", "SpectrogramImageCNN"} <= set(registered_models())


def test_load_rebuilds_registered_genre_models_only(tmp_path: Path, saved: tuple[Path, GenreCNN]) -> None:
    # A file naming a class that exists in the library but is not a registered genre model.
    edited = _edited(tmp_path, saved, model_class="Musicnn")
    _assert_refused(edited, "unknown model class 'Musicnn'", "register_model")
