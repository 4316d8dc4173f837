"""The spectrogram-image path: PNG dataset, renderer, image CNN and examples/reproduce_images.py."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from PIL import Image

from musicgenre.data.images import GTZANImageDataset, load_image
from musicgenre.data.render import IMAGE_LAYOUTS, render_gtzan_images, render_spectrogram_image
from musicgenre.errors import ConfigurationError, DatasetError, MissingDependencyError
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN, SpectrogramImageCNN
from musicgenre.models.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.splits import stratified_split
from musicgenre.synthetic import make_synthetic_gtzan_images, synthesize_clip
from musicgenre.training import Trainer, TrainerConfig

THREE = ("classical", "jazz", "rock")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reproduce_images.py"
PICTURE = (slice(36, 252), slice(55, 389))  # rows, columns inside the frame of a 432 x 288 render

Main = Callable[[list[str]], dict[str, Any]]


def _png_bytes(pixels: NDArray[np.uint8], fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _write_png(path: Path, pixels: NDArray[np.uint8]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png_bytes(pixels))
    return path


def _rgba(rgb: tuple[int, int, int], alpha: int, size: tuple[int, int] = (288, 432)) -> NDArray[np.uint8]:
    pixels: NDArray[np.uint8] = np.empty((*size, 4), dtype=np.uint8)
    pixels[...] = [*rgb, alpha]
    return pixels


@pytest.fixture(scope="module")
def kaggle_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three genres x 4 synthetic renders in Kaggle's layout: ROOT/Data/images_original/<genre>/<genre>0000N.png."""
    root = tmp_path_factory.mktemp("kaggle")
    return make_synthetic_gtzan_images(root, clips_per_genre=4, duration=1.0, genres=THREE, layout="kaggle")


# -- the dataset ---------------------------------------------------------------------------


@pytest.mark.parametrize("below", ["", "Data", "Data/images_original"])
def test_finds_kaggle_layout_from_any_level(kaggle_root: Path, below: str) -> None:
    ds = GTZANImageDataset(kaggle_root / below, classes=THREE)

    assert len(ds) == 12
    assert [ds.classes[t] for t in ds.targets] == [g for g in THREE for _ in range(4)]
    assert ds.files[0].relative_to(kaggle_root).as_posix() == "Data/images_original/classical/classical00000.png"
    assert ds.skipped == []


@pytest.mark.parametrize("layout", ["folders", "flat"])
def test_finds_genre_folders_and_one_flat_folder(kaggle_root: Path, tmp_path: Path, layout: str) -> None:
    for source in sorted(kaggle_root.rglob("*.png")):
        genre = source.parent.name
        number = int(source.stem[len(genre) :])
        _write_png(tmp_path / IMAGE_LAYOUTS[layout].format(genre=genre, number=number), np.asarray(Image.open(source)))

    ds = GTZANImageDataset(tmp_path, classes=None)

    assert ds.classes == THREE
    assert ds.targets == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert ds.track_ids[4] == "jazz.00000"


def test_label_is_the_alphabetic_prefix_of_a_dotless_name(tmp_path: Path) -> None:
    _write_png(tmp_path / "jazz00012.png", _rgba((10, 20, 30), 255))
    _write_png(tmp_path / "hiphop00007.png", _rgba((10, 20, 30), 255))

    ds = GTZANImageDataset(tmp_path)

    assert [(ds.classes[t], p.name) for t, p in zip(ds.targets, ds.files, strict=True)] == [
        ("hiphop", "hiphop00007.png"),
        ("jazz", "jazz00012.png"),
    ]
    assert ds.track_ids == ["hiphop.00007", "jazz.00012"]
    assert ds.classes == GENRES  # the default label order is GTZAN's, as for the audio


def test_items_are_rgb_in_unit_range_resized_to_128(kaggle_root: Path) -> None:
    image, target = GTZANImageDataset(kaggle_root)[4]

    assert image.shape == (3, 128, 128)
    assert image.dtype == torch.float32
    assert 0.0 <= float(image.min()) < float(image.max()) <= 1.0
    assert GENRES[target] == "jazz"


def test_rgba_to_rgb_drops_alpha_without_compositing(tmp_path: Path) -> None:
    # A fully transparent pixel keeps its colour: the reference slices img[..., :3].
    path = _write_png(tmp_path / "rock00000.png", _rgba((200, 100, 50), 0))

    image = load_image(path)

    assert image.shape == (3, 128, 128)
    expected = torch.tensor([200, 100, 50], dtype=torch.float32) / 255
    torch.testing.assert_close(image[:, 64, 64], expected)
    torch.testing.assert_close(image, expected[:, None, None].expand(3, 128, 128))


