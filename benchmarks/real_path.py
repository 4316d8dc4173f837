"""The real prediction path, measured side by side in one run: the table behind docs/performance.rst.

    python benchmarks/real_path.py                         # every part (about 15 minutes on 2 cores)
    python benchmarks/real_path.py --parts predict --tracks 50 --models improved
    python benchmarks/real_path.py --parts long --wav-hours 1 --flac-hours 3 --cpu-python cpu-venv/bin/python

Prints one Markdown table per part, every row measured in this run. Where variants are
compared on one input they take turns (A B A B ...) so that a busy machine slows them
alike; each such cell is the median of the repeats, and ``spread`` is the interquartile
range over the median, a measure of how noisy the machine was.

- ``predict``: ``GenreClassifier.predict_many`` in this process and the ``musicgenre
  predict`` command in a fresh one (start-up included), with 0 workers and with the
  default, for the reference and improved models (untrained weights with batch-norm
  statistics as after training; the windows their recipes evaluate: the reference the
  first 5 s, the improved all 3-s windows at half overlap), on ``--tracks`` 30-s files
  per format: 22.05 kHz mono WAV (GTZAN's own), 44.1 kHz stereo FLAC and MP3 (users'
  music). The audio is the real GTZAN clips of ``../shared/data/gtzan-mini`` when present.
- ``long``: a ``--wav-hours`` 44.1 kHz stereo WAV and a ``--flac-hours`` FLAC (written once
  under ``--data-dir`` in blocks, and kept): decoding whole (``load_audio``) and in blocks
  (:func:`musicgenre.io.iter_audio_blocks`), and ``musicgenre predict --timeline`` with
  the improved model: time, peak RSS and its growth over the import of the prediction
  modules, each in a fresh process (peak RSS from ``getrusage(RUSAGE_CHILDREN)`` of a
  wrapper process that does nothing else); with ``--cpu-python``, the prediction rows
  again with that interpreter's CPU-only torch (its import needs less than half the memory
  of a CUDA build's).
- ``model``: on the windows of a 30-s track for the improved model, the features (one
  STFT per overlapping window, as in 0.1.0, against the whole-track log-mel cut into
  windows) and the forward pass (eager, ``inference_mode``,
  :func:`~musicgenre.models.fast.optimize_for_inference`, the TorchScript export and ONNX
  Runtime on the ONNX export), with 1 and 2 threads and the largest difference from the
  eager model's logits.
- ``decode``: :func:`musicgenre.io.load_audio` (to 22.05 kHz mono) on a 30-s 44.1 kHz
  stereo MP3 and FLAC against the ``io.py`` of ``--baseline`` (default: before issue 16),
  whole and split into decode / mix / resample.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from common import REPO, interleaved, machine, median_ms, run_child, spread, table
from predict import FORMATS, write_tracks

from musicgenre import io as mio
from musicgenre.export import export_onnx, export_torchscript
from musicgenre.io._convert import mix_down
from musicgenre.models import GenreCNN, GenreCNNConfig
from musicgenre.models.cnn_scoring import score_overlapping
from musicgenre.models.fast import optimize_for_inference
from musicgenre.recipes import IMPROVED
from musicgenre.synthetic import synthesize_clip

TARGET = 22050
#: io.py before issue 16 (block-wise decoding, column-sum mixing): the ``decode`` part's "before".
BASELINE = "528fdd1~1"


# -- part 1: decoding a 30-s file, before and after ----------------------------------------------


def baseline_io(rev: str) -> tuple[ModuleType, str]:
    """The ``io.py`` of git revision *rev*, imported as its own module."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/musicgenre/io.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader("musicgenre_io_baseline", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    exec(compile(source, f"{rev}:src/musicgenre/io.py", "exec"), module.__dict__)
    return module, rev[:10]


