"""``musicgenre export``: a checkpoint's model as TorchScript or ONNX."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from musicgenre.cli._options import PROG, add_command
from musicgenre.cli._output import print_json

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add ``export`` and its options to *sub* (``add_subparsers()``'s result)."""
    p = add_command(
        sub,
        "export",
        "Export a checkpoint's model to TorchScript or ONNX (input: the model's frames, batched; output: logits).",
        f"{PROG} export runs/gtzan/model.ckpt --format onnx --out model.onnx",
        run,
    )
    p.add_argument("checkpoint", type=Path, help="a .ckpt file")
    p.add_argument("--format", choices=("torchscript", "onnx"), required=True, help="export format")
    p.add_argument("--out", type=Path, help="destination (default: the checkpoint's name with .pt or .onnx)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``musicgenre export`` with the parsed *args*; return the exit status."""
    from musicgenre.export import export_onnx, export_torchscript
    from musicgenre.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    out = args.out or args.checkpoint.with_suffix(".onnx" if args.format == "onnx" else ".pt")
    export = export_onnx if args.format == "onnx" else export_torchscript
    path = export(ckpt.model, out, classes=ckpt.classes, features=ckpt.features)
    spec = ckpt.model.input_spec(ckpt.features)
    shape = list(spec.shape)
    if args.json:
        report = {"path": str(path), "format": args.format, "input": spec.name, "input_shape": shape}
        print_json({**report, "classes": ckpt.classes})
    else:
        print(
            f"wrote {path} ({args.format}; input {spec.name} {tuple(shape)}, "
            f"output logits for {len(ckpt.classes)} classes)"
        )
    return 0
