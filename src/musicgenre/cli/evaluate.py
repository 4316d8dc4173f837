"""``musicgenre evaluate``: score a checkpoint on one part of a split; print the metrics, write report and plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicgenre.cli._options import PROG, add_checkpoint, add_command, add_device, add_format, add_root
from musicgenre.cli._output import nan_to_none, print_json

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``evaluate`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "evaluate",
        "Score a checkpoint on one part of a scheme's split; print the metrics, write report and plots.",
        f"{PROG} evaluate --checkpoint runs/gtzan/model.ckpt --root ~/data/gtzan --part test",
        run,
    )
    add_checkpoint(p, "to evaluate")
    add_root(p)
    p.add_argument(
        "--part",
        choices=("train", "validation", "val", "test"),
        default="test",
        help="part to score: train, validation (or val) or test (default: test)",
    )
    p.add_argument(
        "--scheme",
        help="re-split the files found with this scheme (random, 80-20 or filtered) instead of scoring the tracks "
        "the checkpoint lists for the part; needed for checkpoints that list none. A re-split matches training's "
        "only if exactly the same files decode today",
    )
    p.add_argument("--seed", type=int, metavar="N", help="re-split with this seed (see --scheme)")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="score the part's tracks that are present and unchanged when some are missing or changed "
        "(default: refuse), and say so",
    )
    p.add_argument("--out", type=Path, help="folder for the report and plots (default: CHECKPOINT_DIR/evaluate-PART)")
    add_device(p)
    add_format(p, "text", "json")


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre evaluate`` with the parsed *args*; return the exit status."""
    from musicgenre.experiment import evaluate_checkpoint

    out = args.out or args.checkpoint.parent / f"evaluate-{args.part}"
    result = evaluate_checkpoint(
        args.checkpoint,
        args.root,
        part=args.part,
        scheme=args.scheme,
        seed=args.seed,
        out=out,
        device=args.device,
        allow_missing=args.allow_missing,
    )
    metrics = result.metrics
    if args.format == "json":
        print_json(
            nan_to_none({"checkpoint": str(args.checkpoint), "out": str(out), **result.summary(), **metrics.to_dict()})
        )
        return 0
    worst, worst_recall = metrics.worst_recall
    print(metrics.report)
    windows = "first window" if result.windowing.mode == "first" else "all windows"
    tracks = f"{result.evaluated} tracks" if result.complete else f"{result.evaluated} of {result.expected} tracks"
    print(
        f"{result.part} accuracy {metrics.accuracy:.3f}, weighted F1 {metrics.f1:.3f}, "
        f"worst recall {worst} {worst_recall:.2f} ({tracks}, {result.split} split, {windows})"
    )
    if not result.complete:
        left_out = [*result.missing, *result.changed]
        shown = ", ".join(left_out[:5]) + (f" and {len(left_out) - 5} more" if len(left_out) > 5 else "")
        print(
            f"note: only the tracks that match were scored ({len(result.missing)} missing or unreadable, "
            f"{len(result.changed)} changed: {shown}); the numbers are not comparable to the full {result.part} part"
        )
    print(f"wrote metrics.json, report.txt and plots to {out}")
    return 0
