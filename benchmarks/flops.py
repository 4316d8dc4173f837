"""How close each model's forward pass comes to what this machine's cores can do.

    python benchmarks/flops.py                 # one thread, 30-s tracks, median of 7
    python benchmarks/flops.py --threads 2 --repeats 15

For the reference and improved CNNs and the musicnn backbone (the pretrained recipe and
``musicgenre tags``), the floating-point operations of the forward pass over one 30-s track's
windows as prediction scores them (the reference: its first 5-s window; the improved: every 3-s
window at half overlap, each on its own, through ``optimize_for_inference``'s copy (prediction
shares the overlapping windows' convolutions, so it does less than this); musicnn: ten back-to-
back 3-s patches), counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add is
two), and the wall time of that pass. For musicnn, "GFLOP" is what its eval fast path computes
(it skips the filters that cannot change the output) and "network GFLOP" what its layers cost as
defined, every filter as a plain convolution. Achieved GFLOP/s is set against the machine's own float32
matrix-multiply rate (a 2048 x 2048 ``torch.mm`` on the same threads, measured in the same run,
taking turns with the models) as "fraction of the limit". Prints one Markdown table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import interleaved, machine, median_ms, spread, table
from real_path import trained_like
from torch.utils.flop_counter import FlopCounterMode

from musicgenre.genres import GENRES
from musicgenre.models import load_pretrained
from musicgenre.models.fast import optimize_for_inference
from musicgenre.recipes import IMPROVED, REFERENCE

MM = 2048


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args(argv)


def workloads() -> dict[str, tuple[Callable[[], object], Callable[[], object], str]]:
    """Each model's forward pass over one 30-s track's windows: as prediction runs it, the plain
    eval-mode model doing the same arithmetic (its operations are counted: the fused kernels of
    the inference copy are invisible to the counter), and what it is."""
    gen = torch.Generator().manual_seed(0)
    plain_reference = trained_like(REFERENCE.model_config(len(GENRES)))
    reference = optimize_for_inference(plain_reference)
    ref_input = torch.randn(1, 1, 64, REFERENCE.features.n_frames, generator=gen)
    plain_improved = trained_like(IMPROVED.model_config(len(GENRES)))
    improved = optimize_for_inference(plain_improved)
    # 30 s at 22.05 kHz, hop 512: 1,292 frames; 3-s windows (129 frames) at half overlap: 19 windows.
    frames = IMPROVED.features.n_frames
    windows = 1 + (1292 - frames) // (frames // 2)
    imp_input = torch.randn(windows, 1, IMPROVED.features.n_mels, frames, generator=gen)
    patches = torch.randn(10, 187, 96, generator=gen)
    musicnn = {name: load_pretrained(name).eval() for name in ("MSD_musicnn", "MTT_musicnn")}

    def run_reference() -> object:
        with torch.inference_mode():
            return reference(ref_input)

    def run_improved() -> object:
        with torch.inference_mode():
            return improved(imp_input)

    def tagging(model: torch.nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return model(patches)

        return run

    def count_reference() -> object:
        with torch.inference_mode():
            return plain_reference(ref_input)

    def count_improved() -> object:
        with torch.inference_mode():
            return plain_improved(imp_input)

    return {
        "reference": (run_reference, count_reference, "first 5-s window"),
        "improved": (run_improved, count_improved, f"{windows} x 3-s windows, half overlap"),
        **{name: (tagging(model), tagging(model), "10 x 3-s patches") for name, model in musicnn.items()},
    }


def network_flops(name: str) -> int | None:
    """The FLOPs of musicnn's layers as defined (every filter, plain convolutions), where the
    fast path computes fewer: what the forward pass would cost without its shortcuts."""
    if not name.endswith("_musicnn"):
        return None
    model = load_pretrained(name).eval()
    model.skip_dead_filters = False
    model.timbral_algorithm = "conv2d"
    if hasattr(model, "temporal_algorithm"):
        model.temporal_algorithm = "conv2d"
    patches = torch.zeros(10, 187, 96)
    with torch.inference_mode():
        return flops_of(lambda: model(patches))


def flops_of(fn: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine())
    a = torch.randn(MM, MM)
    b = torch.randn(MM, MM)
    jobs = workloads()
    counted = {name: flops_of(count) for name, (_, count, _) in jobs.items()}
    variants: dict[str, Callable[[], object]] = {"mm": lambda: torch.mm(a, b)}
    variants |= {name: fn for name, (fn, _, _) in jobs.items()}
    times = interleaved(variants, args.repeats)
    limit = 2 * MM**3 / (median_ms(times["mm"]) / 1e3) / 1e9
    rows = [
        [
            "torch.mm 2048 x 2048",
            "",
            f"{2 * MM**3 / 1e9:.2f}",
            "",
            f"{median_ms(times['mm']):.1f}",
            f"{limit:.1f}",
            "1.00",
            spread(times["mm"]),
        ]
    ]
    for name, (_, _, what) in jobs.items():
        ms = median_ms(times[name])
        rate = counted[name] / (ms / 1e3) / 1e9
        network = network_flops(name)
        rows.append(
            [
                name,
                what,
                f"{counted[name] / 1e9:.2f}",
                "" if network is None else f"{network / 1e9:.2f}",
                f"{ms:.1f}",
                f"{rate:.1f}",
                f"{rate / limit:.2f}",
                spread(times[name]),
            ]
        )
    table(
        f"Forward pass per 30-s track on {args.threads} thread(s): GFLOP counted, wall ms (median of {args.repeats}, "
        "taking turns with the matrix product), achieved GFLOP/s and its fraction of this machine's float32 "
        "matmul rate",
        ["model", "windows", "GFLOP", "network GFLOP", "ms", "GFLOP/s", "fraction of the limit", "spread"],
        rows,
        left=2,
    )


if __name__ == "__main__":
    main()
