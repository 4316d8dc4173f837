"""``musicgenre predict``: the genres of whole tracks (files, or folders searched), with a checkpoint's model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgenre.cli._catalogue import add_catalogue, run_job, wants_catalogue
from musicgenre.cli._inputs import gather, plan_inputs
from musicgenre.cli._options import (
    PROG,
    add_batch_size,
    add_checkpoint,
    add_command,
    add_device,
    add_files_per_batch,
    add_format,
    add_inputs,
    add_timeline,
    add_top_k,
    add_workers,
    overlap,
)
from musicgenre.cli._output import FileRow, Layout, write_results
from musicgenre.cli._plots import StreamedTimeline, plot_check, write_plots

if TYPE_CHECKING:
    from musicgenre.predict import SegmentPrediction

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``predict`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "predict",
        "Predict the genre of whole tracks: files, or folders searched recursively. One line per file.",
        f"{PROG} predict --checkpoint model.ckpt song.mp3 albums/ --top-k 3 --format json",
        run,
    )
    add_inputs(p)
    add_checkpoint(p, "to predict with")
    add_top_k(p, 3, "genres")
    add_format(
        p,
        "table",
        "json",
        "csv",
        "jsonl",
        more="; jsonl: one JSON object per file, and with --timeline one per window first, written as each window "
        "is scored",
    )
    p.add_argument(
        "--overlap",
        type=overlap,
        metavar="F",
        help="fraction of a window the next one overlaps, in [0, 1) (default: the model's recipe's, else 0)",
    )
    add_timeline(p, "window", formats="json or jsonl")
    add_workers(
        p,
        "processes that each decode a file, compute its features and (on the CPU) run the model, one torch thread each",
    )
    add_batch_size(p, 32, "windows per forward pass (default: 32)")
    add_files_per_batch(p, "files decoded per batch")
    add_device(p)
    add_catalogue(p)


class _WindowWriter:
    """``--format jsonl --timeline``: each window's line, written as soon as it is scored (and kept for ``--plot``)."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.timelines: dict[Path, StreamedTimeline] = {}

    def __call__(self, path: Path, segment: SegmentPrediction) -> None:
        sys.stdout.write(json.dumps({"path": str(path), **segment.to_dict()}, allow_nan=False) + "\n")
        sys.stdout.flush()
        if self.keep:
            self.timelines.setdefault(path, StreamedTimeline(path)).timeline.append(segment)


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre predict`` with the parsed *args*; return the exit status (1 if any input failed)."""
    if wants_catalogue(args):
        return run_job(args, "predict")
    problem = plot_check(args, ("json", "jsonl"))
    if problem is not None:
        print(f"{PROG} predict: error: {problem}", file=sys.stderr)
        return 2
    planned = plan_inputs(args.inputs)
    files = [p for p in planned if isinstance(p, Path)]
    from musicgenre.predict import GenreClassifier, Prediction

    classifier = GenreClassifier.from_checkpoint(
        args.checkpoint, overlap=args.overlap, batch_size=args.batch_size, device=args.device
    )
    stream = args.format == "jsonl" and args.timeline  # each window's line first, as it is scored
    writer = _WindowWriter(keep=args.plot is not None)
    predicted = classifier.predict_many(
        files,
        top_k=args.top_k,
        timeline=args.timeline and not stream,
        files_per_batch=args.files_per_batch,
        num_workers=args.workers,  # None: one per usable core, or 0 for a few files (default_workers)
        on_segment=writer if stream else None,
    )
    if args.plot is not None:
        timed = [p for p in predicted if isinstance(p, Prediction)]
        if stream:
            for p in timed:
                writer.timelines.setdefault(p.path or Path(), StreamedTimeline(p.path)).duration = p.duration
        write_plots([*writer.timelines.values()] if stream else timed, args.plot)
    rows = gather(
        planned,
        (
            FileRow(str(r.path), r.to_dict(), r.top_k, (f"{r.duration:.3f}", str(r.segments)))
            if isinstance(r, Prediction)
            else FileRow.failure(r.path, r.error)
            for r in predicted
        ),
    )
    classes = classifier.classes
    layout = Layout(
        "genre",
        min(args.top_k, len(classes)),
        "classified",
        header={"checkpoint": str(args.checkpoint), "classes": list(classes), "overlap": classifier.overlap},
        columns=("duration", "segments"),
        width=max(map(len, classes)),
    )
    return write_results(rows, args.format, layout)
