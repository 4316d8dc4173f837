"""The real GTZAN excerpt in ../shared/data/gtzan-mini: 100 FLAC clips, 10 per genre, genre folders."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch

from musicgenre.audio import ClipFeatures
from musicgenre.data import GTZANDataset
from musicgenre.genres import GENRES
from musicgenre.io import audio_info, load_audio

pytestmark = pytest.mark.real_audio


def _mini_root() -> Path:
    configured = os.environ.get("MUSICGENRE_GTZAN_MINI")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan-mini"


@pytest.fixture(scope="module")
def mini_root() -> Path:
    root = _mini_root()
    if not root.is_dir():
        pytest.skip(
            f"real GTZAN clips not found at {root}; put gtzan-mini there or set MUSICGENRE_GTZAN_MINI to its folder"
        )
    return root


@pytest.fixture(scope="module")
def dataset(mini_root: Path) -> GTZANDataset:
    return GTZANDataset(mini_root, transform=ClipFeatures(generator=torch.Generator().manual_seed(0)))


def test_finds_all_100_flac_clips_10_per_genre(dataset: GTZANDataset, mini_root: Path) -> None:
    assert len(dataset) == 100
    assert dataset.skipped == []
    assert all(f.suffix == ".flac" for f in dataset.files)
    assert all(f.parent.parent == mini_root for f in dataset.files)  # ROOT/<genre>/<genre>.000NN.flac
    assert dataset.classes == GENRES
    assert dataset.summary()["per_genre"] == dict.fromkeys(GENRES, 10)
    for path, target in zip(dataset.files, dataset.targets, strict=True):
        assert path.parent.name == path.name.split(".")[0] == GENRES[target]
    ids = dataset.track_ids
    assert ids == sorted(ids, key=lambda t: (GENRES.index(t.split(".")[0]), int(t.split(".")[1])))
    assert ids[0] == "blues.00000"


def test_headers_agree_with_the_manifest(mini_root: Path) -> None:
    manifest = mini_root / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"no MANIFEST.tsv in {mini_root}")
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 100
    for row in rows:
        info = audio_info(mini_root / row["file"])
        assert info.format == "FLAC"
        assert info.sample_rate == int(row["sample_rate"]) == 22050
        assert info.duration == pytest.approx(float(row["seconds"]), abs=0.01)


@pytest.mark.parametrize("index", [0, 35, 99])  # blues.00000, disco.00005, rock.00009
def test_clips_decode_to_30_s_and_reference_features(dataset: GTZANDataset, index: int) -> None:
    wave, rate = load_audio(dataset.files[index], sample_rate=22050, mono=True)
    assert rate == 22050
    assert wave.shape[0] == 1
    assert wave.shape[-1] == audio_info(dataset.files[index]).frames  # already at 22050 Hz: nothing lost
    assert 29.5 <= wave.shape[-1] / rate <= 31.0  # GTZAN clips run from about 29.9 s to 30.7 s
    assert torch.isfinite(wave).all()
    assert float(wave.abs().max()) > 0.01  # music, not silence

    features, target = dataset[index]

    assert features.shape == (1, 64, 215)
    assert torch.isfinite(features).all()
    assert target == dataset.targets[index]
    assert float(features.max() - features.min()) <= 80.0 + 1e-3  # top_db=80 bounds the range
