"""The real prediction path, piece by piece: decoding 44.1 kHz stereo MP3/FLAC, long files, the model.

    python benchmarks/real_path.py                    # all three parts (about 10 minutes on 2 cores)
    python benchmarks/real_path.py --parts decode model
    python benchmarks/real_path.py --parts long --wav-hours 1 --flac-hours 3

Prints one Markdown table per part, every row measured in this run, alternating the
variants it compares (A B A B ...) so that a busy machine slows them alike. Each cell is
the median of the repeats; ``spread`` is the interquartile range over the median, a
measure of how noisy the machine was.

- ``decode``: :func:`musicgenre.io.load_audio` (to 22.05 kHz mono) on a 30-s 44.1 kHz
  stereo MP3 and FLAC, this branch against the ``io.py`` of ``--baseline`` (default: the
  commit this branch forked from ``main``), whole and split into decode / mix / resample.
- ``long``: a ``--wav-hours`` 44.1 kHz stereo WAV and a ``--flac-hours`` FLAC (written once
  under ``--long-dir`` in blocks, and kept): time and peak RSS of whole-file
  ``load_audio`` against :func:`musicgenre.io.iter_audio_blocks`, each in a fresh process
  (peak RSS from ``resource.getrusage(RUSAGE_CHILDREN)`` of a wrapper process), next to
  the RSS of a process that only imports musicgenre.
- ``model``: PROTOTYPES for the next phase, on the improved recipe's model and the windows
  of a 30-s track: feature paths (one STFT per overlapping window, as ``GenreClassifier``
  today, against one whole-track log-mel cut into frame windows) and model forwards
  (eager, ``inference_mode``, channels-last, batch-norm folded into the convolutions,
  1 or 2 threads, one track's windows or ten tracks' per batch, ONNX Runtime), in ms per
  30-s track, with the exactness of each against the plain eager model.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from numpy.typing import NDArray
from predict import FORMATS, write_tracks

from musicgenre import io as mio
from musicgenre.recipes import IMPROVED
from musicgenre.synthetic import synthesize_clip

REPO = Path(__file__).resolve().parent.parent
TARGET = 22050


# -- measuring ---------------------------------------------------------------------------------


def interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, NDArray[np.float64]]:
    """Seconds per call of each variant, called in turn *repeats* times after one warm-up each."""
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def median_ms(t: NDArray[np.float64]) -> float:
    return float(np.median(t)) * 1e3


def spread(t: NDArray[np.float64]) -> str:
    q1, q2, q3 = np.percentile(t, [25, 50, 75])
    return f"{(q3 - q1) / q2:.0%}"


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


# -- part 1: decoding a 30-s file, before and after ----------------------------------------------


def baseline_io(rev: str) -> tuple[ModuleType, str]:
    """The ``io.py`` of *rev* (``None``: the fork point from main), imported as its own module."""
    if rev == "fork-point":
        rev = subprocess.run(
            ["git", "merge-base", "HEAD", "main"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
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
        mixed_new = mio._mix_down(data)
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
                "mix after": partial(mio._mix_down, data),
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
from musicgenre.io import iter_audio_blocks, load_audio
start = time.perf_counter()
if mode == "whole":
    frames = load_audio(path, sample_rate=22050, mono=True)[0].shape[-1]
elif mode == "blocks":
    frames = sum(b.shape[-1] for b in iter_audio_blocks(path, sample_rate=22050, block_seconds=30.0))
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


def long_part(folder: Path, wav_hours: float, flac_hours: float) -> None:
    files = {
        f"{wav_hours:g}-h WAV": long_file(folder / f"long-{wav_hours:g}h.wav", wav_hours, "PCM_16"),
        f"{flac_hours:g}-h FLAC": long_file(folder / f"long-{flac_hours:g}h.flac", flac_hours, "PCM_16"),
    }
    _, _, floor = measure_child("import", next(iter(files.values())))
    rows = [["(import torch + musicgenre only)", "", "", "", f"{floor:.0f}"]]
    for name, path in files.items():
        hours = sf.info(str(path)).duration / 3600
        results = {mode: measure_child(mode, path) for mode in ("blocks", "whole", "blocks")}  # blocks twice: warm
        for mode in ("blocks", "whole"):
            seconds, _, rss = results[mode]
            label = "iter_audio_blocks (30 s)" if mode == "blocks" else "load_audio"
            rows.append([name, label, f"{seconds:.1f}", f"{hours * 3600 / seconds:.0f}x", f"{rss:.0f}"])
        assert results["blocks"][1] == results["whole"][1]
    table(
        "Long 44.1 kHz stereo files to 22.05 kHz mono, one fresh process each",
        ["file", "how", "time (s)", "x real time", "peak RSS (MB)"],
        rows,
    )


# -- part 3: PROTOTYPES of the model side (scratch code for the next phase to lift) -----------------


def improved_model(seed: int = 0) -> torch.nn.Module:
    """PROTOTYPE: the improved recipe's model with non-trivial batch-norm statistics (as if trained)."""
    from musicgenre.models import GenreCNN

    model = GenreCNN(IMPROVED.model_config(10), seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            assert m.running_mean is not None
            assert m.running_var is not None
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return model.eval()


def fold_batch_norm(model: torch.nn.Module) -> torch.nn.Module:
    """PROTOTYPE: a copy of a GenreCNN with each block's BatchNorm2d folded into its Conv2d.

    Exact up to float rounding (eval mode: batch-norm is a per-channel affine map right after
    the convolution). The input BatchNorm2d(1) stays: folding it into the first convolution
    would be wrong at the borders, where the convolution pads with zeros after it.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(model).eval()
    for block in folded.blocks:  # type: ignore[union-attr]
        layers = list(block)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], torch.nn.Conv2d) and isinstance(layers[i + 1], torch.nn.BatchNorm2d):
                block[i] = fuse_conv_bn_eval(layers[i], layers[i + 1])
                block[i + 1] = torch.nn.Identity()
    return folded


def whole_track_log_mel(wave: torch.Tensor, log_mel: torch.nn.Module) -> torch.Tensor:
    """PROTOTYPE: one log-mel of the whole track, ``(n_mels, frames)``."""
    out: torch.Tensor = log_mel(wave)
    return out


def power_mel_real(wave: torch.Tensor, log_mel: Any) -> torch.Tensor:
    """PROTOTYPE: the same log-mel, power as re**2 + im**2 of a real view instead of abs()**2."""
    from musicgenre.audio import functional as F

    spec = torch.stft(
        wave,
        log_mel.n_fft,
        log_mel.hop_length,
        window=log_mel.window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = torch.view_as_real(spec).square().sum(-1)
    mel = torch.matmul(power.transpose(-1, -2), log_mel.fbanks).transpose(-1, -2)
    return F.amplitude_to_db(mel, log_mel.top_db)


def frame_windows(spec: torch.Tensor, n_frames: int, hop_frames: int) -> torch.Tensor:
    """PROTOTYPE: the model's windows cut from a whole-track log-mel, ``(windows, 1, n_mels, n_frames)``."""
    from musicgenre.audio import functional as F

    floor = float(spec.min())
    return F.segments(spec, n_frames, hop_frames, pad_value=floor).unsqueeze(1)


def onnx_session(model: torch.nn.Module, example: torch.Tensor, threads: int) -> Callable[[torch.Tensor], Any]:
    """PROTOTYPE: *model* exported to ONNX (dynamic batch) in an ONNX Runtime session of *threads* threads."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter's deprecation, the shape check's TracerWarning
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buffer,  # type: ignore[arg-type]
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x.numpy()})[0]


def frozen_torchscript(model: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    """PROTOTYPE: *model* traced, frozen and ``optimize_for_inference`` (which also folds batch-norm)."""
    with warnings.catch_warnings():  # the shape check's TracerWarning; freeze's deprecation in favour of compile
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,))  # type: ignore[no-untyped-call]
        frozen: torch.nn.Module = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    return frozen


def model_part(repeats: int, threads_list: list[int]) -> None:
    from musicgenre.audio.transforms import LogMelSpectrogram
    from musicgenre.inference import _Featurizer

    cfg = IMPROVED.features
    wave = torch.from_numpy(synthesize_clip("jazz", duration=30.0, sample_rate=cfg.sample_rate, seed=1))
    assert IMPROVED.eval_hop is not None
    hop = round(cfg.clip_samples * (1 - IMPROVED.eval_hop))  # GenreClassifier(overlap=0.5)
    featurizer = _Featurizer(cfg, hop, 32)
    log_mel = LogMelSpectrogram.from_config(cfg)
    hop_frames = max(1, round(cfg.n_frames * IMPROVED.eval_hop))  # Recipe.eval_windows
    per_window = featurizer(wave).features
    whole = frame_windows(whole_track_log_mel(wave, log_mel), cfg.n_frames, hop_frames)
    real = frame_windows(power_mel_real(wave, log_mel), cfg.n_frames, hop_frames)
    windows = per_window.shape[0]

    rows: list[list[str]] = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            t = interleaved(
                {
                    "per-window STFT (today)": lambda: featurizer(wave),
                    "whole-track log-mel + frame windows": lambda: frame_windows(
                        whole_track_log_mel(wave, log_mel), cfg.n_frames, hop_frames
                    ),
                    "  same, power from view_as_real": lambda: frame_windows(
                        power_mel_real(wave, log_mel), cfg.n_frames, hop_frames
                    ),
                },
                repeats,
            )
        for name, times in t.items():
            rows.append([name, str(threads), f"{median_ms(times):.1f}", spread(times)])
    table(
        f"Features of a 30-s track for the improved model (windows: {windows} per-window, {whole.shape[0]} "
        f"from frames; max |dB diff| view_as_real vs abs: {float((real - whole).abs().max()):.2e}), ms per track",
        ["features", "threads", "ms", "spread"],
        rows,
    )

    base = improved_model()
    folded = fold_batch_norm(base)
    x1 = per_window.contiguous()
    x10 = x1.repeat(10, 1, 1, 1)  # ten tracks' windows in one batch
    with torch.inference_mode():
        reference = base(x10)
    variants: dict[str, tuple[torch.nn.Module, bool]] = {
        "eager, no_grad": (base, False),
        "inference_mode": (base, False),
        "inference_mode, channels_last": (copy.deepcopy(base).to(memory_format=torch.channels_last), True),
        "inference_mode, BN folded": (folded, False),
        "inference_mode, BN folded, channels_last": (
            copy.deepcopy(folded).to(memory_format=torch.channels_last),
            True,
        ),
    }
    rows = []
    for threads in threads_list:
        torch.set_num_threads(threads)
        for x, tracks in ((x1, 1), (x10, 10)):
            calls: dict[str, Callable[[], object]] = {}
            diffs: dict[str, float] = {}
            for name, (model, cl) in variants.items():
                xin = x.contiguous(memory_format=torch.channels_last) if cl else x
                if name.startswith("eager"):
                    calls[name] = no_grad_call(model, xin)
                else:
                    calls[name] = inference_call(model, xin)
                with torch.inference_mode():
                    diffs[name] = float(
                        (model(x10.contiguous(memory_format=torch.channels_last) if cl else x10) - reference)
                        .abs()
                        .max()
                    )
            script = frozen_torchscript(base, x)
            calls["TorchScript frozen + optimize_for_inference"] = inference_call(script, x)
            with torch.inference_mode():
                diffs["TorchScript frozen + optimize_for_inference"] = float((script(x10) - reference).abs().max())
            for onnx_name, onnx_model in (("ONNX Runtime", base), ("ONNX Runtime, BN folded", folded)):
                run = onnx_session(onnx_model, x1, threads)
                calls[onnx_name] = partial(run, x)
                diffs[onnx_name] = float(np.abs(run(x10) - reference.numpy()).max())
            t = interleaved(calls, repeats)
            for name, times in t.items():
                rows.append(
                    [
                        name,
                        str(threads),
                        f"{windows * tracks}",
                        f"{median_ms(times) / tracks:.1f}",
                        spread(times),
                        f"{diffs[name]:.1e}",
                    ]
                )
    table(
        f"Improved model forward on the windows of 30-s tracks ({windows} windows of {cfg.clip_ms / 1000:g} s per "
        "track), ms per track; max |logit diff| against eager on 10 tracks",
        ["forward", "threads", "batch (windows)", "ms per track", "spread", "max abs diff"],
        rows,
    )


def no_grad_call(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return model(x)

    return call


def inference_call(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.inference_mode():
            return model(x)

    return call


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=["decode", "long", "model"], default=["decode", "long", "model"])
    parser.add_argument("--repeats", type=int, default=15, help="repeats per decode cell (default: 15)")
    parser.add_argument("--model-repeats", type=int, default=5, help="repeats per model cell (default: 5)")
    parser.add_argument("--baseline", default="fork-point", help="git revision of the 'before' io.py")
    parser.add_argument("--wav-hours", type=float, default=1.0)
    parser.add_argument("--flac-hours", type=float, default=3.0)
    parser.add_argument("--long-dir", type=Path, default=Path(tempfile.gettempdir()) / "musicgenre-real-path")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads (default: 1 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}, soundfile {sf.__version__} "
        f"(libsndfile {sf.__libsndfile_version__}), soxr {soxr.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="musicgenre-real-path-") as tmp:
        if "decode" in args.parts:
            decode_part(Path(tmp), args.baseline, args.repeats)
        if "long" in args.parts:
            long_part(args.long_dir, args.wav_hours, args.flac_hours)
        if "model" in args.parts:
            model_part(args.model_repeats, args.threads)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
