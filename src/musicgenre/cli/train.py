"""``musicgenre train``: train a recipe on GTZAN or your own labelled folder; write metrics, report, model.ckpt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from musicgenre.cli._options import (
    PROG,
    Names,
    add_command,
    add_device,
    add_format,
    add_workers,
    positive,
)
from musicgenre.cli._output import nan_to_none, print_json

if TYPE_CHECKING:
    from musicgenre.data.cache import FeatureSet
    from musicgenre.experiment import ExperimentResult

__all__ = ["DEFAULT_RECIPES", "add_parser", "run"]

#: The recipe each layout trains unless ``--recipe`` says otherwise: the pretrained
#: (musicnn) recipe for your own folders (few tracks, unbalanced labels), the reference for GTZAN.
DEFAULT_RECIPES = {"folder": "pretrained", "gtzan": "reference"}

#: ``--scheme``'s values: ``auto`` chooses between ``random`` and ``cv`` by the set's size.
SCHEMES = ("auto", "random", "cv", "80-20", "filtered")


def _recipes() -> list[str]:
    from musicgenre.recipes import RECIPES

    return sorted(RECIPES)


def add_parser(sub: Any) -> None:
    """Add ``train`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "train",
        "Train a recipe on GTZAN or on your own labelled folder (ROOT/<label>/**/<file>); "
        "write metrics, report, plots and model.ckpt.",
        f"{PROG} train --root my-music --out run\n  {PROG} predict --checkpoint run/model.ckpt new.mp3\n"
        f"  {PROG} train --root ~/data/gtzan --out runs/gtzan --recipe reference --seed 42",
        run,
    )
    p.add_argument(
        "--root",
        type=Path,
        required=True,
        help="GTZAN (any of its layouts) or your own folder: one subfolder per label, any file names, "
        "formats and rates (subfolders keep their label)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--layout",
        choices=("auto", "gtzan", "folder"),
        default="auto",
        help="how ROOT is labelled: gtzan (<genre>.<5 digits>.<ext> files in GTZAN's layouts), folder "
        "(the folder directly under ROOT is the label) or auto: gtzan when most files are GTZAN's, "
        "else folder (default: auto)",
    )
    p.add_argument(
        "--recipe",
        choices=Names(_recipes),
        metavar="RECIPE",
        help="training recipe: %(choices)s (default: pretrained for your own folders, with class-balanced "
        "training; reference for GTZAN)",
    )
    p.add_argument(
        "--scheme",
        default="auto",
        choices=SCHEMES,
        help="how to evaluate: random (stratified 64-16-20, tested on the 20 %%), cv (stratified k-fold "
        "cross-validation, then the final model trained on every track), 80-20, filtered (GTZAN's artist "
        "split) or auto: random when its test part holds at least 50 tracks and every label 10 files, "
        "else cv (default: auto)",
    )
    p.add_argument("--folds", type=positive, default=5, metavar="K", help="folds of cv (default: 5)")
    p.add_argument("--epochs", type=positive, metavar="N", help="upper bound on epochs (default: the recipe's)")
    p.add_argument(
        "--seed", type=int, default=42, metavar="N", help="seeds the split, weights and shuffling (default: 42)"
    )
    add_device(p)
    add_workers(p, "feature-extraction processes")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_format(p, "text", "json")


def describe_found(data: FeatureSet, layout: str, recipe: str, stream: TextIO) -> None:
    """Print what was found under the root: layout, labels with their file counts, skipped files and why."""
    counts = [sum(1 for t in data.targets if t == i) for i in range(len(data.classes))]
    labels = "genres" if layout == "gtzan" else "labels"
    print(
        f"found {len(data.targets)} files in {len(data.classes)} {labels} ({layout} layout; {recipe} recipe): "
        + ", ".join(f"{c} {n}" for c, n in zip(data.classes, counts, strict=True)),
        file=stream,
    )
    if data.skipped:
        print(f"skipped {len(data.skipped)} files:", file=stream)
        for s in data.skipped:
            print(f"  {s.path}: {s.reason}", file=stream)


def _summary(result: ExperimentResult) -> str:
    m = result.metrics
    worst, worst_recall = m.worst_recall
    recalls = ", ".join(f"{c} {v['recall']:.2f}" for c, v in m.per_class.items())
    if result.scheme == "cv":
        from musicgenre.evaluation.report import mean_std

        spread = mean_std(result.fold_accuracy)
        return (
            f"{result.recipe} recipe, {result.folds}-fold cross-validation, seed {result.seed}: accuracy "
            f"{spread['mean']:.3f} ± {spread['std']:.3f} (mean ± standard deviation over the {result.folds} folds; "
            f"{m.accuracy:.3f} over all tracks, each tested once), weighted F1 {m.f1:.3f}\n"
            f"recall per label: {recalls} (worst {worst} {worst_recall:.2f})\n"
            "final model trained on every track"
            + (f" for {result.epochs} epochs (the median of the folds' best epochs)" if result.epochs > 1 else "")
        )
    return (
        f"{result.recipe} recipe, {result.scheme} split, seed {result.seed}: {result.evaluated_on} accuracy "
        f"{m.accuracy:.3f} (segments {result.segment_accuracy:.3f}), weighted F1 {m.f1:.3f}, "
        f"worst recall {worst} {worst_recall:.2f}; {result.epochs} epochs (best {result.best_epoch})\n"
        f"recall per label: {recalls}"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre train`` with the parsed *args*; return the exit status (2: a label too small)."""
    from musicgenre.data.layout import detect_layout
    from musicgenre.errors import TooFewFilesError
    from musicgenre.experiment import load_data, result_dict, run_planned
    from musicgenre.splits import EvaluationPlan, plan_evaluation

    layout = detect_layout(args.root) if args.layout == "auto" else args.layout
    recipe = args.recipe or DEFAULT_RECIPES[layout]
    info = sys.stderr if args.format == "json" else sys.stdout
    data = load_data(args.root, recipe, layout=layout, num_workers=args.workers)
    describe_found(data, layout, recipe, info)
    try:
        plan = plan_evaluation(data.targets, data.classes, folds=args.folds)
    except TooFewFilesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.scheme != "auto" and args.scheme != plan.scheme:
        plan = EvaluationPlan(args.scheme, args.folds if args.scheme == "cv" else None, f"--scheme {args.scheme}")
    print(f"evaluation: {plan.reason}", file=info)
    info.flush()
    result = run_planned(
        args.root, args.out, plan, recipe=recipe, data=data, seed=args.seed, max_epochs=args.epochs,
        device=args.device, plots=not args.no_plots,
    )  # fmt: skip
    if args.format == "json":
        print_json(nan_to_none(result_dict(result)))
        return 0
    print(result.metrics.report)
    print(_summary(result))
    plots = "" if args.no_plots else ", plots"
    print(f"wrote metrics.json, report.txt{plots} and model.ckpt to {result.out}")
    return 0
