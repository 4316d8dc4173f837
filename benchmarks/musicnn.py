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
  ``matmul`` (im2col), computing every filter;
* ``fast/<algo>+skip``: the same, skipping filters whose weights are all < 1e-20 (the
  default: ``conv1d+skip``);
* ``channels_last``: the literal path with a channels-last input.

The front end (STFT + mel) and decoding are not included; they cost a few ms per 30 s.
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from collections.abc import Callable

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
    cl = literal.to(memory_format=torch.channels_last)
    out["literal channels_last"] = lambda x: cl(x)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["MSD_musicnn", "MTT_musicnn"])
    parser.add_argument("--batch", nargs="+", type=int, default=[10, 40])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x_all = torch.rand(max(args.batch), 187, 96, generator=gen) * 4
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} threads")
    print("| model | variant | batch | ms/patch | patches/s | x real time |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.models:
        for variant, fn in _variants(load_pretrained(name)).items():
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


if __name__ == "__main__":
    main()
