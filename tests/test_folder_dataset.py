"""AudioFolderDataset: labels from folders, nested files, sorted classes, skip reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.audio import ClipFeatures, FeatureConfig
from musicgenre.data import AudioFolderDataset
from musicgenre.data.cache import extract_features
from musicgenre.errors import DatasetError


def _write(path: Path, seconds: float = 0.2, sample_rate: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sample_rate)
    return path


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    _write(root / "loud" / "b.wav")
    _write(root / "loud" / "a.wav")
    _write(root / "calm" / "live" / "2019" / "intro.wav", sample_rate=44100)
    _write(root / "calm" / "evening.wav")
    _write(root / "groovy" / "x.wav")
    (root / "calm" / "cover.jpg").write_bytes(b"not audio, ignored")
    return root


def test_labels_come_from_the_top_folder_and_classes_are_sorted(labelled: Path) -> None:
    ds = AudioFolderDataset(labelled)

    assert ds.classes == ("calm", "groovy", "loud")
    assert [ds.classes[t] for t in ds.targets] == ["calm", "calm", "groovy", "loud", "loud"]
    names = [f.relative_to(labelled).as_posix() for f in ds.files]
    assert names == ["calm/evening.wav", "calm/live/2019/intro.wav", "groovy/x.wav", "loud/a.wav", "loud/b.wav"]
    assert ds.skipped == []
    assert ds.summary()["per_class"] == {"calm": 2, "groovy": 1, "loud": 2}


def test_items_are_resampled_and_transformed(labelled: Path) -> None:
    ds = AudioFolderDataset(labelled, transform=ClipFeatures(FeatureConfig(clip_ms=500)))
    wave = ds.load(1)  # the 44.1 kHz file
    x, y = ds[1]

    assert wave.shape == (1, 4410)  # 0.2 s at 22050 Hz
    assert x.shape[:2] == (1, 64)
    assert y == 0


def test_given_classes_set_the_order_and_leave_other_folders_out(labelled: Path) -> None:
    ds = AudioFolderDataset(labelled, classes=("loud", "calm"))

    assert ds.classes == ("loud", "calm")
    assert ds.targets == [0, 0, 1, 1]
    assert ds.skipped == []


def test_corrupt_files_and_files_outside_label_folders_are_reported(labelled: Path) -> None:
    (labelled / "loud" / "broken.wav").write_bytes(b"RIFF....garbage")
    _write(labelled / "stray.wav")
    (labelled / "calm" / "song.m4a").write_bytes(b"\0" * 16)

    with pytest.warns(UserWarning, match=r"AudioFolderDataset skipped 3 of 8 files"):
        ds = AudioFolderDataset(labelled)

    reasons = {s.path.name: s.reason for s in ds.skipped}
    assert set(reasons) == {"broken.wav", "stray.wav", "song.m4a"}
    assert "label folder" in reasons["stray.wav"]
    assert "unsupported format" in reasons["song.m4a"]
    assert len(ds) == 5
    assert {s["path"] for s in ds.summary()["skipped"]} == {str(s.path) for s in ds.skipped}


def test_extract_features_takes_a_folder_dataset(labelled: Path) -> None:
    data = extract_features(AudioFolderDataset(labelled), FeatureConfig(clip_ms=500), progress=False)

    assert len(data) == 5
    assert data.classes == ("calm", "groovy", "loud")
    assert data[0][0].shape[:2] == (1, 64)


def test_empty_or_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no usable audio file"):
        AudioFolderDataset(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        AudioFolderDataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="distinct"):
        AudioFolderDataset(tmp_path, classes=("a", "a"))


def test_track_ids_of_a_users_folder_are_unique_relative_paths() -> None:
    import torch

    from musicgenre.data.features import FeatureSet

    files = [Path("/music/calm/take 1.wav"), Path("/music/loud/take 1.wav"), Path("/music/loud/live/track-0.flac")]
    data = FeatureSet.from_spectrograms([torch.zeros(1, 4, 4)] * 3, [0, 1, 1], files, ("calm", "loud"))
    # The same file name under two labels, and a name that looks like GTZAN's "<genre><number>".
    assert data.track_ids == ["calm/take 1.wav", "loud/take 1.wav", "loud/live/track-0.flac"]
    gtzan = [Path("/g/genres/blues/blues.00000.au"), Path("/g/genres/jazz/jazz.00054.au")]
    assert FeatureSet.from_spectrograms([torch.zeros(1, 4, 4)] * 2, [0, 1], gtzan, ("blues", "jazz")).track_ids == [
        "blues.00000",
        "jazz.00054",
    ]
