"""Performance benchmarks, measured side by side in one run on synthetic 30-s clips.

    python benchmarks/run.py            # the full table (1000 clips; ~10 minutes on 2 cores)
    python benchmarks/run.py --quick    # a smoke run on 100 clips

Prints one Markdown table. Rows:

- training epoch (640 clips, the reference model): model only on ready tensors (the
  limit), from the feature cache, and reference-style (decode + transforms per item, per
  epoch) on 22.05 kHz WAV and on 44.1 kHz FLAC, each as a ratio to the limit;
- feature extraction throughput in audio-seconds per wall-second (x real time), with one
  process and with every core;
- whole-track prediction throughput (x real time, decode included);
- memory (RSS growth) of the cached whole-track features of 1000 x 30 s;
- loading a cached set of 1000 x 30-s spectrograms from the disk cache: time and RSS growth,
  the old one-.npy-per-clip layout against the one array (read, and memory-mapped), from
  ``benchmarks/feature_store.py``;
- one epoch of the improved recipe, and the training-time bound it implies;
- the end-to-end reference-recipe reproduction on 1000 clips, extraction included.

Distinct audio is costly to synthesise, so the set holds 10 distinct clips per genre,
copied to the requested count; timings do not depend on the samples' values.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feature_store  # benchmarks/feature_store.py, beside this script
import torch
from common import table
from torch.utils.data import DataLoader

import musicgenre as mg
from musicgenre.data.cache import extract_features
from musicgenre.experiment import load_data, run_experiment, train_model
from musicgenre.recipes import REFERENCE, get_recipe
from musicgenre.splits import stratified_split
from musicgenre.synthetic import make_synthetic_gtzan
from musicgenre.training import Trainer, TrainerConfig

DISTINCT_PER_GENRE = 10


MEMORY_PROBE = """
import gc, sys, warnings
warnings.simplefilter("ignore")
import musicgenre as mg
from musicgenre.data.cache import extract_features

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))

