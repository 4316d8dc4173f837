"""GTZANDataset: layouts, labels, order, skip reports, errors; download_gtzan without a network."""

from __future__ import annotations

import hashlib
import inspect
import io as _io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgenre.audio import ClipFeatures
from musicgenre.data import gtzan
from musicgenre.data.gtzan import GTZANDataset, download_gtzan, parse_clip_name
from musicgenre.errors import AudioDecodeError, DatasetError
from musicgenre.genres import GENRES
from musicgenre.synthetic import LAYOUTS, make_synthetic_gtzan

THREE = ("blues", "jazz", "rock")


def _write(root: Path, layout: str = "folders", ext: str = ".wav", clips: int = 2, seconds: float = 0.5) -> Path:
    return make_synthetic_gtzan(
        root, clips_per_genre=clips, duration=seconds, genres=THREE, layout=layout, extension=ext
    )


def _corrupt(path: Path, rng: np.random.Generator) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rng.bytes(3000))
    return path


# -- layouts -------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".wav", ".au", ".flac"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_finds_clips_in_every_layout(tmp_path: Path, layout: str, ext: str) -> None:
    root = _write(tmp_path / "data", layout=layout, ext=ext)

    ds = GTZANDataset(root)

    expected = [root / LAYOUTS[layout].format(genre=g, number=n, ext=ext) for g in THREE for n in range(2)]
    assert ds.files == expected
    assert ds.classes == GENRES
    assert ds.targets == [GENRES.index(g) for g in THREE for _ in range(2)]
    assert ds.skipped == []
    assert len(ds) == 6


def test_finds_kaggle_layout_without_the_data_folder(tmp_path: Path) -> None:
    # Kaggle's archive unpacked one level down: ROOT/genres_original/<genre>/<genre>.000NN.wav
    _write(tmp_path / "gtzan" / "genres_original", layout="folders", ext=".wav")
    ds = GTZANDataset(tmp_path / "gtzan")
    assert [f.relative_to(tmp_path / "gtzan").parts[0] for f in ds.files] == ["genres_original"] * 6
    assert [ds.classes[t] for t in ds.targets] == ["blues", "blues", "jazz", "jazz", "rock", "rock"]


def test_kaggle_extras_are_ignored(tmp_path: Path) -> None:
    root = _write(tmp_path / "kaggle", layout="kaggle")
    (root / "Data" / "features_30_sec.csv").write_text("filename,label\n")
    image = root / "Data" / "images_original" / "blues" / "blues00000.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    ds = GTZANDataset(root)  # would fail on a warning if the extras were reported
    assert len(ds) == 6
    assert ds.skipped == []


def test_full_ten_genre_set_in_the_original_layout(tiny_gtzan: Path) -> None:
    ds = GTZANDataset(tiny_gtzan)
    assert len(ds) == 20
    assert ds.files[0] == tiny_gtzan / "genres" / "blues" / "blues.00000.wav"
    assert ds.targets == [i for i in range(10) for _ in range(2)]
    assert ds.summary()["per_genre"] == dict.fromkeys(GENRES, 2)


# -- labels and order ----------------------------------------------------------------------


def test_label_comes_from_the_file_name_prefix_not_the_folder(tmp_path: Path) -> None:
    _write(tmp_path / "d", layout="folders")
    misplaced = tmp_path / "d" / "blues" / "rock.00007.wav"
    sf.write(str(misplaced), np.zeros(1000, dtype=np.float32) + 0.1, 22050)
    ds = GTZANDataset(tmp_path / "d")
    assert ds.targets[ds.files.index(misplaced)] == GENRES.index("rock")


def test_order_is_sorted_by_genre_then_number(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    for name in ["rock.00002.wav", "blues.00010.wav", "rock.00001.wav", "blues.00002.wav", "jazz.00000.wav"]:
        sf.write(str(root / name), rng.uniform(-0.5, 0.5, 500).astype(np.float32), 22050)

    ds = GTZANDataset(root)

    names = [f.name for f in ds.files]
    assert names == ["blues.00002.wav", "blues.00010.wav", "jazz.00000.wav", "rock.00001.wav", "rock.00002.wav"]
    assert ds.files == GTZANDataset(root).files  # deterministic
    assert ds.track_ids == ["blues.00002", "blues.00010", "jazz.00000", "rock.00001", "rock.00002"]


def test_genre_subset_sets_classes_and_label_order(tmp_path: Path) -> None:
    root = _write(tmp_path / "d")
    ds = GTZANDataset(root, classes=("rock", "blues"))
    assert ds.classes == ("rock", "blues")
    assert [f.name for f in ds.files] == ["rock.00000.wav", "rock.00001.wav", "blues.00000.wav", "blues.00001.wav"]
    assert ds.targets == [0, 0, 1, 1]
    assert ds.skipped == []  # jazz is left out on purpose, not reported


def test_invalid_genres_argument(tmp_path: Path) -> None:
    root = _write(tmp_path / "d")
    for genres in [(), ("rock", "rock")]:
        with pytest.raises(DatasetError):
            GTZANDataset(root, classes=genres)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("jazz.00054.wav", ("jazz", 54)), ("hiphop.00099.au", ("hiphop", 99)), ("readme.txt", None)],
)
def test_parse_clip_name(name: str, expected: tuple[str, int] | None) -> None:
    assert parse_clip_name(name) == expected


