"""The ``musicgenre`` command: a model trained on the synthetic genres classifies held-out tracks.

The end-to-end tests run the installed console script in a subprocess (exit codes
included); the rest call :func:`musicgenre.cli.main` in-process, which is much faster.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from torch.utils.data import TensorDataset

from musicgenre import __version__
from musicgenre.audio import FeatureConfig, LogMelSpectrogram
from musicgenre.cli import main
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN
from musicgenre.models.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.synthetic import make_synthetic_gtzan, synthesize_clip
from musicgenre.training import ModelCheckpoint, Trainer, TrainerConfig

# 2-s windows at 8 kHz keep training to a few seconds; the synthetic genres stay distinct.
FEATURES = FeatureConfig(sample_rate=8000, clip_ms=2000, n_mels=32, n_fft=512, hop_length=256)
SCRIPT = Path(sysconfig.get_path("scripts")) / "musicgenre"


EPOCHS = 12


def _clips(seeds: range) -> TensorDataset:
    """2-s windows at 0, 1.5 and 3 s into 5-s synthetic clips (tracks are cut anywhere)."""
    mel = LogMelSpectrogram(
        FEATURES.sample_rate, n_fft=FEATURES.n_fft, hop_length=FEATURES.hop_length, n_mels=FEATURES.n_mels
    )
    inputs, targets = [], []
    for label, genre in enumerate(GENRES):
        for seed in seeds:
            wave = synthesize_clip(genre, duration=5.0, sample_rate=FEATURES.sample_rate, seed=seed * 100 + label)
            for start in (0, 12_000, 24_000):
                inputs.append(mel(torch.from_numpy(wave[start : start + FEATURES.clip_samples])).unsqueeze(0))
                targets.append(label)
    return TensorDataset(torch.stack(inputs), torch.tensor(targets))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN trained on 10 synthetic clips per genre, saved through ModelCheckpoint."""
    out = tmp_path_factory.mktemp("run")
    model = GenreCNN(
        n_classes=len(GENRES),
        n_mels=FEATURES.n_mels,
        n_frames=FEATURES.n_frames,
        channels=(8, 16, 16),
        embedding_dim=32,
        dropout=0.1,
        batch_norm=True,
        global_pool=True,
        seed=0,
    )
    config = TrainerConfig(max_epochs=EPOCHS, batch_size=10, lr=3e-3, patience=None, seed=0, progress=False)
    checkpoint = ModelCheckpoint(out, classes=GENRES, features=FEATURES)
    history = Trainer(config, callbacks=[checkpoint]).fit(model, _clips(range(10)), _clips(range(50, 52)))
    assert max(history.column("val_accuracy")) == 1.0
    return checkpoint.best_path


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One unseen 5-s track per genre, in several formats, rates and channel counts."""
    root = tmp_path_factory.mktemp("held-out")
    for label, genre in enumerate(GENRES):
        wave = synthesize_clip(genre, duration=5.0, sample_rate=8000, seed=9000 + label)
        ext = (".wav", ".flac", ".ogg")[label % 3]
        folder = root / ("sub" if label % 2 else "")
        folder.mkdir(exist_ok=True)
        if genre == "jazz":  # 44.1 kHz stereo: resampled and mixed down on the way in
            stereo = np.stack([wave, 0.8 * wave], axis=1)
            sf.write(folder / f"{genre}.wav", soxr.resample(stereo, 8000, 44100), 44100)
        else:
            sf.write(folder / f"{genre}{ext}", wave, 8000)
    return root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing; install the package (pip install -e .) to get the console script")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300, check=False)


# -- the console script, end to end ----------------------------------------------------


def test_console_script_classifies_held_out_tracks(trained: Path, held_out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.flac"
    bad.write_bytes(b"fLaC but not really")
    done = _run("predict", "--checkpoint", str(trained), str(held_out), str(bad), "--format", "json")
    assert done.returncode == 1, done.stderr  # one input failed, the others went through
    report = json.loads(done.stdout)
    assert report["files"] == 11
    assert report["failed"] == 1
    results = {Path(r["path"]).stem: r for r in report["results"]}
    assert "corrupt.flac" in results["corrupt"]["error"]
    for genre in GENRES:
        assert results[genre]["error"] is None
        assert results[genre]["genre"] == genre, results[genre]["top_k"]
        assert sum(results[genre]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert f"error: {bad}: " in done.stderr
    assert "Traceback" not in done.stderr


def test_console_script_table_and_exit_status_zero(trained: Path, held_out: Path) -> None:
    done = _run("predict", "-c", str(trained), str(held_out), "--top-k", "2")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["file", "genre", "genre", "2"]
    assert len(rows) == len(GENRES)  # one line per file
    for row in rows:
        path, genre, *_ = row.split()
        assert Path(path).stem == genre
    # Aligned columns: every row's second column starts where the header's does.
    assert {row.index(row.split()[1], len(row.split()[0])) for row in rows} == {header.index("genre")}


def test_python_dash_m_and_usage_errors_exit_2(trained: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "musicgenre", "predict", "-c", str(trained), "x.wav", "--format", "xml"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "musicgenre predict: error: argument --format: invalid choice: 'xml'" in done.stderr


def test_program_ends_with_exit_handlers_run_and_output_flushed(trained: Path, held_out: Path) -> None:
    # run() skips the interpreter's teardown: buffered output and atexit handlers must still happen.
    code = (
        "import atexit, sys\n"
        "from musicgenre.cli import run\n"
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
        f"run(['predict', '-c', {str(trained)!r}, {str(held_out)!r}, '--format', 'json', '--timeline'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] == len(GENRES)  # the whole document, not a truncated buffer
    assert done.stderr.strip().endswith("exit handler ran")
    failed = subprocess.run(
        [sys.executable, "-c", "from musicgenre.cli import run; run(['info', 'missing.ckpt'])"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ")
    assert "missing.ckpt" in failed.stderr


# -- standard error closed (2>&-, a daemon) -------------------------------------------

posix_only = pytest.mark.skipif(os.name != "posix", reason="closes descriptor 2 through sh or preexec_fn")


def _closed_stderr(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m musicgenre ARGS 2>&-``: the program starts with descriptor 2 closed (``sys.stderr`` is None)."""
    return subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "musicgenre", *args],
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )


