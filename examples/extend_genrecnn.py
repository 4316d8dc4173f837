"""
Extend GenreCNN in your own project
===================================

Subclass it, swap a block, fine-tune a new head:

1. ``ResidualGenreCNN`` overrides ``make_block`` to put a residual block in place of the
   second conv block, and is registered so checkpoints can name it.
2. It is trained on genres (the synthetic GTZAN-shaped set; ``--root`` for real GTZAN).
3. Fine-tuning on your own labels: ``reset_classifier`` puts a fresh 3-class head on it
   (calm / groovy / loud, derived from the genres), the backbone is frozen, and only the
   head is trained.
4. The result is saved with ``save_checkpoint`` and reloaded by class name with
   ``load_checkpoint``: same class, same outputs.

The run shown in the documentation uses 5 synthetic clips of 2 s per genre and 3 epochs
per training, so its accuracies mean nothing; on real GTZAN::

    python examples/extend_genrecnn.py --out runs/extend
    python examples/extend_genrecnn.py --root ~/data/gtzan --out runs/extend --max-epochs 30
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn

import musicgenre as mg
from musicgenre.data import FeatureSet
from musicgenre.evaluation import evaluate_tracks
from musicgenre.experiment import load_data
from musicgenre.models import register_model
from musicgenre.recipes import REFERENCE
from musicgenre.synthetic import make_synthetic_gtzan

RECIPE = REFERENCE  # 5-s log-mel windows of 64 bands
COARSE = {"calm": ("blues", "classical", "country", "jazz"), "groovy": ("disco", "hiphop", "pop", "reggae"),
          "loud": ("metal", "rock")}  # fmt: skip


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a 1x1 shortcut, then 2x2 max-pooling (halves height and width)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(torch.relu(self.conv1(x)))
        pooled: torch.Tensor = self.pool(torch.relu(out + self.shortcut(x)))
        return pooled


@register_model  # checkpoints store the class name; registering lets load_checkpoint rebuild it
class ResidualGenreCNN(mg.GenreCNN):
    """GenreCNN with a residual second block; everything else (head, config, checkpoints) is inherited."""

    def make_block(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        if index == 1:
            return ResidualBlock(in_channels, out_channels)
        return super().make_block(index, in_channels, out_channels)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="GTZAN folder (any layout); omit for the synthetic set")
    parser.add_argument("--out", type=Path, default=Path("runs/extend"), help="output folder")
    parser.add_argument("--max-epochs", type=int, default=8, help="epochs of each of the two trainings")
    parser.add_argument("--clips-per-genre", type=int, default=8, help="synthetic set only")
    parser.add_argument("--duration", type=float, default=5.0, help="synthetic clip length in seconds")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.root or make_synthetic_gtzan(
        args.out / "synthetic-gtzan", clips_per_genre=args.clips_per_genre, duration=args.duration, seed=args.seed
    )
    data = load_data(root, RECIPE, progress=False)
    train_idx, val_idx = (p.tolist() for p in mg.stratified_split(data.targets, (0.8, 0.2), seed=args.seed))

    def first_window(x: torch.Tensor) -> torch.Tensor:  # the first 5 s, padded if shorter
        return RECIPE.eval_windows(x)[0]

    config = mg.TrainerConfig(max_epochs=args.max_epochs, patience=5, seed=args.seed, progress=False)

    # 1-2. The subclass is built and trained like any GenreCNN.
    model = ResidualGenreCNN(RECIPE.model_config(len(data.classes)), seed=args.seed)
    mg.Trainer(config).fit(model, data.with_view(first_window, train_idx), data.with_view(first_window, val_idx))
    genres = evaluate_tracks(model, data, val_idx, RECIPE)
    genre_acc = float((genres.predicted == genres.targets).mean())
    mg.save_checkpoint(args.out / "genres.ckpt", model, classes=data.classes, features=RECIPE.features)
    print(f"{type(model).__name__}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"validation accuracy on {len(data.classes)} genres {genre_acc:.2f}")  # fmt: skip

    # 3. Your own labels: map each genre to a coarse label, give the model a fresh head for
    #    them and train only that head (the frozen backbone keeps what it learned).
    labels = tuple(COARSE)
    coarse_of = {genre: labels.index(label) for label, genres in COARSE.items() for genre in genres}
    mine = FeatureSet(data.storage, data.spans, [coarse_of[data.classes[t]] for t in data.targets], data.files,
                      labels, data.skipped)  # fmt: skip
    model.reset_classifier(len(labels), seed=args.seed)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("classifier.")
    mg.Trainer(config).fit(model, mine.with_view(first_window, train_idx), mine.with_view(first_window, val_idx))
    coarse = evaluate_tracks(model, mine, val_idx, RECIPE)
    coarse_acc = float((coarse.predicted == coarse.targets).mean())
    print(f"new head: {model.num_classes} classes {list(labels)}, validation accuracy {coarse_acc:.2f}")

    # 4. Save, then reload by class name: the registered subclass comes back with its weights.
    path = mg.save_checkpoint(args.out / "calm-groovy-loud.ckpt", model, classes=labels, features=RECIPE.features)
    loaded = mg.load_checkpoint(path)
    batch = torch.stack([first_window(data.spectrogram(i)) for i in val_idx[:4]])
    with torch.no_grad():
        diff = float((loaded.model(batch) - model.eval()(batch)).abs().max())
    print(f"reloaded {type(loaded.model).__name__} from {path}: classes {loaded.classes}, max output difference {diff}")
    return {"genre_accuracy": genre_acc, "coarse_accuracy": coarse_acc, "classes": list(labels),
            "checkpoint": str(path), "reload_max_diff": diff}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main()))