# -- items ---------------------------------------------------------------------------------


def test_getitem_with_clip_features_gives_the_reference_input(tiny_gtzan: Path) -> None:
    ds = GTZANDataset(tiny_gtzan, transform=ClipFeatures(generator=torch.Generator().manual_seed(0)))
    features, target = ds[5]
    assert features.shape == (1, 64, 215)
    assert features.dtype == torch.float32
    assert target == ds.targets[5] == 2
    assert isinstance(target, int)


def test_getitem_without_transform_is_mono_at_the_dataset_rate(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "d"
    root.mkdir()
    stereo = rng.uniform(-0.5, 0.5, size=(44100, 2)).astype(np.float32)
    sf.write(str(root / "disco.00000.wav"), stereo, 44100)

    wave, target = GTZANDataset(root)[0]

    assert wave.shape == (1, 22050)
    assert target == GENRES.index("disco")
    stereo_wave, _ = GTZANDataset(root, mono=False, sample_rate=44100)[0]
    assert stereo_wave.shape == (2, 44100)


def test_summary_reports_counts_and_skips(tmp_path: Path, rng: np.random.Generator) -> None:
    root = _write(tmp_path / "d")
    bad = _corrupt(root / "jazz" / "jazz.00054.wav", rng)
    with pytest.warns(UserWarning, match="skipped 1 of 7"):
        ds = GTZANDataset(root)
    summary = ds.summary()
    assert summary["clips"] == 6
    assert summary["per_genre"]["jazz"] == 2
    assert summary["per_genre"]["pop"] == 0
    assert summary["skipped"] == [{"path": str(bad), "reason": ds.skipped[0].reason}]


# -- what is skipped, and said so --------------------------------------------------------------


def test_corrupt_file_is_skipped_reported_and_warned(tmp_path: Path, rng: np.random.Generator) -> None:
    root = _write(tmp_path / "kaggle", layout="kaggle")
    bad = _corrupt(root / "Data" / "genres_original" / "jazz" / "jazz.00054.wav", rng)

    with pytest.warns(UserWarning, match=r"jazz\.00054\.wav"):
        ds = GTZANDataset(root)

    assert bad not in ds.files
    assert len(ds) == 6
    assert [s.path for s in ds.skipped] == [bad]
    assert "WAV" in ds.skipped[0].reason
    assert str(ds.skipped[0]).startswith(str(bad))


def test_without_validation_a_corrupt_file_fails_when_read(tmp_path: Path, rng: np.random.Generator) -> None:
    root = _write(tmp_path / "d")
    bad = _corrupt(root / "jazz" / "jazz.00054.wav", rng)
    ds = GTZANDataset(root, validate=False)
    assert bad in ds.files
    with pytest.raises(AudioDecodeError) as info:
        ds[ds.files.index(bad)]
    assert info.value.path == bad


def test_unknown_genre_prefix_is_reported(tmp_path: Path, rng: np.random.Generator) -> None:
    root = _write(tmp_path / "d", layout="flat")
    kpop = root / "kpop.00001.wav"
    sf.write(str(kpop), rng.uniform(-0.5, 0.5, 500).astype(np.float32), 22050)

    with pytest.warns(UserWarning, match=r"kpop\.00001\.wav"):
        ds = GTZANDataset(root)

    assert len(ds) == 6
    assert [s.path for s in ds.skipped] == [kpop]
    assert "kpop" in ds.skipped[0].reason


def test_duplicates_are_reported(tmp_path: Path) -> None:
    root = _write(tmp_path / "d", ext=".wav")
    _write(tmp_path / "d", ext=".flac")  # the same clips again as FLAC

    with pytest.warns(UserWarning, match="duplicate"):
        ds = GTZANDataset(root)

    assert len(ds) == 6
    assert len(ds.skipped) == 6
    assert all("duplicate" in s.reason for s in ds.skipped)
    used = {(f.parent, f.name.rsplit(".", 1)[0]) for f in ds.files}
    dropped = {(s.path.parent, s.path.name.rsplit(".", 1)[0]) for s in ds.skipped}
    assert used == dropped  # each dropped file is a copy of a used clip


def test_unsupported_audio_format_is_reported(tmp_path: Path, rng: np.random.Generator) -> None:
    root = _write(tmp_path / "d")
    m4a = root / "rock" / "rock.00005.m4a"
    m4a.write_bytes(rng.bytes(100))
    with pytest.warns(UserWarning, match="m4a"):
        ds = GTZANDataset(root)
    assert [s.path for s in ds.skipped] == [m4a]


# -- errors --------------------------------------------------------------------------------


def _assert_lists_layouts(exc: DatasetError) -> None:
    message = str(exc)
    for hint in ("genres/<genre>/<genre>.00000.au", "genres_original", "ROOT/<genre>/", "ROOT/<genre>.00000"):
        assert hint in message


def test_missing_root_raises_with_the_layouts(tmp_path: Path) -> None:
    root = tmp_path / "no-such-folder"
    with pytest.raises(DatasetError) as info:
        GTZANDataset(root)
    assert info.value.path == root
    assert str(root) in str(info.value)
    _assert_lists_layouts(info.value)


def test_empty_root_raises_with_the_layouts(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        GTZANDataset(tmp_path)
    assert info.value.path == tmp_path
    _assert_lists_layouts(info.value)


def test_root_with_only_bad_files_raises(tmp_path: Path, rng: np.random.Generator) -> None:
    _corrupt(tmp_path / "jazz.00054.wav", rng)
    with pytest.raises(DatasetError, match="1 skipped"):
        GTZANDataset(tmp_path)


# -- download ------------------------------------------------------------------------------


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, str]:
    """A tiny GTZAN-shaped ``.tar.gz`` (``genres/<genre>/<genre>.0000N.au``) and its sha256."""
    src = make_synthetic_gtzan(
        tmp_path / "src", clips_per_genre=1, duration=0.25, genres=("blues", "jazz"), extension=".au"
    )
    path = tmp_path / "genres.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src / "genres", arcname="genres")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback URLs must go straight to loopback even where a proxy is configured.
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def test_download_unpacks_a_verified_archive(tmp_path: Path, archive: tuple[Path, str]) -> None:
    path, digest = archive
    root = tmp_path / "downloaded"

    assert download_gtzan(root, url=path.as_uri(), sha256=digest) == root

    assert (root / "genres" / "blues" / "blues.00000.au").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["genres"]  # no temp files left behind
    assert len(GTZANDataset(root)) == 2


def test_download_rejects_a_wrong_checksum(tmp_path: Path, archive: tuple[Path, str]) -> None:
    path, _ = archive
    root = tmp_path / "downloaded"
    with pytest.raises(DatasetError, match="checksum"):
        download_gtzan(root, url=path.as_uri(), sha256="0" * 64)
    assert list(root.iterdir()) == []  # nothing unpacked


def test_download_unreachable_url_raises(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/x.tar.gz"  # the discard port on loopback: refused, never the network
    with pytest.raises(DatasetError) as info:
        download_gtzan(tmp_path / "d", url=url, sha256=None)
    assert url in str(info.value)
    assert "offline" in str(info.value)


def test_download_not_an_archive_raises(tmp_path: Path, rng: np.random.Generator) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(rng.bytes(2000))
    with pytest.raises(DatasetError, match="unpack"):
        download_gtzan(tmp_path / "d", url=junk.as_uri(), sha256=None)


def test_download_needs_a_url_and_checks_the_original_archives_checksum(
    tmp_path: Path, archive: tuple[Path, str]
) -> None:
    # GTZAN's old server is gone: no default address; the default checksum is the original archive's.
    assert inspect.signature(download_gtzan).parameters["url"].default is inspect.Parameter.empty
    assert not hasattr(gtzan, "GTZAN_URL")
    path, _ = archive
    with pytest.raises(DatasetError, match="checksum"):  # our test archive is not the original
        download_gtzan(tmp_path / "d", url=path.as_uri())


def _old_python_tarfile(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python < 3.10.12 has no extraction filters: extractall(filter=...) is a TypeError there.
    real = tarfile.TarFile.extractall

    def extractall(self: tarfile.TarFile, path: str | os.PathLike[str] = ".", **kwargs: object) -> None:
        if "filter" in kwargs:
            raise TypeError("extractall() got an unexpected keyword argument 'filter'")
        real(self, path)

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)


def test_download_unpacks_on_pythons_without_extraction_filters(
    tmp_path: Path, archive: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _old_python_tarfile(monkeypatch)
    path, digest = archive
    root = download_gtzan(tmp_path / "old", url=path.as_uri(), sha256=digest)
    assert (root / "genres" / "blues" / "blues.00000.au").is_file()


def test_download_refuses_members_outside_root_without_extraction_filters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, _io.BytesIO(b"bad"))
    _old_python_tarfile(monkeypatch)
    with pytest.raises(DatasetError, match="unsafe member"):
        download_gtzan(tmp_path / "root", url=evil.as_uri(), sha256=None)
    assert not (tmp_path / "escaped.txt").exists()
