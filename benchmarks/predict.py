"""Whole-track prediction throughput: audio-seconds classified per wall-second, decode included.

    python benchmarks/predict.py                 # 20 tracks of 30 s per input format
    python benchmarks/predict.py --tracks 8 --seconds 10 --workers 0 2

For each input format (22.05 kHz mono 16-bit WAV, as GTZAN; 44.1 kHz stereo FLAC and MP3,
as users' own music) and each worker count, ``GenreClassifier.predict_many`` classifies every track
(decode, mix to mono, resample to 22.05 kHz, cut into 5-s windows, log-mel, the CNN,
average) and the table gives "x real time" = total audio duration / wall time. The model
is the reference configuration, untrained (its weights do not change the cost). Workers
0 means everything runs in this process; N > 0 means N loader processes decode and
compute features while this one runs the model.

Distinct audio is costly to synthesise, so each genre's 30-s clip is rendered once and
copied; timings do not depend on the samples' values. Stereo files carry two different
channels (the clip and a delayed, quieter copy), so mixing them to mono is real work.
:func:`write_tracks` is reused by ``benchmarks/real_path.py``. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
from common import machine, table

import musicgenre as mg
from musicgenre.predict import FailedPrediction, GenreClassifier
from musicgenre.synthetic import synthesize_clip

Format = tuple[str, int, int, str | None]  # extension, rate, channels, soundfile subtype

FORMATS: dict[str, Format] = {
    "22.05 kHz mono WAV": (".wav", 22050, 1, "PCM_16"),
    "44.1 kHz stereo FLAC": (".flac", 44100, 2, "PCM_16"),
    "44.1 kHz stereo MP3": (".mp3", 44100, 2, None),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=20, help="tracks per format (default: 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="track length (default: 30)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="worker counts (default: 0 1 2)")
    parser.add_argument("--files-per-batch", type=int, default=4, help="files per loader batch (default: 4)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads in this process (default: torch's)")
    return parser.parse_args(argv)


def write_tracks(
    folder: Path, count: int, seconds: float, formats: Mapping[str, Format] = FORMATS
) -> dict[str, list[Path]]:
    """*count* files per format under *folder* (one sub-folder per format), cycling through the genres.

    Each genre's clip is synthesised once at 44.1 kHz (seed = its first index) and reused;
    a stereo file's second channel is the clip delayed by 10 ms at 0.8 x the level.
    """
    files: dict[str, list[Path]] = {name: [] for name in formats}
    rendered: dict[str, np.ndarray] = {}
    for i in range(count):
        genre = mg.GENRES[i % len(mg.GENRES)]
        if genre not in rendered:
            rendered[genre] = synthesize_clip(genre, duration=seconds, sample_rate=44100, seed=i)
        for name, (ext, rate, channels, subtype) in formats.items():
            wave = rendered[genre] if rate == 44100 else soxr.resample(rendered[genre], 44100, rate)
            delayed = 0.8 * np.roll(wave, round(0.01 * rate))
            data = np.stack([wave, delayed][:channels] + [wave] * (channels - 2), axis=1).astype(np.float32)
            path = folder / name.replace(" ", "_") / f"{genre}.{i:05d}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, data, rate, subtype=subtype)
            files[name].append(path)
    return files


Row = tuple[str, int, int, float, float]  # input, workers, files, audio seconds, wall seconds


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="musicgenre-bench-predict-"))
    try:
        started = time.perf_counter()
        files = write_tracks(tmp, args.tracks, args.seconds)
        ckpt = mg.save_checkpoint(tmp / "model.ckpt", mg.GenreCNN(seed=0), classes=mg.GENRES)
        classifier = GenreClassifier.from_checkpoint(ckpt, device=args.device)
        classifier.predict(next(iter(files.values()))[0])  # warm-up: allocator, kernels, file cache
        print(f"wrote {sum(map(len, files.values()))} tracks in {time.perf_counter() - started:.1f} s\n")

        rows: list[Row] = []
        for name, paths in files.items():
            for workers in args.workers:
                start = time.perf_counter()
                results = classifier.predict_many(
                    paths, num_workers=workers, files_per_batch=args.files_per_batch, progress=False
                )
                wall = time.perf_counter() - start
                failed = [r for r in results if isinstance(r, FailedPrediction)]
                if failed:
                    raise SystemExit(f"prediction failed: {failed[0].error}")
                audio = sum(r.duration for r in results if not isinstance(r, FailedPrediction))
                rows.append((name, workers, len(paths), audio, wall))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(machine())
    table(
        f"Whole-track prediction, reference model (untrained), {args.tracks} x {args.seconds:g}-s tracks per input, "
        f"device {args.device}",
        ["input", "loader workers", "files", "audio (s)", "wall (s)", "x real time"],
        [
            [name, str(workers), str(count), f"{audio:.0f}", f"{wall:.2f}", f"{audio / wall:.0f}"]
            for name, workers, count, audio, wall in rows
        ],
    )
    return rows


if __name__ == "__main__":
    main()
