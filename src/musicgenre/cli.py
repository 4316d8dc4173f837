"""The ``musicgenre`` command (also ``python -m musicgenre``): a thin shell over the library.

Subcommands: ``train``, ``evaluate``, ``predict``, ``tags``, ``info`` and ``export``;
``musicgenre COMMAND --help`` shows each one's options and an example. Exit status: 0 on
success, 1 when something failed (for ``predict`` and ``tags``: when any file could not
be classified or tagged; the others still are), 2 on a usage error. Errors are one
``error: ...`` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, overload

from musicgenre._version import __version__
from musicgenre.errors import MusicGenreError

if TYPE_CHECKING:
    from musicgenre.inference import FailedPrediction

__all__ = ["build_parser", "main", "run"]

PROG = "musicgenre"
Command = Callable[[argparse.Namespace], int]


# -- helpers ---------------------------------------------------------------------------
def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, allow_nan=False, default=str)
    sys.stdout.write("\n")


def _nan_to_none(value: Any) -> Any:
    """JSON has no NaN: metrics without a validation set become ``null``."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _table(rows: Sequence[Sequence[str]], out: TextIO, *, right: Sequence[int] = ()) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  ".join(cells).rstrip() + "\n")


# -- predict ---------------------------------------------------------------------------
def _cmd_predict(args: argparse.Namespace) -> int:
    planned = _plan_inputs(args.inputs)
    files = [p for p in planned if isinstance(p, Path)]
    from musicgenre.inference import FailedPrediction, GenreClassifier, Prediction, SegmentPrediction

    classifier = GenreClassifier.from_checkpoint(
        args.checkpoint, overlap=args.overlap, batch_size=args.batch_size, device=args.device
    )
    # --format jsonl streams the timeline: each window's line is written as soon as it is scored.
    stream = args.format == "jsonl" and args.timeline

    def write_window(path: Path, segment: SegmentPrediction) -> None:
        sys.stdout.write(json.dumps({"path": str(path), **segment.to_dict()}, allow_nan=False) + "\n")
        sys.stdout.flush()

    predicted = iter(
        classifier.predict_many(
            files,
            top_k=args.top_k,
            timeline=args.timeline and not stream,
            batch_size=args.files_per_batch,
            num_workers=args.workers,  # None: one per usable core, or 0 for a few files (default_workers)
            on_segment=write_window if stream else None,
        )
    )
    results = [p if isinstance(p, FailedPrediction) else next(predicted) for p in planned]
    failed = [r for r in results if isinstance(r, FailedPrediction)]
    for failure in failed:
        print(f"error: {failure.error}", file=sys.stderr)

    if args.format == "json":
        _print_json(
            {
                "checkpoint": str(args.checkpoint),
                "classes": list(classifier.classes),
                "overlap": classifier.overlap,
                "files": len(results),
                "failed": len(failed),
                "results": [r.to_dict() for r in results],
            }
        )
    elif args.format == "jsonl":
        for r in results:
            sys.stdout.write(json.dumps(r.to_dict(), allow_nan=False, default=str) + "\n")
    elif args.format == "csv":
        k = min(args.top_k, len(classifier.classes))
        writer = csv.writer(sys.stdout, lineterminator="\n")
        ranks = [col for i in range(1, k + 1) for col in (f"genre_{i}", f"probability_{i}")]
        writer.writerow(["path", *ranks, "duration", "segments", "error"])
        for r in results:
            if isinstance(r, Prediction):
                pairs = [v for genre, p in r.top_k for v in (genre, f"{p:.6f}")]
                writer.writerow([str(r.path), *pairs, f"{r.duration:.3f}", r.segments, ""])
            else:
                writer.writerow([str(r.path), *[""] * len(ranks), "", "", r.error])
    else:
        ok = [r for r in results if isinstance(r, Prediction)]
        if ok:
            k = min(args.top_k, len(classifier.classes))
            header = ["file", *(f"genre {i}" if i > 1 else "genre" for i in range(1, k + 1))]
            width = max(map(len, classifier.classes))
            rows = [header] + [[str(r.path), *(f"{g:<{width}} {p:6.1%}" for g, p in r.top_k)] for r in ok]
            _table(rows, sys.stdout)
    if failed:
        print(f"error: {len(failed)} of {len(results)} inputs could not be classified", file=sys.stderr)
        return 1
    return 0