@contextmanager
def _no_stderr() -> Iterator[None]:
    """In this process, ``sys.stderr`` is None (as Python sets it when started without descriptor 2)."""
    saved = sys.stderr
    sys.stderr = None
    try:
        yield
    finally:
        sys.stderr = saved


@posix_only
@pytest.mark.parametrize(
    ("args", "status", "out"),
    [
        (["--version"], 0, f"musicgenre {__version__}\n"),
        (["info", "missing.ckpt"], 1, ""),  # the error line goes nowhere, not to stdout
        (["predict", "-c", "m.ckpt", "x.wav", "--format", "xml"], 2, ""),  # nor the usage
    ],
)
def test_with_stderr_closed_the_status_is_as_usual_and_stdout_holds_only_output(
    args: list[str], status: int, out: str
) -> None:
    done = _closed_stderr(*args)
    assert (done.returncode, done.stdout) == (status, out)


@posix_only
def test_with_stderr_closed_predict_writes_every_result(trained: Path, held_out: Path, tmp_path: Path) -> None:
    args = ["predict", "-c", str(trained), str(held_out), "--top-k", "2"]
    expected = _run(*args)
    assert expected.returncode == 0, expected.stderr
    done = _closed_stderr(*args)
    assert (done.returncode, done.stdout) == (0, expected.stdout)
    bad = tmp_path / "corrupt.flac"
    bad.write_bytes(b"fLaC but not really")
    closed_by_the_child = subprocess.run(  # the other way to start without descriptor 2
        [sys.executable, "-m", "musicgenre", "predict", "-c", str(trained), str(held_out), str(bad), "--format", "csv"],
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.close(2),
    )
    assert closed_by_the_child.returncode == 1  # one input failed
    rows = list(csv.DictReader(io.StringIO(closed_by_the_child.stdout)))
    assert len(rows) == len(GENRES) + 1
    assert rows[-1]["path"] == str(bad)
    assert rows[-1]["error"].startswith(f"{bad}: ")