dataset = mg.GTZANDataset(sys.argv[1])
base = rss()
features = extract_features(dataset, progress=False)
gc.collect()
touched = float(features.storage.sum())  # count every page in RSS
print(base, rss(), features.nbytes, len(features))
"""


def make_set(root: Path, clips: int, sample_rate: int, extension: str) -> Path:
    """GTZAN layout with *clips* files, copies of 10 distinct clips per genre."""
    seed_root = root / "distinct"
    make_synthetic_gtzan(
        seed_root, clips_per_genre=DISTINCT_PER_GENRE, duration=30.0, sample_rate=sample_rate, extension=extension
    )
    per_genre = max(1, clips // len(mg.GENRES))
    target = root / "set"
    for genre in mg.GENRES:
        folder = target / "genres" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_genre):
            source = seed_root / "genres" / genre / f"{genre}.{n % DISTINCT_PER_GENRE:05d}{extension}"
            shutil.copyfile(source, folder / f"{genre}.{n:05d}{extension}")
    shutil.rmtree(seed_root)
    return target


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def epoch_seconds(sources: dict[str, Any], rounds: int = 3) -> dict[str, float]:
    """Best of *rounds* training epochs per batch source, the sources taking turns.

    Interleaving the sources keeps a slow phase of the machine from favouring one of them.
    """
    model = mg.GenreCNN(seed=0)
    trainer = Trainer(TrainerConfig(progress=False))
    optimizer = trainer.configure_optimizer(model)
    trainer.train_loop(model, next(iter(sources.values())), optimizer)  # warm-up (allocator, kernels)
    best = dict.fromkeys(sources, float("inf"))
    for _ in range(rounds):
        for name, batches in sources.items():
            start = time.perf_counter()
            trainer.train_loop(model, batches, optimizer)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000, help="clips in the GTZAN-sized set")
    parser.add_argument("--quick", action="store_true", help="100 clips, for a smoke run")
    args = parser.parse_args(argv)
    clips = 100 if args.quick else args.clips
    train_clips = int(clips * 0.64)
    cores = os.cpu_count() or 1
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"synthesising {clips} clips of 30 s (22.05 kHz WAV and 44.1 kHz FLAC)...", flush=True)
        wav_root = make_set(work / "wav", clips, 22050, ".wav")
        flac_root = make_set(work / "flac", train_clips, 44100, ".flac")
        features = mg.FeatureConfig()

        # Training epoch: limit, cached, reference-style.
        wav = mg.GTZANDataset(wav_root, transform=mg.ClipFeatures(features, torch.Generator().manual_seed(0)))
        cached = extract_features(wav, features, max_seconds=5.0, progress=False)
        train_idx = list(range(train_clips))
        cached_train = cached.with_view(REFERENCE.train_view(), train_idx, seed=0)
        ready = [
            (torch.stack([cached_train[i][0] for i in range(b, min(b + 32, train_clips))]),
             torch.tensor(cached.targets[b : b + 32]))
            for b in range(0, train_clips, 32)
        ]  # fmt: skip
        generator = torch.Generator().manual_seed(0)
        flac = mg.GTZANDataset(flac_root, transform=mg.ClipFeatures(features, torch.Generator().manual_seed(0)))
        epochs = epoch_seconds(
            {
                "limit": ready,
                "cached": DataLoader(cached_train, batch_size=32, shuffle=True, generator=generator),
                "wav": DataLoader(torch.utils.data.Subset(wav, train_idx), batch_size=32, shuffle=True),
                "flac": DataLoader(flac, batch_size=32, shuffle=True),
            }
        )
        limit, cached_epoch, ref_wav, ref_flac = (epochs[k] for k in ("limit", "cached", "wav", "flac"))
        rows += [
            (f"epoch, model only on ready tensors ({train_clips} clips)", f"{limit:.2f} s", "1.00x (limit)"),
            ("epoch, from the feature cache", f"{cached_epoch:.2f} s", f"{cached_epoch / limit:.2f}x limit"),
            (
                "epoch, reference-style, 22.05 kHz WAV",
                f"{ref_wav:.2f} s",
                f"{ref_wav / limit:.2f}x limit, {ref_wav / cached_epoch:.1f}x cached",
            ),
            (
                "epoch, reference-style, 44.1 kHz FLAC",
                f"{ref_flac:.2f} s",
                f"{ref_flac / limit:.2f}x limit, {ref_flac / cached_epoch:.1f}x cached",
            ),
        ]

        # Feature extraction of whole tracks (decode + mono + resample + 30-s log-mel).
        for name, root in (("22.05 kHz WAV", wav_root), ("44.1 kHz FLAC", flac_root)):
            dataset = mg.GTZANDataset(root)
            audio_seconds = 30.0 * len(dataset)
            for workers in sorted({0, cores}):
                start = time.perf_counter()
                extract_features(dataset, features, num_workers=workers, progress=False)
                seconds = time.perf_counter() - start
                label = "1 process" if workers == 0 else f"{workers} workers"
                speed = f"{audio_seconds / seconds:,.0f}x real time"
                rows.append((f"extraction, {name}, {label}", speed, f"{seconds:.1f} s"))

        # Memory of the cached whole-track features, in a fresh process.
        probe = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(wav_root)], check=True, capture_output=True, text=True
        )
        base_rss, after_rss, tensors, count = (int(v) for v in probe.stdout.split())
        rows.append(
            (f"cached whole-track features, {count} x 30 s", f"{(after_rss - base_rss) / 2**20:,.0f} MiB RSS growth",
             f"{tensors / 2**20:,.0f} MiB of tensors; the process holds {after_rss / 2**20:,.0f} MiB with torch")
        )  # fmt: skip

        # Loading a cached set: the per-clip .npy layout before issue 13 against the one array.
        rows += feature_store.rows(tracks=clips)

        # Whole-track prediction.
        try:
            from musicgenre.predict import GenreClassifier
        except ImportError:
            rows.append(("prediction", "n/a", "musicgenre.predict not available"))
        else:
            ckpt = mg.save_checkpoint(work / "model.ckpt", mg.GenreCNN(seed=0), classes=mg.GENRES)
            classifier = GenreClassifier.from_checkpoint(ckpt)
            files = sorted(wav_root.rglob("*.wav"))[: min(200, clips)]
            seconds, _ = timed(lambda: classifier.predict_many(files, num_workers=cores))
            speed = f"{30 * len(files) / seconds:,.0f}x real time"
            rows.append(
                (f"prediction, {len(files)} x 30-s WAV, {cores} workers", speed,
                 f"{seconds:.1f} s")
            )  # fmt: skip

        # The improved recipe: one epoch on the 64 % training part (+ per-track validation).
        improved = load_data(wav_root, "improved")
        train_part, val_part, _ = stratified_split(improved.targets, seed=0)
        start = time.perf_counter()
        train_model(improved, train_part, val_part, "improved", max_epochs=1)
        seconds = time.perf_counter() - start
        bound = get_recipe("improved").trainer.max_epochs
        rows.append(
            (f"improved recipe, one epoch ({len(train_part)} tracks x 2 crops + {len(val_part)} validated)",
             f"{seconds:.1f} s", f"at most {bound} epochs: <= {seconds * bound / 60:.0f} min of training")
        )  # fmt: skip
        del improved

        # End to end: the reference recipe on the whole set, extraction included.
        seconds, result = timed(lambda: run_experiment(wav_root, work / "run", recipe="reference", seed=0, plots=False))
        rows.append(
            (f"reference reproduction, {clips} clips, end to end", f"{seconds:.0f} s",
             f"{result.epochs} epochs, extraction {result.extract_seconds:.0f} s")
        )  # fmt: skip

    print()
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, musicgenre {mg.__version__}")  # fmt: skip
    print()
    table("Benchmarks", ["measurement", "value", "notes"], rows, left=3)


if __name__ == "__main__":
    main()
