"""Feature cache: cached features equal uncached ones; disk entries hit, and miss on any change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import musicgenre as mg
from musicgenre.data.cache import extract_features, feature_key


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    return mg.make_synthetic_gtzan(tmp_path / "set", clips_per_genre=1, duration=6.0, genres=("blues", "disco", "rock"))


def test_cached_reference_features_equal_the_per_item_pipeline(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"), transform=mg.ClipFeatures())
    cached = extract_features(dataset, max_seconds=5.0, progress=False)
    assert len(cached) == len(dataset) == 3
    for i in range(len(dataset)):
        expected, target = dataset[i]
        assert cached.targets[i] == target
        assert torch.equal(cached.features[i], expected)


def test_whole_track_features_cover_the_whole_clip(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"))
    cached = extract_features(dataset, progress=False)
    frames = 1 + 6 * 22050 // 512
    assert all(f.shape == (1, 64, frames) for f in cached.features)
    assert cached.track_ids == ["blues.00000", "disco.00000", "rock.00000"]
    assert cached.nbytes == 3 * 64 * frames * 4


def test_workers_give_the_same_features(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"))
    one = extract_features(dataset, progress=False)
    two = extract_features(dataset, num_workers=2, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(one.features, two.features, strict=True))


def test_disk_cache_hits_and_misses(small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "cache"
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"))
    first = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    entries = sorted(cache_dir.glob("*.npy"))
    assert len(entries) == 3

    # A hit reads the stored array instead of decoding: make decoding impossible and check.
    import musicgenre.data.cache as cache_module

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(cache_module, "load_audio", no_decode)
    again = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(first.features, again.features, strict=True))
    monkeypatch.undo()

    # Changed settings: new entries, different features.
    other = extract_features(dataset, mg.FeatureConfig(n_mels=32), cache="disk", cache_dir=cache_dir, progress=False)
    assert other.features[0].shape[1] == 32
    assert len(list(cache_dir.glob("*.npy"))) == 6

    # Changed file content: a miss, and the new content's features.
    path = dataset.files[0]
    samples, rate = sf.read(path, dtype="float32")
    sf.write(path, np.ascontiguousarray(samples[::-1]), rate, subtype="PCM_16")
    changed = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    assert not torch.equal(changed.features[0], first.features[0])
    assert torch.equal(changed.features[1], first.features[1])
    assert len(list(cache_dir.glob("*.npy"))) == 7


def test_feature_key_depends_on_every_setting() -> None:
    base = feature_key(mg.FeatureConfig(), None)
    assert feature_key(mg.FeatureConfig(), None) == base
    assert feature_key(mg.FeatureConfig(hop_length=256), None) != base
    assert feature_key(mg.FeatureConfig(), 110000) != base


def test_disk_cache_needs_a_folder(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"))
    with pytest.raises(mg.ConfigurationError, match="cache_dir"):
        extract_features(dataset, cache="disk")


def test_a_clip_that_fails_to_decode_is_reported_not_lost(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, genres=("blues", "disco", "rock"))
    bad = dataset.files[1]
    # The header stays valid (so the dataset keeps the file) but the samples hold NaN.
    samples = np.full((22050, 1), np.nan, dtype=np.float32)
    sf.write(bad, samples, 22050, subtype="FLOAT")
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        cached = extract_features(dataset, progress=False)
    assert len(cached) == 2
    assert [s.path for s in cached.skipped] == [bad]
    assert "NaN" in cached.skipped[0].reason
    assert bad not in cached.files
