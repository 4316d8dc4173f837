"""``musicgenre tags`` on a messy folder: no checkpoint, every good track tagged, one error line per bad file.

The folder holds three good tracks (WAV, FLAC, AU; three rates, mono and stereo, one in a
subfolder), a corrupt WAV, an empty FLAC, a text file named ``.mp3`` and a ``.txt`` file
(not an audio extension: a folder search leaves it out; named on the command line it is
an input and gets its error line). The output formats carry every tag's probability
(JSON ``"tags"``, one CSV column per tag) plus the top k.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from musicgenre.cli import main
from musicgenre.models.pretrained import PRETRAINED
from musicgenre.synthetic import synthesize_clip

GOOD = ("01 blues.wav", "02 jazz.flac", "disc 2/03 rock.au")
BAD_IN_FOLDER = ("04 broken.wav", "05 empty.flac", "06 lyrics.mp3")


@pytest.fixture
def album(tmp_path: Path) -> Path:
    root = tmp_path / "album"
    for i, (name, rate, channels) in enumerate(zip(GOOD, (22050, 44100, 8000), (1, 2, 1), strict=True)):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        clip = synthesize_clip(name.split()[-1].split(".")[0], duration=4.0, sample_rate=rate, seed=i)
        sf.write(str(path), np.stack([clip] * channels, axis=1), rate)
    (root / "04 broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + np.random.default_rng(7).bytes(2000))
    (root / "05 empty.flac").touch()
    (root / "06 lyrics.mp3").write_text("These are the lyrics, not the song.\n" * 30)
    (root / "notes.txt").write_text("recorded live\n")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_error_lines(err: str, bad: list[Path], total: int) -> None:
    lines = err.splitlines()
    assert "Traceback" not in err
    assert lines[-1] == f"error: {len(bad)} of {total} inputs could not be tagged"
    errors = lines[:-1]
    assert len(errors) == len(bad)  # one line per bad file, nothing else
    for line, path in zip(errors, bad, strict=True):
        assert line.startswith(f"error: {path}: "), line


def test_text_tags_the_good_tracks_and_names_each_bad_one(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "tags", album, "--top-k", "2")

    assert status == 1
    rows = out.splitlines()
    assert rows[0].split() == ["file", "tag", "tag", "2"]
    assert sorted(row.split(".")[0] for row in rows[1:]) == sorted(str(album / g).split(".")[0] for g in GOOD)
    msd = set(PRETRAINED["MSD_musicnn"].labels)
    for row in rows[1:]:
        assert row.count("%") == 2
    assert any(tag in out for tag in msd)
    _assert_error_lines(err, [album / b for b in BAD_IN_FOLDER], total=len(GOOD) + len(BAD_IN_FOLDER))
    assert "not a valid WAV" in err
    assert "is empty" in err
    assert "not a valid MP3" in err


def test_json_gives_every_tag_and_the_top_k(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "tags", album, "--model", "MTT_musicnn", "--format", "json", "--top-k", "3")

    assert status == 1
    report = json.loads(out)
    labels = list(PRETRAINED["MTT_musicnn"].labels)
    assert report["model"] == "MTT_musicnn"
    assert report["labels"] == labels
    assert (report["files"], report["failed"]) == (6, 3)
    results: list[dict[str, Any]] = report["results"]
    expected = sorted([*GOOD, *BAD_IN_FOLDER], key=lambda name: str(album / name))
    assert [r["path"] for r in results] == [str(album / name) for name in expected]
    for result in results:
        name = str(Path(result["path"]).relative_to(album))
        if name in GOOD:
            assert result["error"] is None
            assert list(result["tags"]) == labels  # every tag, in the model's order
            assert all(0.0 <= p <= 1.0 for p in result["tags"].values())
            top = result["top_k"]
            assert len(top) == 3
            assert [t["probability"] for t in top] == sorted(result["tags"].values(), reverse=True)[:3]
            assert all(result["tags"][t["tag"]] == t["probability"] for t in top)
            assert result["patches"] == 1
            assert result["duration"] == pytest.approx(4.0, abs=1e-3)
        else:
            assert set(result) == {"path", "error"}
            assert result["error"].startswith(f"{result['path']}: ")
            assert f"error: {result['error']}" in err.splitlines()


def test_csv_has_the_top_k_and_a_column_per_tag(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = [album / GOOD[0], album / BAD_IN_FOLDER[0], album / "notes.txt"]

    status, out, err = _run(capsys, "tags", *inputs, "--format", "csv", "--top-k", "2")

    assert status == 1
    labels = list(PRETRAINED["MSD_musicnn"].labels)
    reader = csv.reader(io.StringIO(out))
    header = next(reader)
    ranks = ["tag_1", "probability_1", "tag_2", "probability_2"]
    assert header == ["path", *ranks, *labels, "duration", "patches", "error"]
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert [row["path"] for row in rows] == [str(p) for p in inputs]
    good = rows[0]
    assert good["error"] == ""
    assert good["tag_1"] in labels
    assert float(good["probability_1"]) == pytest.approx(max(float(good[t]) for t in labels), abs=1e-6)
    assert all(row["error"].startswith(f"{row['path']}: ") and row["tag_1"] == "" for row in rows[1:])
    _assert_error_lines(err, inputs[1:], total=3)
    assert "unsupported format '.txt'" in err


def test_a_clean_folder_exits_0_with_nothing_on_stderr(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in BAD_IN_FOLDER:
        (album / name).unlink()
    status, out, err = _run(capsys, "tags", album, "--files-per-batch", "2", "--batch-size", "1")
    assert (status, err) == (0, "")
    assert len(out.splitlines()) == 1 + len(GOOD)


def test_missing_input_and_folder_without_audio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "scans"
    empty.mkdir()
    missing = tmp_path / "typo.wav"
    status, out, err = _run(capsys, "tags", missing, empty)
    assert status == 1
    assert out == ""
    _assert_error_lines(err, [missing, empty], total=2)
    assert "no audio files" in err


def test_timeline_json_and_plot(album: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    good = album / GOOD[0]
    status, out, _ = _run(capsys, "tags", good, "--timeline", "--format", "json")
    assert status == 0
    (result,) = json.loads(out)["results"]
    assert len(result["timeline"]) == result["patches"]
    assert set(result["timeline"][0]["tags"]) == set(result["tags"])
    picture = tmp_path / "tags.png"
    status, out, err = _run(capsys, "tags", good, "--timeline", "--plot", picture)
    assert status == 0
    assert out.splitlines()[0].startswith("file")
    assert f"wrote {picture}" in err
    assert picture.stat().st_size > 0


def test_usage_errors_exit_2(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tags", str(album), "--timeline"]) == 2  # the timeline is in the JSON, or drawn
    assert main(["tags", str(album), "--plot", "x.png"]) == 2
    assert main(["tags", str(album), "--model", "MSD_vgg"]) == 2
    assert main(["tags", str(album), "--top-k", "0"]) == 2
    assert main(["tags"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="closes descriptor 2 through sh")
def test_with_stderr_closed_every_result_is_written(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tags", str(album), "--format", "csv", "--top-k", "2"]
    status, expected, _ = _run(capsys, *args)
    assert status == 1
    done = subprocess.run(  # python -m musicgenre ... 2>&-: sys.stderr is None in the program
        ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "musicgenre", *args],
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert len(expected.splitlines()) == 1 + len(GOOD) + len(BAD_IN_FOLDER)
    # The same rows; probabilities to float rounding (the child runs torch with its own thread count).
    got, want = list(csv.reader(io.StringIO(done.stdout))), list(csv.reader(io.StringIO(expected)))
    assert [len(row) for row in got] == [len(row) for row in want]
    for row, ref in zip(got, want, strict=True):
        for cell, value in zip(row, ref, strict=True):
            if _is_number(value):
                assert float(cell) == pytest.approx(float(value), abs=2e-6)
            else:
                assert cell == value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_with_sys_stderr_none_tags_are_written(album: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = sys.stderr
    sys.stderr = None  # as Python sets it when started without descriptor 2
    try:
        status = main(["tags", str(album), "--top-k", "2"])
    finally:
        sys.stderr = saved
    out, err = capsys.readouterr()
    assert (status, err) == (1, "")
    assert len(out.splitlines()) == 1 + len(GOOD)  # the table, and no error line on stdout
    assert "error" not in out
