"""``musicgenre tags``: tag whole tracks (files, or folders searched) with a pretrained musicnn model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from musicgenre.cli._catalogue import add_catalogue, run_job, wants_catalogue
from musicgenre.cli._inputs import gather, plan_inputs
from musicgenre.cli._options import (
    PROG,
    add_batch_size,
    add_command,
    add_device,
    add_files_per_batch,
    add_format,
    add_inputs,
    add_pretrained_model,
    add_timeline,
    add_top_k,
    add_workers,
)
from musicgenre.cli._output import FileRow, Layout, write_results
from musicgenre.cli._plots import plot_check, write_plots

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``tags`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "tags",
        "Tag whole tracks with a pretrained musicnn model (no checkpoint needed): files, or folders searched.",
        f"{PROG} tags song.mp3 albums/ --model MTT_musicnn --top-k 5 --format json",
        run,
    )
    add_inputs(p)
    add_pretrained_model(
        p,
        "MSD_musicnn (50 last.fm tags: genres, moods, eras) or MTT_musicnn (50 MagnaTagATune tags: "
        "instruments, genres, vocals) (default: MSD_musicnn)",
    )
    add_top_k(p, 5, "tags")
    add_format(p, "text", "json", "csv")
    add_timeline(p, "3-s patch", formats="json")
    add_workers(
        p,
        "processes that each decode a file, compute its log-mel and (on the CPU) run the model, one torch thread each",
    )
    add_batch_size(p, None, "3-s patches per forward pass (default: 4 on the CPU, 64 on an accelerator)")
    add_files_per_batch(p, "files per batch")
    add_device(p)
    add_catalogue(p)


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre tags`` with the parsed *args*; return the exit status (1 if any input failed)."""
    if wants_catalogue(args):
        return run_job(args, "tags", model=args.model)
    problem = plot_check(args, ("json",))
    if problem is not None:
        print(f"{PROG} tags: error: {problem}", file=sys.stderr)
        return 2
    planned = plan_inputs(args.inputs)
    files = [p for p in planned if isinstance(p, Path)]
    from musicgenre.predict import Tagger, TagResult

    tagger = Tagger.from_pretrained(args.model, batch_size=args.batch_size, device=args.device)
    labels = tagger.labels
    tagged = tagger.tag_many(
        files, top_k=args.top_k, timeline=args.timeline, files_per_batch=args.files_per_batch, num_workers=args.workers
    )
    if args.plot is not None:
        write_plots([r for r in tagged if isinstance(r, TagResult)], args.plot)
    rows = gather(
        planned,
        (
            FileRow(
                str(r.path),
                r.to_dict(),
                r.top_k,
                (*(f"{r.tags[tag]:.6f}" for tag in labels), f"{r.duration:.3f}", str(r.patches)),
            )
            if isinstance(r, TagResult)
            else FileRow.failure(r.path, r.error)
            for r in tagged
        ),
    )
    layout = Layout(
        "tag",
        min(args.top_k, len(labels)),
        "tagged",
        header={"model": tagger.name, "labels": list(labels)},
        columns=(*labels, "duration", "patches"),
    )
    return write_results(rows, args.format, layout)