def test_size_is_height_width_and_none_keeps_the_file_size(tmp_path: Path) -> None:
    path = _write_png(tmp_path / "rock00000.png", _rgba((1, 2, 3), 255))

    assert load_image(path, size=(64, 32)).shape == (3, 64, 32)
    assert load_image(path, size=None).shape == (3, 288, 432)
    with pytest.raises(ConfigurationError, match="size"):
        load_image(path, size=(0, 10))


def test_bilinear_resize_keeps_a_gradient_smooth_and_monotone(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 255, 432).round().astype(np.uint8), (288, 1))
    path = _write_png(tmp_path / "pop00000.png", np.stack([ramp, ramp, ramp, np.full_like(ramp, 255)], axis=-1))

    row = load_image(path)[0, 64]

    steps = row[1:] - row[:-1]
    assert bool((steps >= 0).all())
    assert float(steps.max()) < 0.02  # about 1/127 per column: interpolated, not blocky
    assert float(row[0]) < 0.01
    assert float(row[-1]) > 0.99


def test_grey_and_palette_pngs_become_three_channels(tmp_path: Path) -> None:
    grey = tmp_path / "blues00000.png"
    Image.fromarray(np.full((20, 30), 128, dtype=np.uint8)).save(grey)
    palette = tmp_path / "blues00001.png"
    Image.fromarray(_rgba((0, 255, 0), 255, (20, 30))[..., :3]).convert("P").save(palette, transparency=0)

    assert load_image(grey, size=None).shape == (3, 20, 30)
    torch.testing.assert_close(load_image(palette, size=None)[:, 0, 0], torch.tensor([0.0, 1.0, 0.0]))


def test_preload_matches_lazy_decoding_and_transform_applies(kaggle_root: Path) -> None:
    lazy = GTZANImageDataset(kaggle_root, classes=THREE)
    eager = GTZANImageDataset(kaggle_root, classes=THREE, preload=True, transform=lambda x: x * 2)

    for index in (0, 11):
        torch.testing.assert_close(eager[index][0], 2 * lazy[index][0])
        assert eager[index][1] == lazy[index][1]


def test_genre_subset_and_genres_found(kaggle_root: Path) -> None:
    only_jazz = GTZANImageDataset(kaggle_root, classes=("jazz",))
    found = GTZANImageDataset(kaggle_root, classes=None)

    assert len(only_jazz) == 4
    assert only_jazz.skipped == []  # other GTZAN genres are left out on purpose, not skipped
    assert found.classes == THREE
    assert found.summary()["per_genre"] == dict.fromkeys(THREE, 4)


