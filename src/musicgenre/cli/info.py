"""``musicgenre info``: what a checkpoint holds (labels, model and feature config, metrics, version)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicgenre._version import __version__
from musicgenre.cli._options import PROG, add_command, add_format
from musicgenre.cli._output import nan_to_none, print_json, write_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``info`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "info",
        "Show what a checkpoint holds: labels, model and feature config, metrics, version.",
        f"{PROG} info runs/gtzan/model.ckpt --format json",
        run,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file")
    add_format(p, "text", "json")


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def _fields(values: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()) or "-"


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre info`` with the parsed *args*; return the exit status."""
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
        print_json(nan_to_none(info))
        return 0
    rows: list[list[str]] = [
        ["checkpoint", info["checkpoint"]],
        ["written by", f"musicgenre {ckpt.version} (this is {__version__})"],
        ["model", f"{info['model_class']}, {info['parameters']:,} parameters"],
        ["config", _fields(info["model_config"])],
        ["features", _fields(info["features"])],
        ["classes", f"{len(ckpt.classes)}: {', '.join(ckpt.classes)}"],
        ["metrics", _fields(info["metrics"])],
        ["extra", _fields(info["extra"])],
    ]
    if info["resumable_after_epoch"] is not None:
        rows.append(["resumable", f"yes, after epoch {info['resumable_after_epoch']} (Trainer.fit(resume_from=...))"])
    write_table(rows)
    return 0
