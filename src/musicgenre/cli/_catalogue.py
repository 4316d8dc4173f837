"""``--output OUT.parquet`` / ``--engine ray``: ``predict``, ``tags`` and ``embed`` writing a catalogue table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from musicgenre.cli._options import PROG, positive

__all__ = ["add_catalogue", "run_job", "wants_catalogue"]


def add_catalogue(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """The options of a catalogue run: ``--output``, ``--engine``, ``--address``, ``--concurrency``..."""
    group = parser.add_argument_group("catalogue (a Parquet table, one row per file, resumable)")
    group.add_argument(
        "--output",
        type=Path,
        required=required,
        metavar="OUT.parquet",
        help="write a Parquet table (a folder of parts, one row per input file, errors included) instead of "
        "printing; re-running the same command skips the files already in it (needs the ray extra: "
        "pip install 'musicgenre[ray]')",
    )
    group.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process and its workers (default); ray: Ray Data actors, on the cluster of --address "
        "or a local Ray on 127.0.0.1 (needs --output)",
    )
    group.add_argument("--address", metavar="ADDRESS", help="Ray cluster to use (default: $RAY_ADDRESS, else local)")
    group.add_argument("--concurrency", type=positive, metavar="N", help="Ray actors (default: one per CPU)")
    group.add_argument("--num-gpus", type=float, default=0.0, metavar="F", help="GPUs per Ray actor (default: 0)")
    group.add_argument(
        "--files-per-part", type=positive, default=1000, metavar="N", help="rows per Parquet part (default: 1000)"
    )


def wants_catalogue(args: argparse.Namespace) -> bool:
    """Whether the command writes a catalogue (``--output``) rather than printing its results."""
    return args.output is not None or args.engine == "ray"


def run_job(args: argparse.Namespace, job: str, *, model: str = "MSD_musicnn", layer: str = "pooled") -> int:
    """Run *job* (``predict``, ``tags``, ``embed``) into ``args.output``; print a summary; the exit status."""
    if args.output is None:
        print(f"{PROG} {job}: error: --engine ray needs --output OUT.parquet", file=sys.stderr)
        return 2
    from musicgenre.catalogue import run_catalogue

    checkpoint: Any = getattr(args, "checkpoint", None)
    summary = run_catalogue(
        job,  # type: ignore[arg-type]
        [str(i) for i in args.inputs],
        args.output,
        engine=args.engine,
        checkpoint=checkpoint,
        model=model,
        layer=layer,  # type: ignore[arg-type]
        device=args.device,
        address=args.address,
        concurrency=args.concurrency,
        num_gpus=args.num_gpus,
        num_workers=args.workers,
        files_per_part=args.files_per_part,
        files_per_batch=args.files_per_batch,
    )
    if sys.stderr is not None:
        print(
            f"{PROG} {job}: {summary.files} files: {summary.computed} computed ({summary.failed} failed), "
            f"{summary.done_before} done before -> {summary.output} ({summary.seconds:.1f} s)",
            file=sys.stderr,
        )
    return 1 if summary.failed else 0