def decode_part(folder: Path, rev: str, repeats: int) -> None:
    old, short = baseline_io(rev)
    formats = {k: v for k, v in FORMATS.items() if "44.1" in k}
    files = {name: paths[0] for name, paths in write_tracks(folder, 1, 30.0, formats).items()}
    rows: list[list[str]] = []
    for name, path in files.items():
        data = sf.read(path, dtype="float32", always_2d=True)[0]
        mixed_old = data.mean(axis=1, keepdims=True, dtype=np.float32)
        mixed_new = mix_down(data)
        assert np.array_equal(mixed_old[:, 0], mixed_new)

        def decode(path: Path = path) -> None:
            with sf.SoundFile(path) as fh:
                fh.read(dtype="float32", always_2d=True)

        t = interleaved(
            {
                "before": partial(old.load_audio, path, sample_rate=TARGET, mono=True),
                "after": partial(mio.load_audio, path, sample_rate=TARGET, mono=True),
                "decode": decode,
                "mix before": partial(data.mean, axis=1, keepdims=True, dtype=np.float32),
                "mix after": partial(mix_down, data),
                "resample before": partial(soxr.resample, mixed_old, 44100, TARGET, quality="HQ"),
                "resample after": partial(soxr.resample, mixed_new, 44100, TARGET, quality="HQ"),
            },
            repeats,
        )
        rows.append(
            [
                name,
                f"{median_ms(t['before']):.1f} ({spread(t['before'])})",
                f"{median_ms(t['after']):.1f} ({spread(t['after'])})",
                f"{median_ms(t['before']) / median_ms(t['after']):.2f}x",
                f"{median_ms(t['decode']):.1f}",
                f"{median_ms(t['mix before']):.1f} -> {median_ms(t['mix after']):.2f}",
                f"{median_ms(t['resample before']):.1f} -> {median_ms(t['resample after']):.1f}",
                f"{30_000 / median_ms(t['after']):.0f}x",
            ]
        )
    table(
        f"load_audio(sample_rate=22050, mono=True) on a 30-s 44.1 kHz stereo file, ms "
        f"(median of {repeats}, spread); before = io.py at {short}",
        ["file", "before", "after", "speed-up", "decode", "mix", "resample", "after, x real time"],
        rows,
    )


# -- part 2: long files, whole against blocks ----------------------------------------------------

CHILD = """
import sys, time, warnings
mode, path = sys.argv[1], sys.argv[2]
import torch  # loaded, as in any program that uses the tensors (musicgenre.io imports it on first use)
from musicgenre.io import iter_audio_blocks, load_audio
start = time.perf_counter()
if mode == "whole":
    frames = load_audio(path, sample_rate=22050, mono=True)[0].shape[-1]
elif mode == "blocks":
    frames = sum(b.shape[-1] for b in iter_audio_blocks(path, sample_rate=22050, mono=True, block_seconds=30.0))
else:
    frames = 0
print(time.perf_counter() - start, frames)
"""

