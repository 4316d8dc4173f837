"""musicnn tagging speed: patches per second and "x real time" for each way of running the model.

    python benchmarks/musicnn.py                    # MSD_musicnn and MTT_musicnn, 2 threads
    python benchmarks/musicnn.py --batch 10 40 --threads 2 --repeats 3

Each row runs the pretrained model on random 3-s patches (187 x 96; the values do not
change the cost) under ``torch.inference_mode`` and reports patches/s and x real time
(= patches/s x 3 s: a 30-s track is 10 patches). Variants, measured side by side:

* ``literal``: the layer-by-layer graph (conv, ReLU, batch-norm on the whole
  ``(batch, filters, frames, bands)`` map, max over frequency) -- the straightforward port;
* ``fast/<algo>``: the eval fast path (reduce over frequency before ReLU + batch-norm),
  timbral convolutions as ``conv2d``, ``conv1d`` (7 time taps as input channels) or
  ``matmul`` (im2col), temporal ones as banded matrix products, computing every filter;
* ``fast/<algo>+skip``: the same, skipping the filters that cannot move their output by
  1e-7 (the default: ``conv1d+skip``);
* ``fast/conv1d+skip temporal conv2d``: the default with the temporal convolutions as
  ``conv2d`` (what the banded products replace);
* ``channels_last``: the literal path with a channels-last input.

The front end (STFT + mel) and decoding are not included in those rows; they cost a few
ms per 30 s. ``--cli N`` adds rows for the whole command: ``musicgenre tags`` on N
generated 30-s WAV files (22,050 Hz, 16-bit), start-up, decoding, resampling and output
included, for each ``--workers`` value given; x real time = N x 30 s / wall time. The
issue's target is 200x for N = 200 on 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from musicgenre.models.musicnn import Musicnn
from musicgenre.models.pretrained import load_pretrained

PATCH_SECONDS = 3.0


def _variants(model: Musicnn) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    literal = copy.deepcopy(model)
    literal.train()  # the literal front end; every other layer in eval mode
    for module in literal.modules():
        if module is not literal:
            module.eval()
    out["literal"] = literal
    for algo in ("conv2d", "conv1d", "matmul"):
        for skip in (False, True):
            m = copy.deepcopy(model)
            m.timbral_algorithm = algo
            m.skip_dead_filters = skip
            out[f"fast/{algo}{'+skip' if skip else ''}"] = m
    plain_temporal = copy.deepcopy(model)
    plain_temporal.temporal_algorithm = "conv2d"
    out["fast/conv1d+skip temporal conv2d"] = plain_temporal
    cl = literal.to(memory_format=torch.channels_last)
    out["literal channels_last"] = lambda x: cl(x)
    return out


def _write_tracks(folder: Path, count: int) -> None:
    import soundfile as sf

    from musicgenre.genres import GENRES
    from musicgenre.synthetic import synthesize_clip

    for i in range(count):
        genre = GENRES[i % len(GENRES)]
        clip = synthesize_clip(genre, duration=30.0, sample_rate=22050, seed=i)
        sf.write(str(folder / f"{genre}.{i:05d}.wav"), clip, 22050, subtype="PCM_16")


def _cli_rows(models: list[str], count: int, workers: list[int], threads: int) -> None:
    with tempfile.TemporaryDirectory(prefix="musicnn-bench-") as tmp:
        folder = Path(tmp)
        _write_tracks(folder, count)
        for name in models:
            for w in workers:
                cmd = [sys.executable, "-m", "musicgenre", "tags", str(folder), "--model", name, "--format", "json"]
                env = {"OMP_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
                start = time.perf_counter()
                subprocess.run([*cmd, "--workers", str(w)], check=True, capture_output=True, env=env)
                seconds = time.perf_counter() - start
                patches = count * 10
                print(
                    f"| {name} | CLI tags, {count} x 30-s WAV, --workers {w} | {count} files "
                    f"| {1000 * seconds / patches:.1f} | {patches / seconds:.1f} | {count * 30 / seconds:.0f}x |",
                    flush=True,
                )


def _embed_rows(count: int, repeats: int) -> None:
    """The pretrained recipe's one-off work on *count* 30-s WAVs: musicnn frames, then every window's features.

    ``extract_features`` (decode, resample to 16 kHz, musicnn's log-mel) and
    ``embed_tracks`` (the frozen MSD backbone over every 3-s window), with 0 workers and
    the default (:func:`musicgenre.parallel.default_workers`), taking turns. 100 distinct
    synthetic clips are written and linked under *count* names.
    """
    import os

    import numpy as np

    from musicgenre.data import GTZANDataset
    from musicgenre.data.cache import extract_features
    from musicgenre.models import MusicnnClassifier
    from musicgenre.parallel import default_workers
    from musicgenre.recipes import PRETRAINED_MUSICNN
    from musicgenre.training.embeddings import embed_tracks

    rec = PRETRAINED_MUSICNN

    model = MusicnnClassifier.from_pretrained("MSD_musicnn", 10, seed=0)
    with tempfile.TemporaryDirectory(prefix="musicnn-embed-") as tmp:
        distinct = Path(tmp) / "distinct"
        distinct.mkdir()
        _write_tracks(distinct, min(count, 100))
        sources = sorted(distinct.glob("*.wav"))
        root = Path(tmp) / "gtzan"
        root.mkdir()
        for i in range(count):
            genre = sources[i % len(sources)].name.split(".")[0]
            os.link(sources[i % len(sources)], root / f"{genre}.{i:05d}.wav")
        dataset = GTZANDataset(root, sample_rate=rec.features.sample_rate)
        settings = sorted({0, default_workers(count)})
        times: dict[int, list[tuple[float, float]]] = {w: [] for w in settings}
        for _ in range(repeats):
            for workers in settings:
                start = time.perf_counter()
                data = extract_features(dataset, rec.features, front_end=rec.front_end, num_workers=workers)
                middle = time.perf_counter()
                embed_tracks(model, data, rec.windowing, num_workers=workers)
                times[workers].append((middle - start, time.perf_counter() - middle))
        columns = "workers | frames (s) | features (s) | total (s) | x real time"
        print(f"\n| pretrained recipe, {count} x 30-s WAV | {columns} |")
        print("|---|---:|---:|---:|---:|---:|")
        for workers in settings:
            frames = float(np.median([a for a, _ in times[workers]]))
            features = float(np.median([b for _, b in times[workers]]))
            total = float(np.median([a + b for a, b in times[workers]]))
            print(
                f"| MSD_musicnn pooled, median of {repeats} | {workers} | {frames:.1f} | {features:.1f} "
                f"| {total:.1f} | {count * 30 / total:.0f}x |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["MSD_musicnn", "MTT_musicnn"])
    parser.add_argument("--batch", nargs="+", type=int, default=[10, 40])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cli", type=int, default=0, metavar="N", help="also time `musicgenre tags` on N 30-s WAVs")
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 1], help="--workers values for the CLI rows")
    parser.add_argument("--variants", nargs="+", help="only these model-only variants (default: all)")
    parser.add_argument(
        "--embed", type=int, default=0, metavar="N", help="also time the pretrained recipe's features of N 30-s WAVs"
    )
    parser.add_argument("--only-embed", action="store_true", help="skip the model-only and CLI rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x_all = torch.rand(max(args.batch), 187, 96, generator=gen) * 4
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} threads")
    if args.only_embed:
        _embed_rows(args.embed, args.repeats)
        return
    print("| model | variant | batch | ms/patch | patches/s | x real time |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.models:
        for variant, fn in _variants(load_pretrained(name)).items():
            if args.variants and variant not in args.variants:
                continue
            for batch in args.batch:
                x = x_all[:batch]
                with torch.inference_mode():
                    fn(x)
                    start = time.perf_counter()
                    for _ in range(args.repeats):
                        fn(x)
                    seconds = (time.perf_counter() - start) / args.repeats
                rate = batch / seconds
                print(
                    f"| {name} | {variant} | {batch} | {1000 / rate:.1f} | {rate:.1f} | {rate * PATCH_SECONDS:.0f}x |",
                    flush=True,
                )
    if args.cli:
        _cli_rows(args.models, args.cli, args.workers, args.threads)
    if args.embed:
        _embed_rows(args.embed, args.repeats)


if __name__ == "__main__":
    main()
