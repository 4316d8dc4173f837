"""``musicgenre predict`` on a messy folder: every good track predicted, one error line per bad file.

The folder holds three good tracks (WAV, FLAC, AU; three rates, mono and stereo, one in a
subfolder), a corrupt WAV, a text file named ``.mp3``, a PNG image and a ``.txt`` file.
A folder is searched for audio *extensions*, so the image and the ``.txt`` are not inputs
there (album folders hold cover art); named on the command line, every file is an input
and a non-audio one gets its error line. Either way: predictions for the good tracks,
``error: <file>: <what is wrong; what to do>`` once per bad input on stderr, a closing
count, exit status 1, no traceback, and ``--format json`` (and ``csv``) carry the errors.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from musicgenre.cli import main
from musicgenre.errors import TruncatedAudioWarning
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import save_checkpoint

GOOD = ("01 blues.wav", "02 jazz.flac", "disc 2/03 rock.au")
BAD_IN_FOLDER = ("04 broken.wav", "05 lyrics.mp3")
NOT_AUDIO = ("cover.png", "notes.txt")
# A 1x1 PNG, byte for byte.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ACTIONS = ("check", "pass", "re-encode", "remove", "convert", "copy", "export", "download", "leave it out")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("model") / "model.ckpt", GenreCNN(seed=0), classes=GENRES)


@pytest.fixture
def album(tmp_path: Path) -> Path:
    root = tmp_path / "album"
    rng = np.random.default_rng(7)
    for name, rate, channels in zip(GOOD, (22050, 44100, 8000), (1, 2, 1), strict=True):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), (0.1 * rng.standard_normal((rate, channels))).astype(np.float32), rate)
    (root / "04 broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + rng.bytes(2000))
    (root / "05 lyrics.mp3").write_text("These are the lyrics, not the song.\n" * 30)
    (root / "cover.png").write_bytes(PNG)
    (root / "notes.txt").write_text("recorded live\n")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_error_lines(err: str, bad: list[Path], total: int, *, folders: tuple[Path, ...] = ()) -> None:
    lines = err.splitlines()
    assert "Traceback" not in err
    assert lines[-1] == f"error: {len(bad)} of {total} inputs could not be classified"
    errors = lines[:-1]
    assert len(errors) == len(bad)  # one line per bad file, nothing else
    for line, path in zip(errors, bad, strict=True):
        assert line.startswith(f"error: {path}: ")
        if path not in folders:  # the CLI's "no audio files in this folder" line names no fix yet
            assert any(word in line.lower() for word in ACTIONS), line


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_table_predicts_the_good_tracks_and_names_each_bad_one(
    album: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(album)

    status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, album)

    assert status == 1
    rows = out.splitlines()
    assert rows[0].split()[:2] == ["file", "genre"]
    assert sorted(row.split(".")[0] for row in rows[1:]) == sorted(str(album / g).split(".")[0] for g in GOOD)
    _assert_error_lines(err, [album / b for b in BAD_IN_FOLDER], total=len(GOOD) + len(BAD_IN_FOLDER))
    assert "not a valid WAV" in err
    assert "not a valid MP3" in err
    assert _snapshot(album) == before  # predict writes nothing and changes nothing


def test_json_carries_the_errors_with_the_predictions(
    album: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, album, "--format", "json", "--top-k", "2")

    assert status == 1
    report = json.loads(out)
    results: list[dict[str, Any]] = report["results"]
    expected = sorted([*GOOD, *BAD_IN_FOLDER], key=lambda name: str(album / name))
    assert [r["path"] for r in results] == [str(album / name) for name in expected]  # every input, once
    assert (report["files"], report["failed"]) == (5, 2)
    for result in results:
        name = str(Path(result["path"]).relative_to(album))
        if name in GOOD:
            assert result["error"] is None
            assert result["genre"] in GENRES
            assert len(result["top_k"]) == 2
            assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        else:
            assert set(result) == {"path", "error"}
            assert result["error"].startswith(f"{result['path']}: ")
            assert f"error: {result['error']}" in err.splitlines()
    _assert_error_lines(err, [album / b for b in BAD_IN_FOLDER], total=5)


def test_files_named_explicitly_are_all_inputs(
    album: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [album / GOOD[0], *(album / b for b in BAD_IN_FOLDER), *(album / n for n in NOT_AUDIO)]

    status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, *inputs, "--format", "csv")

    assert status == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["path"] for row in rows] == [str(p) for p in inputs]
    assert rows[0]["error"] == ""
    assert rows[0]["genre_1"] in GENRES
    assert all(row["error"].startswith(f"{row['path']}: ") for row in rows[1:])
    _assert_error_lines(err, inputs[1:], total=len(inputs))
    assert "unsupported format '.png'" in err
    assert "unsupported format '.txt'" in err


def test_missing_input_and_folder_without_audio(
    tmp_path: Path, album: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "scans"
    empty.mkdir()
    (empty / "cover.png").write_bytes(PNG)
    missing = tmp_path / "typo.wav"

    status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, album / GOOD[1], missing, empty)

    assert status == 1
    assert len(out.splitlines()) == 2  # header and the one good track
    _assert_error_lines(err, [missing, empty], total=3, folders=(empty,))
    assert "file not found" in err
    assert "no audio files" in err


def test_a_truncated_track_is_predicted_with_one_warning_line(
    tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cut.wav"
    sf.write(str(path), np.zeros((22050, 1), dtype=np.float32), 22050, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: 44 + 11025])  # a quarter of the declared samples

    with warnings.catch_warnings():
        warnings.simplefilter("default", TruncatedAudioWarning)  # as outside pytest
        status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, path, "--format", "json")

    assert status == 0
    assert json.loads(out)["results"][0]["error"] is None
    assert err.splitlines() == [
        f"warning: {path}: is truncated: its header declares 44,100 bytes of audio but the file holds only "
        "11,025 (25.0%); the samples present are used. Download or copy the file again to get all of it"
    ]


def test_a_clean_folder_exits_0_with_nothing_on_stderr(
    album: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (*BAD_IN_FOLDER, *NOT_AUDIO):
        (album / name).unlink()
    status, out, err = _run(capsys, "predict", "--checkpoint", checkpoint, album)
    assert (status, err) == (0, "")
    assert len(out.splitlines()) == 1 + len(GOOD)
