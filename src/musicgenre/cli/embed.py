"""``musicgenre embed``: every file's pretrained musicnn embedding, written as a Parquet table."""

from __future__ import annotations

import argparse
from typing import Any

from musicgenre.cli._catalogue import add_catalogue, run_job
from musicgenre.cli._options import (
    PROG,
    add_command,
    add_device,
    add_files_per_batch,
    add_inputs,
    add_pretrained_model,
    add_workers,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``embed`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "embed",
        "Write each track's mean musicnn embedding (files, or folders searched) to a Parquet table: one row per "
        "file, errors included, resumable.",
        f"{PROG} embed albums/ --output embeddings.parquet --layer penultimate",
        run,
    )
    add_inputs(p)
    add_pretrained_model(
        p,
        "MSD_musicnn or MTT_musicnn (default: MSD_musicnn)",
    )
    p.add_argument(
        "--layer",
        choices=("pooled", "penultimate"),
        default="pooled",
        help="pooled: the 1,506-d pooled features (what the pretrained recipe's head reads); penultimate: the "
        "200-d embedding (default: pooled)",
    )
    add_workers(p, "processes that each decode a file and run the model, one torch thread each")
    add_files_per_batch(p, "files per batch")
    add_device(p)
    add_catalogue(p, required=True)


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre embed`` with the parsed *args*; return the exit status (1 if any input failed)."""
    return run_job(args, "embed", model=args.model, layer=args.layer)