WRAPPER = """
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout
print(out.strip(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def long_file(path: Path, hours: float, subtype: str) -> Path:
    """A *hours*-long 44.1 kHz stereo file of synthetic music, written in 30-s blocks (kept if present)."""
    frames = round(hours * 3600 * 44100)
    if path.exists() and sf.info(str(path)).frames == frames:
        return path
    clips = [synthesize_clip(g, duration=30.0, sample_rate=44100, seed=i) for i, g in enumerate(("rock", "jazz"))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(str(path), "w", 44100, 2, subtype=subtype) as fh:
        done, i = 0, 0
        while done < frames:
            clip = clips[i % 2][: frames - done]
            fh.write(np.stack([clip, 0.8 * np.roll(clip, 441)], axis=1))
            done += len(clip)
            i += 1
    return path


def measure_child(mode: str, path: Path) -> tuple[float, int, float]:
    """(seconds, frames, peak RSS in MB) of one decode in a fresh process."""
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-c", CHILD, mode, str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    seconds, frames, rss_kb = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout.split()
    return float(seconds), int(frames), int(rss_kb) / 1024


def torch_build(python: str) -> str:
    """The torch version of interpreter *python* (e.g. ``2.14.1+cu130``)."""
    return subprocess.run(
        [python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()


def long_part(
    folder: Path, wav_hours: float, flac_hours: float, checkpoint: Path | None, cpu_python: str | None = None
) -> None:
    files = {
        f"{wav_hours:g}-h WAV": long_file(folder / f"long-{wav_hours:g}h.wav", wav_hours, "PCM_16"),
        f"{flac_hours:g}-h FLAC": long_file(folder / f"long-{flac_hours:g}h.flac", flac_hours, "PCM_16"),
    }
    # The prediction rows run with this interpreter's torch and, with --cpu-python, with a
    # CPU-only torch build too (its import needs less than half the memory).
    pythons = [sys.executable] + ([cpu_python] if cpu_python else [])
    builds = {python: torch_build(python) for python in pythons}
    _, _, floor = measure_child("import", next(iter(files.values())))
    floors = {python: run_child([python, "-c", "import musicgenre.cli, musicgenre.predict"])[1] for python in pythons}
    rows = [["(import torch + musicgenre.io only)", "", "", "", f"{floor:.0f}", ""]]
    rows += [
        [f"(import musicgenre.cli + musicgenre.predict, torch {builds[python]})", "", "", "", f"{rss:.0f}", ""]
        for python, rss in floors.items()
    ]
    for name, path in files.items():
        hours = sf.info(str(path)).duration / 3600
        results = {mode: measure_child(mode, path) for mode in ("blocks", "whole", "blocks")}  # blocks twice: warm
        for mode in ("blocks", "whole"):
            seconds, _, rss = results[mode]
            label = "iter_audio_blocks (30 s)" if mode == "blocks" else "load_audio"
            rows.append([name, label, f"{seconds:.1f}", f"{hours * 3600 / seconds:.0f}x", f"{rss:.0f}", ""])
        assert results["blocks"][1] == results["whole"][1]
        if checkpoint is None:
            continue
        for python in pythons:
            command = [python, "-m", "musicgenre", "predict", "-c", str(checkpoint), str(path)]
            wall, rss, _ = run_child([*command, "--format", "json", "--timeline"])
            rows.append(
                [name, f"CLI predict --timeline, improved model, torch {builds[python]}", f"{wall:.1f}",
                 f"{hours * 3600 / wall:.0f}x", f"{rss:.0f}", f"+{rss - floors[python]:.0f}"]
            )  # fmt: skip
    table(
        "Long 44.1 kHz stereo files to 22.05 kHz mono, one fresh process each (RSS in MiB; growth over the "
        "import of the prediction modules)",
        ["file", "how", "time (s)", "x real time", "peak RSS", "growth"],
        rows,
    )


# -- part 3: the model on one track's windows ---------------------------------------------------


def trained_like(config: GenreCNNConfig, seed: int = 0) -> GenreCNN:
    """A model with non-trivial batch-norm statistics and affine weights (as if trained), in eval mode."""
    model = GenreCNN(config, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert m.running_mean is not None
            assert m.running_var is not None
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return model.eval()


def onnx_runner(model: GenreCNN, folder: Path, threads: int) -> Callable[[torch.Tensor], Any]:
    """*model* through :func:`musicgenre.export.export_onnx`, in an ONNX Runtime session of *threads* threads."""
    import onnxruntime as ort

    path = export_onnx(model, folder / "model.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.numpy()})[0]


def torchscript_model(model: GenreCNN, folder: Path) -> torch.nn.Module:
    """*model* through :func:`musicgenre.export.export_torchscript`, loaded back."""
    with warnings.catch_warnings():  # torch deprecates TorchScript (FutureWarning on trace, save, load)
        warnings.simplefilter("ignore", FutureWarning)
        path = export_torchscript(model, folder / "model.pt")
        loaded: torch.nn.Module = torch.jit.load(str(path))  # type: ignore[no-untyped-call]
    return loaded


def model_part(folder: Path, repeats: int, threads_list: list[int]) -> None:
    from musicgenre.audio import functional as F
    from musicgenre.audio.transforms import LogMelSpectrogram
    from musicgenre.audio.windowing import LogMelFrontEnd, cut_windows, track_frames

    cfg = IMPROVED.features
    windowing = IMPROVED.windowing
    wave = torch.from_numpy(synthesize_clip("jazz", duration=30.0, sample_rate=cfg.sample_rate, seed=1))
    log_mel = LogMelSpectrogram.from_config(cfg)
    front = LogMelFrontEnd(cfg)
    hop = windowing.hop(cfg.n_frames) * cfg.hop_length

    def per_window() -> torch.Tensor:  # 0.1.0: one STFT per overlapping window of samples
        with torch.inference_mode():
            return torch.cat([log_mel(part) for part in torch.split(F.segments(wave, cfg.clip_samples, hop), 32)])

    def whole_track() -> torch.Tensor:  # one log-mel of the track, windows cut from its frames
        with torch.inference_mode():
            return cut_windows(track_frames(wave, front, windowing), front, windowing).windows

    windows = whole_track()
    rows: list[list[str]] = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        t = interleaved({"one STFT per window (before)": per_window, "whole-track log-mel, cut": whole_track}, repeats)
        rows += [[name, str(threads), f"{median_ms(v):.1f}", spread(v)] for name, v in t.items()]
    table(
        f"Features of a 30-s track for the improved model ({len(windows)} windows), ms per track",
        ["features", "threads", "ms", "spread"],
        rows,
    )

    base = trained_like(IMPROVED.model_config(10))
    fast = optimize_for_inference(base)
    unpooled = optimize_for_inference(base, pooling=False)
    x = windows.contiguous()
    frames = track_frames(wave, front, windowing)
    starts = torch.arange(len(x)) * windowing.hop(cfg.n_frames)

    def shared() -> torch.Tensor:  # what GenreClassifier runs: overlapping windows share their convolutions
        with torch.inference_mode():
            out = score_overlapping(fast, frames, starts, cfg.n_frames, pad_value=front.silence)
        assert out is not None
        return out

    with torch.inference_mode():
        reference = base(x)
    rows = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        script = torchscript_model(base, folder)
        calls: dict[str, Callable[[], object]] = {
            "eager, no_grad (before)": partial(forward, base, x, inference=False),
            "eager, inference_mode": partial(forward, base, x, inference=True),
            "optimize_for_inference, MaxPool2d kept": partial(forward, unpooled, x, inference=True),
            "optimize_for_inference + inference_mode": partial(forward, fast, x, inference=True),
            "optimize_for_inference, windows sharing convolutions (score_overlapping)": shared,
            "TorchScript export (folded, channels-last)": partial(forward, script, x, inference=True),
        }
        outputs: dict[str, Any] = {name: call() for name, call in calls.items()}  # also a warm-up
        try:
            run = onnx_runner(base, folder, threads)
        except ImportError:
            pass
        else:
            calls["ONNX Runtime (export_onnx)"] = partial(run, x)
            outputs["ONNX Runtime (export_onnx)"] = torch.from_numpy(run(x))
        t = interleaved(calls, repeats)
        for name, times in t.items():
            diff = float((outputs[name] - reference).abs().max())
            rows.append([name, str(threads), f"{median_ms(times):.1f}", spread(times), f"{diff:.1e}"])
    table(
        f"Improved model forward on the {len(x)} windows of a 30-s track, ms per track; "
        "max |logit difference| from the eager model",
        ["forward", "threads", "ms", "spread", "max abs diff"],
        rows,
    )


def forward(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, inference: bool) -> torch.Tensor:
    with torch.inference_mode() if inference else torch.no_grad():
        return model(x)


# -- part 4: prediction, in-process and through the CLI ----------------------------------------

GTZAN_MINI = REPO.parent / "shared" / "data" / "gtzan-mini"


def prediction_sets(
    folder: Path, tracks: int, formats: Sequence[str] | None = None
) -> tuple[dict[str, list[Path]], str]:
    """*tracks* 30-s files per format (written once under *folder*, and kept), and where their audio is from.

    The audio is the real GTZAN clips of ``../shared/data/gtzan-mini`` where present (cycled;
    upsampled with soxr to 44.1 kHz, a stereo file's second channel delayed by 10 ms at 0.8
    x the level), else synthetic clips (:func:`predict.write_tracks`). *formats*: only these
    of ``predict.FORMATS`` (default: all).
    """
    real = sorted(GTZAN_MINI.rglob("*.flac")) if GTZAN_MINI.is_dir() else []
    source = f"{len(real)} real GTZAN clips, cycled" if real else "synthetic clips"
    root = folder / f"sets-{tracks}-{'real' if real else 'synthetic'}"
    files: dict[str, list[Path]] = {}
    for name, (ext, rate, channels, subtype) in FORMATS.items():
        if formats is not None and name not in formats:
            continue
        sub = root / name.replace(" ", "_")
        paths = sorted(sub.glob(f"*{ext}"))
        if len(paths) != tracks:
            if real:
                sub.mkdir(parents=True, exist_ok=True)
                paths = []
                for i in range(tracks):
                    clip, clip_rate = sf.read(str(real[i % len(real)]), dtype="float32")
                    wave = clip if rate == clip_rate else soxr.resample(clip, clip_rate, rate)
                    delayed = 0.8 * np.roll(wave, round(0.01 * rate))
                    data = np.stack([wave, delayed][:channels], axis=1)
                    paths.append(sub / f"{real[i % len(real)].stem}.{i:04d}{ext}")
                    sf.write(str(paths[-1]), data, rate, subtype=subtype)
            else:
                paths = write_tracks(root, tracks, 30.0, {name: FORMATS[name]})[name]
        files[name] = paths
    return files, source


def prediction_checkpoints(folder: Path) -> dict[str, Path]:
    """A checkpoint per model, recording its recipe's features and evaluation windows.

    ``pretrained``: the packaged MSD_musicnn backbone with an untrained linear head (its
    cost is the backbone's).
    """
    from musicgenre.genres import GENRES
    from musicgenre.models import MusicnnClassifier, save_checkpoint
    from musicgenre.recipes import PRETRAINED_MUSICNN, REFERENCE

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, recipe in (("reference", REFERENCE), ("improved", IMPROVED)):
        model = trained_like(recipe.model_config(len(GENRES)))
        paths[name] = save_checkpoint(
            folder / f"{name}.ckpt", model, classes=GENRES, features=recipe.features, windowing=recipe.windowing
        )
    pretrained = MusicnnClassifier.from_pretrained("MSD_musicnn", len(GENRES), seed=0)
    paths["pretrained"] = save_checkpoint(
        folder / "pretrained.ckpt",
        pretrained,
        classes=GENRES,
        features=PRETRAINED_MUSICNN.features,
        windowing=PRETRAINED_MUSICNN.windowing,
    )
    return paths


def _cell(walls: list[float]) -> tuple[float, str]:
    values = np.asarray(walls, dtype=np.float64)
    return float(np.median(values)), spread(values)


def prediction_part(
    folder: Path, tracks: int, models: list[str], formats: list[str], repeats: int, cpu_python: str | None = None
) -> None:
    """Each model x format: in-process and CLI, 0 workers and the default, in turns, *repeats* times (median).

    With *cpu_python*, the CLI with the default workers runs with that interpreter (a CPU-only torch) too.
    """
    from musicgenre.parallel import default_workers
    from musicgenre.predict import FailedPrediction, GenreClassifier

    files, source = prediction_sets(folder, tracks)
    checkpoints = prediction_checkpoints(folder / "checkpoints")
    auto = default_workers(tracks)
    header = ["model", "input", "how", "workers", "wall (s)", "x real time", "spread", "peak RSS (MiB)"]
    rows: list[list[str]] = []
    for python in [sys.executable] + ([cpu_python] if cpu_python else []):
        starts = [run_child([python, "-c", "import musicgenre.cli, musicgenre.predict"])[0] for _ in range(3)]
        start_up, start_spread = _cell(starts)
        build = "" if python == sys.executable else f", torch {torch_build(python)}"
        rows.append(["", f"start-up (import musicgenre.predict{build})", "", "", f"{start_up:.2f}", "", start_spread])
    settings = sorted({0, auto})
    for model in models:
        # "reference-all": the reference model on all windows (--overlap 0) instead of its recipe's first.
        all_windows = model.endswith("-all")
        checkpoint = checkpoints[model.removesuffix("-all")]
        classifier = GenreClassifier.from_checkpoint(checkpoint, overlap=0.0 if all_windows else None)
        hop_s = classifier.hop / classifier.features.sample_rate
        window_s = classifier.features.clip_samples / classifier.features.sample_rate
        windows = f"{window_s:.2f}-s windows, hop {hop_s:.2f} s"
        if classifier.windowing.mode == "first":
            windows = "first window"
        for fmt in formats:
            paths = files[fmt]
            audio = sum(sf.info(str(p)).duration for p in paths)
            classifier.predict(paths[0])  # warm-up: allocator, kernels, file cache
            inproc: dict[int, list[float]] = {w: [] for w in settings}
            cli: dict[int, list[float]] = {w: [] for w in settings}
            rss: dict[int, float] = {}
            cpu_walls: list[float] = []
            cpu_rss = 0.0
            for _ in range(repeats):
                for workers in settings:
                    begin = time.perf_counter()
                    results = classifier.predict_many(paths, num_workers=workers, progress=False)
                    inproc[workers].append(time.perf_counter() - begin)
                    if any(isinstance(r, FailedPrediction) for r in results):
                        raise SystemExit(f"prediction failed: {results}")
                for workers in settings:
                    command = [sys.executable, "-m", "musicgenre", "predict", "-c", str(checkpoint)]
                    command += [str(paths[0].parent), "--format", "csv", *(["--overlap", "0"] if all_windows else [])]
                    if workers != auto:
                        command += ["--workers", str(workers)]
                    wall, peak, _ = run_child(command)
                    cli[workers].append(wall)
                    rss[workers] = max(rss.get(workers, 0.0), peak)
                    if cpu_python and workers == auto:
                        wall, peak, _ = run_child([cpu_python, *command[1:]])
                        cpu_walls.append(wall)
                        cpu_rss = max(cpu_rss, peak)
            for how, walls in (("in-process", inproc), ("CLI, start-up included", cli)):
                for workers in settings:
                    wall, spr = _cell(walls[workers])
                    label = f"{workers} (default)" if workers == auto else str(workers)
                    rss_text = f"{rss[workers]:.0f}" if how.startswith("CLI") else ""
                    speed = f"{audio / wall:,.0f}x"
                    rows.append([f"{model} ({windows})", fmt, how, label, f"{wall:.2f}", speed, spr, rss_text])
            if cpu_python:
                wall, spr = _cell(cpu_walls)
                how = f"CLI, start-up included, torch {torch_build(cpu_python)}"
                speed, label = f"{audio / wall:,.0f}x", f"{auto} (default)"
                rows.append([f"{model} ({windows})", fmt, how, label, f"{wall:.2f}", speed, spr, f"{cpu_rss:.0f}"])
    table(
        f"Prediction of {tracks} x 30-s files ({source}), untrained models (the pretrained one: MSD_musicnn with an "
        f"untrained head) with the recipes' windows; wall seconds (median of {repeats}, 0 workers and the default "
        "taking turns) and audio seconds per wall second",
        header,
        rows,
        left=4,
    )


def tagging_part(folder: Path, tracks: int, formats: list[str], repeats: int) -> None:
    """``musicgenre tags`` (MSD_musicnn) on the same files, 0 workers and the default, in turns."""
    from musicgenre.parallel import default_workers

    files, source = prediction_sets(folder, tracks)
    auto = default_workers(tracks)
    settings = sorted({0, auto})
    rows: list[list[str]] = []
    for fmt in formats:
        paths = files[fmt]
        audio = sum(sf.info(str(p)).duration for p in paths)
        walls: dict[int, list[float]] = {w: [] for w in settings}
        rss: dict[int, float] = {}
        for _ in range(repeats):
            for workers in settings:
                command = [sys.executable, "-m", "musicgenre", "tags", str(paths[0].parent), "--format", "csv"]
                if workers != auto:
                    command += ["--workers", str(workers)]
                wall, peak, _ = run_child(command)
                walls[workers].append(wall)
                rss[workers] = max(rss.get(workers, 0.0), peak)
        for workers in settings:
            wall, spr = _cell(walls[workers])
            label = f"{workers} (default)" if workers == auto else str(workers)
            rows.append(
                ["MSD_musicnn tags", fmt, label, f"{wall:.2f}", f"{audio / wall:,.0f}x", spr, f"{rss[workers]:.0f}"]
            )
    table(
        f"musicgenre tags on {tracks} x 30-s files ({source}), start-up included; wall seconds (median of {repeats})",
        ["model", "input", "workers", "wall (s)", "x real time", "spread", "peak RSS (MiB)"],
        rows,
        left=3,
    )


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = ["predict", "tags", "long", "model", "decode"]
    parser.add_argument("--parts", nargs="+", choices=parts, default=parts)
    parser.add_argument("--tracks", type=int, default=200, help="files per format for the predict part (default: 200)")
    parser.add_argument(
        "--models",
        nargs="+",
        choices=["reference", "reference-all", "improved", "pretrained"],
        default=["reference", "reference-all", "improved", "pretrained"],
        help="models for the predict part (reference-all: the reference model on all windows)",
    )
    parser.add_argument("--formats", nargs="+", choices=list(FORMATS), default=list(FORMATS))
    parser.add_argument("--repeats", type=int, default=15, help="repeats per decode cell (default: 15)")
    parser.add_argument("--model-repeats", type=int, default=10, help="repeats per model cell (default: 10)")
    parser.add_argument("--predict-repeats", type=int, default=3, help="repeats per predict and tags cell (default: 3)")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' io.py")
    parser.add_argument("--wav-hours", type=float, default=1.0)
    parser.add_argument("--flac-hours", type=float, default=3.0)
    parser.add_argument(
        "--cpu-python",
        help="an interpreter with a CPU-only torch and musicgenre (e.g. a venv's bin/python): the long part's "
        "prediction rows and the predict part's CLI rows with the default workers run with it too",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "musicgenre-real-path")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads (default: 1 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(machine())
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="musicgenre-real-path-") as tmp:
        if "predict" in args.parts:
            prediction_part(
                args.data_dir, args.tracks, args.models, args.formats, args.predict_repeats, args.cpu_python
            )
        if "tags" in args.parts:
            tagging_part(args.data_dir, args.tracks, args.formats, args.predict_repeats)
        if "long" in args.parts:
            checkpoint = prediction_checkpoints(args.data_dir / "checkpoints")["improved"]
            long_part(args.data_dir, args.wav_hours, args.flac_hours, checkpoint, args.cpu_python)
        if "model" in args.parts:
            model_part(Path(tmp), args.model_repeats, args.threads)
            torch.set_num_threads(threads)
        if "decode" in args.parts:
            decode_part(Path(tmp), args.baseline, args.repeats)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
