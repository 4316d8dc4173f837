"""``musicgenre train``: train a recipe on a GTZAN folder; write metrics, report, plots and model.ckpt."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicgenre.cli._options import (
    PROG,
    Names,
    add_command,
    add_device,
    add_format,
    add_root,
    add_workers,
    positive,
)
from musicgenre.cli._output import nan_to_none, print_json

__all__ = ["add_parser", "run"]


def _recipes() -> list[str]:
    from musicgenre.recipes import RECIPES

    return sorted(RECIPES)


def add_parser(sub: Any) -> None:
    """Add ``train`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "train",
        "Train a recipe on a GTZAN folder; write metrics, report, plots and model.ckpt.",
        f"{PROG} train --root ~/data/gtzan --out runs/gtzan --recipe reference --seed 42",
        run,
    )
    add_root(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--recipe",
        default="reference",
        choices=Names(_recipes),
        metavar="RECIPE",
        help="training recipe: %(choices)s (default: reference)",
    )
    p.add_argument(
        "--scheme", default="random", help="how to split: random (64-16-20), 80-20 or filtered (default: random)"
    )
    p.add_argument("--epochs", type=positive, metavar="N", help="upper bound on epochs (default: the recipe's)")
    p.add_argument(
        "--seed", type=int, default=42, metavar="N", help="seeds the split, weights and shuffling (default: 42)"
    )
    add_device(p)
    add_workers(p, "feature-extraction processes")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_format(p, "text", "json")


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre train`` with the parsed *args*; return the exit status."""
    from musicgenre.experiment import result_dict, run_experiment

    result = run_experiment(
        args.root,
        args.out,
        recipe=args.recipe,
        scheme=args.scheme,
        seed=args.seed,
        max_epochs=args.epochs,
        device=args.device,
        num_workers=args.workers,
        plots=not args.no_plots,
    )
    if args.format == "json":
        print_json(nan_to_none(result_dict(result)))
        return 0
    m = result.metrics
    worst, worst_recall = m.worst_recall
    print(m.report)
    print(
        f"{result.recipe} recipe, {result.scheme} split, seed {result.seed}: {result.evaluated_on} accuracy "
        f"{m.accuracy:.3f} (segments {result.segment_accuracy:.3f}), weighted F1 {m.f1:.3f}, "
        f"worst recall {worst} {worst_recall:.2f}; {result.epochs} epochs (best {result.best_epoch})"
    )
    plots = "" if args.no_plots else ", plots"
    print(f"wrote metrics.json, report.txt{plots} and model.ckpt to {result.out}")
    return 0
