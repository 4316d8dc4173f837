"""Feature cache: cached features equal uncached ones; disk entries hit, and miss on any change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import musicgenre as mg
from musicgenre.data.cache import extract_features, feature_key
from musicgenre.synthetic import make_synthetic_gtzan


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    return make_synthetic_gtzan(tmp_path / "set", clips_per_genre=1, duration=6.0, genres=("blues", "disco", "rock"))


def test_cached_reference_features_equal_the_per_item_pipeline(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"), transform=mg.ClipFeatures())
    cached = extract_features(dataset, max_seconds=5.0, progress=False)
    assert len(cached) == len(dataset) == 3
    for i in range(len(dataset)):
        expected, target = dataset[i]
        assert cached.targets[i] == target
        # The store keeps dB without the top_db floor; the reference's evaluation window
        # (floored below its own peak) is the per-item pipeline's spectrogram, bit for bit.
        assert torch.equal(mg.recipes.REFERENCE.eval_windows(cached.spectrograms[i])[0], expected)


def test_whole_track_features_cover_the_whole_clip(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    cached = extract_features(dataset, progress=False)
    frames = 1 + 6 * 22050 // 512
    assert all(f.shape == (1, 64, frames) for f in cached.spectrograms)
    assert cached.track_ids == ["blues.00000", "disco.00000", "rock.00000"]
    assert cached.nbytes == 3 * 64 * frames * 4


def test_workers_give_the_same_features(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    one = extract_features(dataset, progress=False)
    two = extract_features(dataset, num_workers=2, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(one.spectrograms, two.spectrograms, strict=True))


def test_disk_cache_hits_and_misses(small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tmp_path / "cache"
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    first = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    # One store per feature setting: the array and its index.
    entries = sorted(cache_dir.glob("*.npy"))
    assert len(entries) == 1
    assert len(list(cache_dir.glob("*.json"))) == 1

    # A hit reads the stored array instead of decoding: make decoding impossible and check.
    import musicgenre.data.features as cache_module  # where extraction decodes

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(cache_module, "load_audio", no_decode)
    again = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(first.spectrograms, again.spectrograms, strict=True))
    monkeypatch.undo()

    # Changed settings: a new store, different features.
    other = extract_features(dataset, mg.FeatureConfig(n_mels=32), cache="disk", cache_dir=cache_dir, progress=False)
    assert other.spectrograms[0].shape[1] == 32
    assert len(list(cache_dir.glob("*.npy"))) == 2

    # Changed file content: a miss for that file only, and the new content's features.
    path = dataset.files[0]
    samples, rate = sf.read(path, dtype="float32")
    sf.write(path, np.ascontiguousarray(samples[::-1]), rate, subtype="PCM_16")
    decoded: list[Path] = []
    from musicgenre.io import load_audio as real_load

    def counting_load(path: Path, **kwargs: object) -> object:
        decoded.append(Path(path))
        return real_load(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "load_audio", counting_load)
    changed = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    monkeypatch.undo()
    assert decoded == [path]
    assert not torch.equal(changed.spectrograms[0], first.spectrograms[0])
    assert torch.equal(changed.spectrograms[1], first.spectrograms[1])
    assert len(list(cache_dir.glob("*.npy"))) == 2  # the store was rewritten, not added to
    # ...and the rewritten store serves the new content.
    monkeypatch.setattr(cache_module, "load_audio", no_decode)
    assert torch.equal(
        extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False).spectrograms[0],
        changed.spectrograms[0],
    )


def test_a_feature_set_is_one_array_and_its_items_are_views(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    data = extract_features(dataset, progress=False)
    frames = 1 + 6 * 22050 // 512
    assert tuple(data.storage.shape) == (3 * frames, 64)
    assert data.spans.tolist() == [[0, frames], [frames, 2 * frames], [2 * frames, 3 * frames]]
    for item in data.spectrograms:
        assert item.untyped_storage().data_ptr() == data.storage.untyped_storage().data_ptr()
    subset = data.with_view(None, [2, 0, 2])
    assert subset.storage is data.storage
    assert torch.equal(subset[0][0], data[2][0])
    assert subset.targets == [data.targets[2], data.targets[0], data.targets[2]]


def test_the_disk_cache_is_one_memory_mappable_file_with_an_index(small_set: Path, tmp_path: Path) -> None:
    import json

    cache_dir = tmp_path / "cache"
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    data = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    (array_path,) = cache_dir.glob("*.npy")
    (index_path,) = cache_dir.glob("*.json")
    stored = np.load(array_path, mmap_mode="r")
    np.testing.assert_array_equal(stored, data.storage.numpy())
    index = json.loads(index_path.read_text())
    assert [t["id"] for t in index["tracks"]] == data.track_ids
    assert [t["target"] for t in index["tracks"]] == data.targets
    assert [[t["start"], t["stop"]] for t in index["tracks"]] == data.spans.tolist()
    assert len({t["hash"] for t in index["tracks"]}) == 3
    assert index["feature_key"] == feature_key(mg.FeatureConfig(), None)

    mapped = extract_features(dataset, cache="disk", cache_dir=cache_dir, mmap=True, progress=False)
    maps = Path("/proc/self/maps")
    if maps.is_file():  # Linux: the storage's memory is a mapping of the stored file, not a copy
        address = mapped.storage.data_ptr()
        mapped_from = [
            line.split()[-1]
            for line in maps.read_text().splitlines()
            if int(line.split("-")[0], 16) <= address < int(line.split()[0].split("-")[1], 16)
        ]
        assert mapped_from == [str(array_path.resolve())]
    assert all(torch.equal(a, b) for a, b in zip(data.spectrograms, mapped.spectrograms, strict=True))
    with pytest.raises(mg.ConfigurationError, match="mmap"):
        extract_features(dataset, mmap=True, progress=False)


def test_an_index_that_disagrees_with_its_array_is_not_trusted(small_set: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    data = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    (array_path,) = cache_dir.glob("*.npy")
    np.save(array_path, np.zeros((5, 64), dtype=np.float32))  # as if a write had been cut short
    again = extract_features(dataset, cache="disk", cache_dir=cache_dir, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(data.spectrograms, again.spectrograms, strict=True))


def test_feature_key_depends_on_every_setting() -> None:
    base = feature_key(mg.FeatureConfig(), None)
    assert feature_key(mg.FeatureConfig(), None) == base
    assert feature_key(mg.FeatureConfig(hop_length=256), None) != base
    assert feature_key(mg.FeatureConfig(), 110000) != base


def test_disk_cache_needs_a_folder(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
    with pytest.raises(mg.ConfigurationError, match="cache_dir"):
        extract_features(dataset, cache="disk")


def test_a_clip_that_fails_to_decode_is_reported_not_lost(small_set: Path) -> None:
    dataset = mg.GTZANDataset(small_set, classes=("blues", "disco", "rock"))
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