# -- tags ------------------------------------------------------------------------------
def _plan_inputs(inputs: Sequence[Path]) -> list[Path | FailedPrediction]:
    """Files as given (tried whatever their extension); folders searched recursively for audio files.

    A folder without any audio file is a failed input of its own.
    """
    from musicgenre.io import AUDIO_EXTENSIONS, find_audio_files

    planned: list[Path | FailedPrediction] = []
    for item in inputs:
        if item.is_dir():
            found = find_audio_files(item)
            if found:
                planned.extend(found)
                continue
            from musicgenre.inference import FailedPrediction

            exts = ", ".join(AUDIO_EXTENSIONS)
            planned.append(FailedPrediction(item, f"{item}: no audio files ({exts}) in this folder"))
        else:
            planned.append(item)
    return planned


def _cmd_tags(args: argparse.Namespace) -> int:
    planned = _plan_inputs(args.inputs)
    files = [p for p in planned if isinstance(p, Path)]
    from musicgenre.inference import FailedPrediction
    from musicgenre.tagging import Tagger, TagResult

    tagger = Tagger.from_pretrained(args.model, batch_size=args.batch_size, device=args.device)
    tagged = iter(
        tagger.tag_many(
            files,
            top_k=args.top_k,
            files_per_batch=args.files_per_batch,
            num_workers=args.workers,
        )
    )
    results = [p if isinstance(p, FailedPrediction) else next(tagged) for p in planned]
    failed = [r for r in results if isinstance(r, FailedPrediction)]
    for failure in failed:
        print(f"error: {failure.error}", file=sys.stderr)

    k = min(args.top_k, len(tagger.labels))
    if args.format == "json":
        _print_json(
            {
                "model": tagger.name,
                "labels": list(tagger.labels),
                "files": len(results),
                "failed": len(failed),
                "results": [r.to_dict() for r in results],
            }
        )
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        ranks = [col for i in range(1, k + 1) for col in (f"tag_{i}", f"probability_{i}")]
        writer.writerow(["path", *ranks, *tagger.labels, "duration", "patches", "error"])
        for r in results:
            if isinstance(r, TagResult):
                pairs = [v for tag, p in r.top_k for v in (tag, f"{p:.6f}")]
                every = [f"{r.tags[tag]:.6f}" for tag in tagger.labels]
                writer.writerow([str(r.path), *pairs, *every, f"{r.duration:.3f}", r.patches, ""])
            else:
                writer.writerow([str(r.path), *[""] * (len(ranks) + len(tagger.labels) + 2), r.error])
    else:
        ok = [r for r in results if isinstance(r, TagResult)]
        if ok:
            header = ["file", *(f"tag {i}" if i > 1 else "tag" for i in range(1, k + 1))]
            width = max(len(tag) for r in ok for tag, _ in r.top_k)
            rows = [header] + [[str(r.path), *(f"{t:<{width}} {p:6.1%}" for t, p in r.top_k)] for r in ok]
            _table(rows, sys.stdout)
    if failed:
        print(f"error: {len(failed)} of {len(results)} inputs could not be tagged", file=sys.stderr)
        return 1
    return 0


# -- info ------------------------------------------------------------------------------
def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def _cmd_info(args: argparse.Namespace) -> int:
    from musicgenre.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    trainer = ckpt.extra.get("trainer")
    info: dict[str, Any] = {
        "checkpoint": str(args.checkpoint),
        "library_version": ckpt.version,
        "model_class": type(ckpt.model).__name__,
        "parameters": sum(p.numel() for p in ckpt.model.parameters()),
        "classes": ckpt.classes,
        "model_config": ckpt.model.get_config(),
        "features": ckpt.features.to_dict(),
        "metrics": ckpt.metrics,
        # Trainer state (optimiser tensors...) is summarised, not dumped.
        "extra": {k: v for k, v in ckpt.extra.items() if k != "trainer" and _plain(v)},
        "resumable_after_epoch": trainer.get("epoch") if isinstance(trainer, dict) else None,
    }
    if args.format == "json":
        _print_json(_nan_to_none(info))
        return 0

    def fields(values: dict[str, Any]) -> str:
        return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()) or "-"

    rows: list[list[str]] = [
        ["checkpoint", info["checkpoint"]],
        ["written by", f"musicgenre {ckpt.version} (this is {__version__})"],
        ["model", f"{info['model_class']}, {info['parameters']:,} parameters"],
        ["config", fields(info["model_config"])],
        ["features", fields(info["features"])],
        ["classes", f"{len(ckpt.classes)}: {', '.join(ckpt.classes)}"],
        ["metrics", fields(info["metrics"])],
        ["extra", fields(info["extra"])],
    ]
    if info["resumable_after_epoch"] is not None:
        rows.append(["resumable", f"yes, after epoch {info['resumable_after_epoch']} (Trainer.fit(resume_from=...))"])
    _table(rows, sys.stdout)
    return 0


