"""The command line before and after a change, side by side in one run: ``musicgenre predict`` and ``tags``.

    python benchmarks/before_after.py --before /path/to/old-checkout/src            # 200 files per format
    python benchmarks/before_after.py --before ../old/src --tracks 50 --repeats 1 --models reference tags

Runs ``python -m musicgenre predict`` (reference, improved and pretrained checkpoints) and
``python -m musicgenre tags`` (MSD_musicnn) on ``--tracks`` 30-s files per format (22.05 kHz
mono WAV, 44.1 kHz stereo MP3; the real clips of ``../shared/data/gtzan-mini`` where present,
see ``real_path.prediction_sets``), each command with the library of ``--before`` and with
this checkout's, taking turns (before, after, before, after ...), start-up included, default
workers. The checkpoints are written by the *before* library, so the *after* one also shows
that it reads them. Prints one Markdown table: wall seconds (median of ``--repeats``), audio
seconds per wall second, and after / before (below 1: the change made it faster), plus
whether the two printed the same CSV. With ``--own-checkpoints`` each side writes its own
checkpoints (so each serves its own recipes' windows; the CSVs of a recipe whose windows
changed then differ), and a last table gives each side's pretrained predict speed as a
fraction of its tags speed on the same files (tags wall / predict wall).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import REPO, machine, run_child, spread, table
from real_path import prediction_sets

MODELS = ("reference", "improved", "pretrained", "tags")
FORMATS = ("22.05 kHz mono WAV", "44.1 kHz stereo MP3")

#: Written by the *before* library, in a child with its src first: self-contained, so that it
#: runs with any version that has these public names (the benchmark's own modules may not).
_CHECKPOINTS = """
from pathlib import Path
import torch
from musicgenre.genres import GENRES
from musicgenre.models import GenreCNN, MusicnnClassifier, save_checkpoint
from musicgenre.recipes import IMPROVED, PRETRAINED_MUSICNN, REFERENCE

folder = Path({folder!r})
folder.mkdir(parents=True, exist_ok=True)
for name, recipe in (("reference", REFERENCE), ("improved", IMPROVED)):
    model = GenreCNN(recipe.model_config(len(GENRES)), seed=0)
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():  # batch-norm statistics as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    save_checkpoint(folder / f"{{name}}.ckpt", model.eval(), classes=GENRES, features=recipe.features,
                    windowing=recipe.windowing)
pretrained = MusicnnClassifier.from_pretrained("MSD_musicnn", len(GENRES), seed=0)
save_checkpoint(folder / "pretrained.ckpt", pretrained, classes=GENRES, features=PRETRAINED_MUSICNN.features,
                windowing=PRETRAINED_MUSICNN.windowing)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the src/ folder of the 'before' checkout")
    parser.add_argument("--tracks", type=int, default=200, help="files per format (default: 200)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command per side (default: 3)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "musicgenre-real-path")
    parser.add_argument(
        "--own-checkpoints",
        action="store_true",
        help="each side predicts with checkpoints its own library wrote (its recipes' windows), not the before side's",
    )
    return parser.parse_args(argv)


def command(model: str, folder: Path, checkpoints: Path) -> list[str]:
    if model == "tags":
        return [sys.executable, "-m", "musicgenre", "tags", str(folder), "--format", "csv"]
    checkpoint = checkpoints / f"{model}.ckpt"
    return [sys.executable, "-m", "musicgenre", "predict", "-c", str(checkpoint), str(folder), "--format", "csv"]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    before, after = args.before.resolve(), REPO / "src"
    print(machine())
    print(f"before: {before}\nafter:  {after}")
    files, source = prediction_sets(args.data_dir, args.tracks)
    sides = (("before", before), ("after", after))
    checkpoints = {side: args.data_dir / "checkpoints-before" for side, _ in sides}
    if args.own_checkpoints:
        checkpoints["after"] = args.data_dir / "checkpoints-after"
    for side, src in sides:
        if side == "before" or args.own_checkpoints:
            code = _CHECKPOINTS.format(folder=str(checkpoints[side]))
            subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(src), "PATH": ""})
    rows: list[list[str]] = []
    walls_of: dict[tuple[str, str, str], float] = {}
    for model in args.models:
        for fmt in args.formats:
            folder = files[fmt][0].parent
            audio = sum(sf.info(str(p)).duration for p in files[fmt])
            walls: dict[str, list[float]] = {"before": [], "after": []}
            outputs: dict[str, str] = {}
            for _ in range(args.repeats):
                for side, src in sides:
                    cmd = command(model, folder, checkpoints[side])
                    wall, _, out = run_child(cmd, env={"PYTHONPATH": str(src)})
                    walls[side].append(wall)
                    outputs[side] = out
            medians = {side: float(np.median(w)) for side, w in walls.items()}
            for side, median in medians.items():
                walls_of[(model, fmt, side)] = median
            same = "yes" if outputs["before"] == outputs["after"] else "no"
            rows.append(
                [
                    model,
                    fmt,
                    f"{medians['before']:.2f}",
                    f"{audio / medians['before']:,.0f}x",
                    f"{medians['after']:.2f}",
                    f"{audio / medians['after']:,.0f}x",
                    f"{medians['after'] / medians['before']:.2f}",
                    f"{spread(np.asarray(walls['before']))} / {spread(np.asarray(walls['after']))}",
                    same,
                ]
            )
    table(
        f"The command line before and after, {args.tracks} x 30-s files per format ({source}), start-up "
        f"included, default workers; wall seconds (median of {args.repeats}, the two sides taking turns)",
        ["model", "input", "before (s)", "before", "after (s)", "after", "after / before", "spread", "same CSV"],
        rows,
        left=2,
    )
    ratios = [
        [fmt, *(f"{walls_of[('tags', fmt, side)] / walls_of[('pretrained', fmt, side)]:.2f}" for side, _ in sides)]
        for fmt in args.formats
        if all((m, fmt, side) in walls_of for m in ("tags", "pretrained") for side, _ in sides)
    ]
    if ratios:
        table(
            "Pretrained predict speed as a fraction of tags speed on the same files (tags wall / predict wall)",
            ["input", "before", "after"],
            ratios,
            left=1,
        )


if __name__ == "__main__":
    main()