@posix_only
def test_the_program_opens_a_closed_descriptor_2_on_the_null_device() -> None:
    # Else the next file opened would take descriptor 2 and receive what C code writes to stderr.
    code = (
        "import atexit, os\n"
        "from musicgenre.cli import run\n"
        "atexit.register(lambda: print(os.path.samestat(os.fstat(2), os.stat(os.devnull)), flush=True))\n"
        "run(['--version'])\n"
    )
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"musicgenre {__version__}\nTrue\n")


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")  # export --format torchscript
def test_with_sys_stderr_none_every_command_runs(
    trained: Path, held_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=5, duration=1.0)
    run = tmp_path / "run"
    commands: list[tuple[list[str], int]] = [
        (["predict", "-c", str(trained), str(held_out), str(tmp_path / "missing.wav")], 1),
        (["info", str(trained)], 0),
        (["export", str(trained), "--format", "torchscript", "--out", str(tmp_path / "m.pt"), "--json"], 0),
        (["train", "--root", str(root), "--out", str(run), "--epochs", "1", "--scheme", "80-20", "--no-plots"], 0),
        (["evaluate", "-c", str(run / "model.ckpt"), "--root", str(root), "--part", "validation"], 0),
        (["-v", "predict", "-c", str(trained), str(held_out / "blues.wav"), "--timeline"], 2),
    ]
    outputs = []
    for args, status in commands:
        with _no_stderr():
            assert main(args) == status, args
            assert sys.stderr is None  # as it was
        out, err = capsys.readouterr()
        assert err == ""
        assert "error" not in out, args  # no error line or usage on stdout
        assert out or status == 2, args
        outputs.append(out)
    assert outputs[0].count("\n") == 1 + len(GENRES)
    assert main(commands[0][0]) == 1  # with standard error: the same on stdout
    assert capsys.readouterr().out == outputs[0]


def test_building_the_parser_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import musicgenre.cli\n"
        "for args in (['predict', '-c', 'm.ckpt', 'x.wav'], ['tags', 'x.wav'], ['train', '--root', 'r', '--out', 'o'],"
        " ['evaluate', '-c', 'm.ckpt', '--root', 'r'], ['info', 'm.ckpt'], ['export', 'm.ckpt', '--format', 'onnx']):\n"
        "    musicgenre.cli.build_parser().parse_args(args)\n"
        "assert not [m for m in sys.modules if m == 'torch' or m.startswith('torch.')], 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr


# -- predict, in-process ---------------------------------------------------------------