# -- export ----------------------------------------------------------------------------
def _cmd_export(args: argparse.Namespace) -> int:
    from musicgenre.export import export_onnx, export_torchscript
    from musicgenre.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    out = args.out or args.checkpoint.with_suffix(".onnx" if args.format == "onnx" else ".pt")
    export = export_onnx if args.format == "onnx" else export_torchscript
    path = export(ckpt.model, out, classes=ckpt.classes, features=ckpt.features)
    cfg = ckpt.model.config
    shape = ["batch", 1, cfg.n_mels, "frames" if cfg.global_pool else cfg.n_frames]
    if args.json:
        _print_json({"path": str(path), "format": args.format, "input_shape": shape, "classes": ckpt.classes})
    else:
        print(
            f"wrote {path} ({args.format}; input log-mel {tuple(shape)}, output logits for {len(ckpt.classes)} classes)"
        )
    return 0


# -- train / evaluate ------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace) -> int:
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
        _print_json(_nan_to_none(result_dict(result)))
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


def _cmd_evaluate(args: argparse.Namespace) -> int:
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
        _print_json(
            _nan_to_none({"checkpoint": str(args.checkpoint), "out": str(out), **result.summary(), **metrics.to_dict()})
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


# -- parser ----------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _overlap(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


class _Names(Sequence[str]):
    """Choices read from a registry on first use: building the parser imports no PyTorch."""

    def __init__(self, load: Callable[[], list[str]]) -> None:
        self._load = load
        self._names: list[str] | None = None

    def _list(self) -> list[str]:
        if self._names is None:
            self._names = self._load()
        return self._names

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __contains__(self, value: object) -> bool:
        return value in self._list()


def _recipes() -> list[str]:
    from musicgenre.recipes import RECIPES

    return sorted(RECIPES)


def _pretrained() -> list[str]:
    from musicgenre.models.pretrained import list_pretrained

    return list_pretrained()


def _add_command(
    sub: Any, name: str, summary: str, example: str, command: Command, **kwargs: Any
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    parser.set_defaults(command=command)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``musicgenre`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify music audio into genres: train, evaluate, predict, inspect and export models.",
        epilog=f"example:\n  {PROG} predict --checkpoint runs/gtzan/model.ckpt song.mp3 albums/\n\n"
        f"Run '{PROG} COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (epochs, files) to stderr")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    p = _add_command(
        sub,
        "train",
        "Train a recipe on a GTZAN folder; write metrics, report, plots and model.ckpt.",
        f"{PROG} train --root ~/data/gtzan --out runs/gtzan --recipe reference --seed 42",
        _cmd_train,
    )
    p.add_argument("--root", type=Path, required=True, help="GTZAN folder (any layout)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--recipe",
        default="reference",
        choices=_Names(_recipes),
        metavar="RECIPE",
        help="training recipe: %(choices)s (default: reference)",
    )
    p.add_argument(
        "--scheme", default="random", help="how to split: random (64-16-20), 80-20 or filtered (default: random)"
    )
    p.add_argument("--epochs", type=_positive, metavar="N", help="upper bound on epochs (default: the recipe's)")
    p.add_argument(
        "--seed", type=int, default=42, metavar="N", help="seeds the split, weights and shuffling (default: 42)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument(
        "--workers",
        type=_non_negative,
        metavar="N",
        help="feature-extraction processes (default: one per usable core, or 0 for fewer than 4 files per core)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = _add_command(
        sub,
        "evaluate",
        "Score a checkpoint on one part of a scheme's split; print the metrics, write report and plots.",
        f"{PROG} evaluate --checkpoint runs/gtzan/model.ckpt --root ~/data/gtzan --part test",
        _cmd_evaluate,
    )
    p.add_argument("--checkpoint", "-c", type=Path, required=True, metavar="CKPT", help="model.ckpt to evaluate")
    p.add_argument("--root", type=Path, required=True, help="GTZAN folder (any layout)")
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
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = _add_command(
        sub,
        "predict",
        "Predict the genre of whole tracks: files, or folders searched recursively. One line per file.",
        f"{PROG} predict --checkpoint model.ckpt song.mp3 albums/ --top-k 3 --format json",
        _cmd_predict,
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="FILE_OR_DIR", help="audio files and/or folders")
    p.add_argument("--checkpoint", "-c", type=Path, required=True, metavar="CKPT", help="model.ckpt to predict with")
    p.add_argument("--top-k", type=_positive, default=3, metavar="K", help="genres to show per file (default: 3)")
    p.add_argument(
        "--format",
        choices=("table", "json", "csv", "jsonl"),
        default="table",
        help="output format (default: table); jsonl: one JSON object per file, and with --timeline one per window "
        "first, written as each window is scored",
    )
    p.add_argument(
        "--overlap",
        type=_overlap,
        metavar="F",
        help="fraction of a window the next one overlaps, in [0, 1) (default: the model's recipe's, else 0)",
    )
    p.add_argument(
        "--timeline", action="store_true", help="include every window's prediction (needs --format json or jsonl)"
    )
    p.add_argument(
        "--workers",
        type=_non_negative,
        metavar="N",
        help="processes that each decode a file, compute its features and (on the CPU) run the model, one torch "
        "thread each (default: one per usable core, or 0 for fewer than 4 files per core)",
    )
    p.add_argument(
        "--batch-size", type=_positive, default=32, metavar="N", help="windows per forward pass (default: 32)"
    )
    p.add_argument(
        "--files-per-batch", type=_positive, default=4, metavar="N", help="files decoded per batch (default: 4)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")

    p = _add_command(
        sub,
        "tags",
        "Tag whole tracks with a pretrained musicnn model (no checkpoint needed): files, or folders searched.",
        f"{PROG} tags song.mp3 albums/ --model MTT_musicnn --top-k 5 --format json",
        _cmd_tags,
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="FILE_OR_DIR", help="audio files and/or folders")
    p.add_argument(
        "--model",
        default="MSD_musicnn",
        choices=_Names(_pretrained),
        metavar="MODEL",
        help="MSD_musicnn (50 last.fm tags: genres, moods, eras) or MTT_musicnn (50 MagnaTagATune tags: "
        "instruments, genres, vocals) (default: MSD_musicnn)",
    )
    p.add_argument("--top-k", type=_positive, default=5, metavar="K", help="tags to show per file (default: 5)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text", help="output format (default: text)")
    p.add_argument(
        "--workers",
        type=_non_negative,
        metavar="N",
        help="processes that each decode a file, compute its log-mel and (on the CPU) run the model, one torch "
        "thread each (default: one per usable core, or 0 for fewer than 4 files per core)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive,
        metavar="N",
        help="3-s patches per forward pass (default: 4 on the CPU, 64 on an accelerator)",
    )
    p.add_argument("--files-per-batch", type=_positive, default=4, metavar="N", help="files per batch (default: 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")

    p = _add_command(
        sub,
        "info",
        "Show what a checkpoint holds: labels, model and feature config, metrics, version.",
        f"{PROG} info runs/gtzan/model.ckpt --format json",
        _cmd_info,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = _add_command(
        sub,
        "export",
        "Export a checkpoint's model to TorchScript or ONNX (input: log-mel batch; output: logits).",
        f"{PROG} export runs/gtzan/model.ckpt --format onnx --out model.onnx",
        _cmd_export,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file")
    p.add_argument("--format", choices=("torchscript", "onnx"), required=True, help="export format")
    p.add_argument("--out", type=Path, help="destination (default: the checkpoint's name with .pt or .onnx)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``musicgenre`` command with *argv* (default: ``sys.argv[1:]``) and return its exit status.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    musicgenre ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (status 2)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "timeline", False) and args.format not in ("json", "jsonl"):
        print(f"{PROG} predict: error: --timeline needs --format json or jsonl", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    command: Command = args.command
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # one line each, no source excerpt
            return command(args)
    except MusicGenreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``musicgenre`` program: :func:`main`, then end the process at once.

    Once the command is done and its output flushed, the exit handlers run
    (:mod:`atexit`: logging, multiprocessing) and the process ends without tearing down
    the interpreter module by module: with PyTorch loaded that teardown takes about a
    second on a 2-core machine, a fifth of ``musicgenre predict`` on 200 files. Call
    :func:`main` to run a command inside a Python program.
    """
    code = main(argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away, or a closed stream
        code = code or 1
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython; elsewhere the full exit
    if run_exit_handlers is None:
        raise SystemExit(code)
    run_exit_handlers()
    os._exit(code)