def test_corrupt_non_png_and_misnamed_files_are_skipped_and_reported(kaggle_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "images_original"
    shutil.copytree(kaggle_root / "Data" / "images_original", root)
    good = (root / "jazz" / "jazz00000.png").read_bytes()
    (root / "jazz" / "jazz00054.png").write_bytes(good[: len(good) // 2])  # truncated
    (root / "rock" / "rock00050.png").write_bytes(_png_bytes(_rgba((9, 9, 9), 255)[..., :3], "JPEG"))
    (root / "rock" / "rock00051.png").write_text("not an image")
    (root / "rock" / "rock00052.jpg").write_bytes(_png_bytes(_rgba((9, 9, 9), 255)[..., :3], "JPEG"))
    (root / "rock" / "cover.png").write_bytes(good)
    (root / "polka00001.png").write_bytes(good)
    (root / "features_30_sec.csv").write_text("filename,label\n")  # ignored: not a picture

    with pytest.warns(UserWarning, match=r"GTZANImageDataset skipped 6 of 18 files"):
        ds = GTZANImageDataset(root)

    assert len(ds) == 12
    reasons = {s.path.name: s.reason for s in ds.skipped}
    assert set(reasons) == {
        "jazz00054.png",
        "rock00050.png",
        "rock00051.png",
        "rock00052.jpg",
        "cover.png",
        "polka00001.png",
    }
    assert "corrupt" in reasons["jazz00054.png"]
    assert "not a PNG (it holds JPEG)" in reasons["rock00050.png"]
    assert "corrupt" in reasons["rock00051.png"]
    assert "PNG only" in reasons["rock00052.jpg"]
    assert "<genre><number>.png" in reasons["cover.png"]
    assert "polka" in reasons["polka00001.png"]
    assert ds.summary()["skipped"][0]["reason"]

    with pytest.warns(UserWarning, match="skipped 6 of 18"):
        preloaded = GTZANImageDataset(root, preload=True)
    assert preloaded.files == ds.files


def test_without_validation_a_corrupt_file_fails_when_read_naming_it(tmp_path: Path) -> None:
    _write_png(tmp_path / "jazz00000.png", _rgba((1, 2, 3), 255))
    (tmp_path / "jazz00001.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")

    ds = GTZANImageDataset(tmp_path, validate=False)

    assert len(ds) == 2
    with pytest.raises(DatasetError, match=r"jazz00001\.png"):
        ds[1]


def test_missing_or_empty_root_raises_a_dataset_error_listing_the_layouts(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        GTZANImageDataset(tmp_path / "nowhere")
    (tmp_path / "blues.00000.wav").write_bytes(b"")  # audio is not looked at
    with pytest.raises(DatasetError, match=r"no usable PNG(.|\n)*images_original"):
        GTZANImageDataset(tmp_path)
    with pytest.raises(DatasetError, match="distinct"):
        GTZANImageDataset(tmp_path, classes=("jazz", "jazz"))


def test_without_pillow_a_clear_error_names_the_extra(kaggle_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)

    with pytest.raises(MissingDependencyError, match=r"pip install 'musicgenre\[images\]'") as caught:
        GTZANImageDataset(kaggle_root)
    assert isinstance(caught.value, ImportError)
    with pytest.raises(MissingDependencyError, match="Pillow"):
        render_spectrogram_image(np.zeros(22050, dtype=np.float32), 22050)


# -- the renderer --------------------------------------------------------------------------


def test_render_is_a_432_by_288_opaque_rgba_picture_framed_like_kaggles() -> None:
    image = render_spectrogram_image(synthesize_clip("disco", duration=2.0), 22050)

    pixels = np.asarray(image)
    assert (image.mode, image.size) == ("RGBA", (432, 288))
    assert bool((pixels[..., 3] == 255).all())
    assert bool((pixels[:35] == 255).all())  # white margins
    assert bool((pixels[253:] == 255).all())
    assert bool((pixels[:, :54] == 255).all())
    assert bool((pixels[:, 390:] == 255).all())
    assert pixels[35, 200, :3].tolist() == [0, 0, 0]  # the frame
    assert pixels[100, 389, :3].tolist() == [51, 51, 51]


def test_render_puts_low_tones_low_and_high_tones_high(sine: Callable[..., NDArray[np.float32]]) -> None:
    def brightest_row(freq: float) -> int:
        picture = np.asarray(render_spectrogram_image(sine(freq, seconds=2.0), 22050))[PICTURE]
        return int(picture[..., :3].astype(int).sum(-1).mean(axis=1).argmax())

    low, mid, high = brightest_row(150.0), brightest_row(1000.0), brightest_row(6000.0)

    assert low > mid > high  # rows count from the top; low frequencies are at the bottom
    assert low > 190
    assert high < 60


def test_render_of_silence_is_the_darkest_colour_and_rendering_is_deterministic() -> None:
    silent = np.asarray(render_spectrogram_image(np.zeros(22050, dtype=np.float32), 22050))[PICTURE]
    clip = synthesize_clip("metal", duration=1.0)

    assert bool((silent[..., :3] == np.array([0, 0, 4])).all())  # magma's first colour
    assert np.array_equal(
        np.asarray(render_spectrogram_image(clip, 22050)), np.asarray(render_spectrogram_image(clip, 22050))
    )
    stereo = np.stack([clip, clip])
    assert np.array_equal(
        np.asarray(render_spectrogram_image(stereo, 22050)), np.asarray(render_spectrogram_image(clip, 22050))
    )


def test_render_accepts_tiny_clips_and_rejects_bad_settings() -> None:
    assert render_spectrogram_image(np.ones(10, dtype=np.float32), 22050).size == (432, 288)
    with pytest.raises(ConfigurationError):
        render_spectrogram_image(np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(ConfigurationError):
        render_spectrogram_image(np.zeros(100, dtype=np.float32), 22050, db_range=0)


def test_colours_are_matplotlibs_magma() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from musicgenre.data.render import magma_colours

    expected = np.rint(matplotlib.colormaps["magma"](np.arange(256))[:, :3] * 255)
    assert np.array_equal(magma_colours().astype(int), expected)
    # Every pixel of a rendered spectrogram is one of those colours.
    picture = np.asarray(render_spectrogram_image(synthesize_clip("jazz", duration=2.0), 22050))[PICTURE][..., :3]
    palette = {tuple(c) for c in magma_colours().tolist()}
    assert {tuple(c) for c in picture.reshape(-1, 3).tolist()} <= palette


def test_render_gtzan_images_turns_an_audio_folder_into_kaggle_pngs(tiny_gtzan: Path, tmp_path: Path) -> None:
    out = render_gtzan_images(tiny_gtzan, tmp_path / "images", layout="kaggle", genres=("blues", "pop"))

    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert names == [
        "Data/images_original/blues/blues00000.png",
        "Data/images_original/blues/blues00001.png",
        "Data/images_original/pop/pop00000.png",
        "Data/images_original/pop/pop00001.png",
    ]
    assert GTZANImageDataset(out, classes=None).classes == ("blues", "pop")
    with pytest.raises(ConfigurationError, match="layout"):
        render_gtzan_images(tiny_gtzan, tmp_path / "x", layout="nested")
    with pytest.raises(ConfigurationError, match="layout"):
        make_synthetic_gtzan_images(tmp_path / "y", layout="nested")


# -- the model -----------------------------------------------------------------------------


def test_image_cnn_is_the_reference_model_with_8484682_parameters() -> None:
    model = SpectrogramImageCNN(seed=0)

    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert sum(p.numel() for p in model.parameters()) == 8_484_682
    assert [s for n, s in shapes.items() if n.endswith("weight") and len(s) == 4] == [
        (32, 3, 3, 3),
        (64, 32, 3, 3),
        (128, 64, 3, 3),
    ]
    assert shapes["embedding.weight"] == (256, 128 * 16 * 16)
    assert shapes["classifier.weight"] == (10, 256)
    assert isinstance(model, GenreCNN)
    assert model.image_size == (128, 128)


def test_image_cnn_shapes_and_input_checks() -> None:
    model = SpectrogramImageCNN(seed=0).eval()
    x = torch.rand(2, 3, 128, 128)

    assert model.forward_features(x).shape == (2, 128, 16, 16)
    assert model(x).shape == (2, 10)
    assert model.embed(x).shape == (2, 256)
    assert bool((model.embed(x) >= 0).all())  # post-ReLU
    with pytest.raises(ConfigurationError, match=r"\(batch, 3, 128, 128\)"):
        model(torch.rand(2, 1, 128, 128))
    with pytest.raises(ConfigurationError, match="resize"):
        model(torch.rand(2, 3, 64, 128))
    pooled = SpectrogramImageCNN(global_pool=True, seed=0)
    assert pooled(torch.rand(1, 3, 96, 160)).shape == (1, 10)


def test_image_cnn_seed_config_and_reset_classifier() -> None:
    a, b = SpectrogramImageCNN(seed=3), SpectrogramImageCNN(seed=3)
    rebuilt = SpectrogramImageCNN.from_config(a.get_config(), seed=3)

    for left, right in zip(a.state_dict().values(), rebuilt.state_dict().values(), strict=True):
        torch.testing.assert_close(left, right)
    torch.testing.assert_close(a.classifier.weight, b.classifier.weight)
    assert a.get_config()["channels"] == [32, 64, 128]
    a.reset_classifier(3, seed=0)
    assert a(torch.rand(1, 3, 128, 128)).shape == (1, 3)
    assert a.get_config()["n_classes"] == 3
    small = SpectrogramImageCNN(n_classes=3, n_mels=64, n_frames=64, seed=0)
    assert small(torch.rand(1, 3, 64, 64)).shape == (1, 3)


def test_image_cnn_checkpoint_round_trip(tmp_path: Path) -> None:
    model = SpectrogramImageCNN(n_classes=3, n_mels=32, n_frames=32, seed=0).eval()
    x = torch.rand(2, 3, 32, 32)
    path = save_checkpoint(tmp_path / "image.ckpt", model, classes=THREE, extra={"input": "spectrogram_image"})

    loaded = SpectrogramImageCNN.from_checkpoint(path)
    checkpoint = load_checkpoint(path)  # the image model is known to checkpoints by name

    assert type(loaded) is SpectrogramImageCNN
    assert type(checkpoint.model) is SpectrogramImageCNN
    assert checkpoint.classes == list(THREE)
    assert checkpoint.extra["input"] == "spectrogram_image"
    torch.testing.assert_close(loaded(x), model(x))


# -- the example ---------------------------------------------------------------------------


@pytest.fixture
def example_main() -> Iterator[Main]:
    spec = importlib.util.spec_from_file_location("reproduce_images_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield module.main
    for handler in root.handlers[:]:  # main() calls logging.basicConfig
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_example_runs_the_recipe_on_a_synthetic_image_set(
    tmp_path: Path, example_main: Main, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    small = [
        "--genres",
        "classical,jazz,rock",
        "--clips-per-genre",
        "5",
        "--duration",
        "1",
        "--epochs",
        "2",
        "--size",
        "32",
    ]

    result = example_main(["--out", str(out), *small])

    printed = capsys.readouterr().out
    assert printed.count("confusion matrix (rows: true, columns: predicted)") == 2  # one per epoch
    assert "epoch 2:" in printed
    for name in ("metrics.json", "report.txt", "loss.png", "confusion.png", "tsne.png", "model.ckpt"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "validation"
    assert metrics["split_sizes"] == [12, 3]
    assert metrics["epochs"] == 2  # fixed: no early stopping
    assert metrics["history"]["best_epoch"] is None
    assert metrics["classes"] == list(THREE)
    assert len(list((out / "synthetic-images" / "Data" / "images_original").rglob("*.png"))) == 15
    assert result["accuracy"] == pytest.approx(metrics["accuracy"])
    checkpoint = load_checkpoint(out / "model.ckpt")
    assert type(checkpoint.model) is SpectrogramImageCNN
    assert checkpoint.extra["image_size"] == [32, 32]


def test_example_reads_a_given_image_root(kaggle_root: Path, tmp_path: Path, example_main: Main) -> None:
    out = tmp_path / "run"

    example_main(
        ["--root", str(kaggle_root), "--out", str(out), "--epochs", "1", "--size", "32", "--report-every", "0"]
    )

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["classes"] == list(THREE)  # the genres found
    assert metrics["split_sizes"] == [9, 3]
    assert not (out / "synthetic-images").exists()


# -- Kaggle's real images ------------------------------------------------------------------


def _shared(name: str) -> Path:
    configured = os.environ.get("MUSICGENRE_" + name.upper().replace("-", "_"))
    root = Path(configured) if configured else SHARED / name
    if not root.is_dir():
        pytest.skip(f"{name} not found at {root}; put it there (it is in the project's ../shared/data)")
    return root


@pytest.mark.real_audio
def test_real_kaggle_pngs_load_and_train_for_one_epoch() -> None:
    root = _shared("gtzan-images-mini")

    ds = GTZANImageDataset(root, classes=None, preload=True)

    assert len(ds) == 30
    assert ds.classes == THREE
    assert ds.skipped == []
    assert [ds.targets.count(i) for i in range(3)] == [10, 10, 10]
    image, _ = ds[0]
    assert image.shape == (3, 128, 128)
    assert 0.0 <= float(image.min()) < float(image.max()) <= 1.0
    train, val = stratified_split(ds.targets, (0.8, 0.2), seed=42)
    model = SpectrogramImageCNN(n_classes=3, seed=42)
    subsets = torch.utils.data.Subset(ds, train.tolist()), torch.utils.data.Subset(ds, val.tolist())
    history = Trainer(TrainerConfig(max_epochs=1, patience=None, progress=False)).fit(model, *subsets)

    (epoch,) = history.epochs
    assert (len(train), len(val)) == (24, 6)
    assert np.isfinite(epoch.train_loss)
    assert np.isfinite(epoch.val_loss)
    assert 0.0 <= epoch.val_accuracy <= 1.0


@pytest.mark.real_audio
def test_render_matches_kaggles_image_of_the_same_clip() -> None:
    images, audio = _shared("gtzan-images-mini"), _shared("gtzan-mini")
    from musicgenre.io import load_audio

    wave, rate = load_audio(audio / "jazz" / "jazz.00000.flac", sample_rate=22050, mono=True)
    ours = np.asarray(render_spectrogram_image(wave, rate)).astype(int)
    theirs = np.asarray(Image.open(images / "jazz" / "jazz00000.png")).astype(int)

    assert ours.shape == theirs.shape == (288, 432, 4)
    assert np.array_equal(ours[:35], theirs[:35])  # margins
    assert np.mean(ours[[35, 252]] == theirs[[35, 252]]) > 0.97  # the frame's top and bottom
    assert np.mean(ours[:, [54, 389]] == theirs[:, [54, 389]]) > 0.9  # and sides (the picture bleeds into them)
    assert np.abs(ours[PICTURE] - theirs[PICTURE]).mean() < 15  # the picture, up to matplotlib's sampling