def test_predict_csv(trained: Path, held_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "-c", str(trained), str(held_out), "--format", "csv", "--top-k", "2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(GENRES)
    assert list(rows[0]) == [
        "path",
        "genre_1",
        "probability_1",
        "genre_2",
        "probability_2",
        "duration",
        "segments",
        "error",
    ]
    for row in rows:
        assert Path(row["path"]).stem == row["genre_1"]
        assert float(row["probability_1"]) >= float(row["probability_2"])
        assert row["segments"] == "3"  # 5 s in 2-s windows
        assert row["error"] == ""


def test_predict_timeline_and_overlap(trained: Path, held_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track = held_out / "blues.wav"
    assert main(["predict", "-c", str(trained), str(track), "--format", "json", "--timeline", "--overlap", "0.5"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    # 63-frame windows every round(63 * 0.5) = 32 frames of 256 samples: 1.024 s apart.
    assert [s["start"] for s in result["timeline"]] == pytest.approx([0.0, 1.024, 2.048, 3.072])
    assert result["timeline"][-1]["end"] == pytest.approx(5.0)
    assert result["segments"] == 4


def test_predict_timeline_plot_of_a_long_recording(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    from musicgenre.predict import GenreClassifier
    from musicgenre.predict.plots import timeline_figure

    # A recording of three synthetic genres, 8 s each, joined.
    parts = [synthesize_clip(genre, duration=8.0, sample_rate=8000, seed=70 + i) for i, genre in enumerate(GENRES[:3])]
    mix = tmp_path / "mix.flac"
    sf.write(mix, np.concatenate(parts), 8000)
    picture = tmp_path / "plots" / "timeline.png"
    assert main(["predict", "-c", str(trained), str(mix), "--timeline", "--plot", str(picture)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith(str(mix))  # the usual table
    assert f"wrote {picture}" in err
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    prediction = GenreClassifier.from_checkpoint(trained).predict(mix, timeline=True)
    assert timeline_figure(prediction).axes[-1].get_xlim() == pytest.approx((0.0, 24.0))
    # The same drawing when the windows stream out as JSON lines first.
    streamed = tmp_path / "streamed.png"
    args = ["predict", "-c", str(trained), str(mix), "--timeline", "--format", "jsonl", "--plot", str(streamed)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == prediction.segments + 1
    assert streamed.stat().st_size > 0


def test_predict_reports_every_failure_and_goes_on(
    trained: Path, held_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    args = ["predict", "-c", str(trained), str(tmp_path / "empty"), str(text), str(tmp_path / "missing.wav")]
    assert main([*args, str(held_out / "blues.wav")]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2  # header and blues
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {tmp_path / 'empty'}: no audio files")
    assert lines[1].startswith(f"error: {text}: unsupported format '.txt'")
    assert lines[2] == f"error: {tmp_path / 'missing.wav'}: file not found; check the path"
    assert lines[3] == "error: 3 of 4 inputs could not be classified"


def test_predict_with_a_bad_checkpoint_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["predict", "-c", str(bad), "x.wav"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ")
    assert "checkpoint" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "-c", "m.ckpt", "x.wav", "--timeline"],  # timeline needs JSON
        ["predict", "-c", "m.ckpt", "x.wav", "--plot", "t.png"],  # a plot of the timeline needs --timeline
        ["predict", "-c", "m.ckpt", "x.wav", "--overlap", "1.5"],
        ["predict", "-c", "m.ckpt", "x.wav", "--top-k", "0"],
        ["predict", "x.wav"],  # no checkpoint
        ["export", "m.ckpt"],  # no format
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "info", "export"])
def test_every_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"example:\n  musicgenre {command} " in out


# -- info and export -------------------------------------------------------------------


def test_info(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "classes     10: blues, classical," in out
    assert "sample_rate=8000" in out
    assert "val_accuracy=1" in out
    assert main(["info", str(trained.with_name("last.ckpt")), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["resumable_after_epoch"] == EPOCHS
    assert info["metrics"]["epoch"] == EPOCHS
    assert info["parameters"] == sum(p.numel() for p in load_checkpoint(trained).model.parameters())


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")  # TorchScript is deprecated
@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning")  # inside torch.onnx
@pytest.mark.parametrize(("fmt", "suffix"), [("torchscript", ".pt"), ("onnx", ".onnx")])
def test_export(tmp_path: Path, fmt: str, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnx")
    ckpt = save_checkpoint(tmp_path / "model.ckpt", GenreCNN(seed=0, n_classes=3), classes=["a", "b", "c"])
    assert main(["export", str(ckpt), "--format", fmt, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(ckpt.with_suffix(suffix))
    assert report["input_shape"] == ["batch", 1, 64, 215]
    assert ckpt.with_suffix(suffix).stat().st_size > 100_000
    assert main(["export", str(ckpt), "--format", fmt, "--out", str(tmp_path / "x" / f"m{suffix}")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'x' / f'm{suffix}'} ({fmt};")


# -- train and evaluate ----------------------------------------------------------------


def test_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=5, duration=1.0)
    out = tmp_path / "run"
    args = ["train", "--root", str(root), "--out", str(out), "--epochs", "1", "--scheme", "80-20", "--no-plots"]
    assert main([*args, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["recipe"] == "reference"
    assert result["epochs"] == 1
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "report.txt", "model.ckpt"}

    ckpt = out / "model.ckpt"
    assert main(["evaluate", "-c", str(ckpt), "--root", str(root), "--part", "validation"]) == 0
    text = capsys.readouterr().out
    assert "validation accuracy" in text
    assert (out / "evaluate-validation" / "report.txt").is_file()
    assert (out / "evaluate-validation" / "confusion.png").is_file()

    assert main(["evaluate", "-c", str(ckpt), "--root", str(root)]) == 1  # 80-20 has no test part
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "'test'" in err
