"""
Reproduce the spectrogram-image CNN
===================================

The reference's spectrogram-image CNN on GTZAN's mel-spectrogram pictures. Pipeline:
every PNG (Kaggle's images_original) -> RGB (alpha dropped) -> [0, 1] -> 128 x 128
(bilinear) -> 80/20 stratified split (seed 42) -> 3-block CNN (8,484,682 parameters),
Adam 1e-3, batch 32, 20 epochs, no early stopping; the validation set's classification
report and confusion matrix after every epoch -> metrics, report, loss curves, confusion
matrix, t-SNE of the validation embeddings, checkpoint.

Without ``--root``, a small synthetic set (10 fake genres, rendered like Kaggle's images) is
written to the output folder, so this runs anywhere without a download. With
``--audio-root``, every clip of a GTZAN audio folder is rendered to a Kaggle-style PNG first.
The result is on the set the report prints every epoch; with a fixed number of epochs
and no early stopping that set chose nothing, but it is not a test set either. The run
shown in the documentation uses 5 synthetic clips of 2 s per genre, 64 x 64 images and 4
epochs. On Kaggle's images or your GTZAN audio::

    python examples/reproduce_images.py                                # synthetic image set
    python examples/reproduce_images.py --root ~/data/gtzan/Data       # Kaggle's images
    python examples/reproduce_images.py --audio-root ~/data/gtzan      # render your audio first
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

import musicgenre as mg
from musicgenre.data.images import GTZANImageDataset
from musicgenre.data.render import render_gtzan_images
from musicgenre.evaluation import (
    ClassificationMetrics,
    plot_confusion_matrix,
    plot_history,
    plot_tsne,
    predict_batches,
    write_report,
)
from musicgenre.genres import GENRES
from musicgenre.models import SpectrogramImageCNN
from musicgenre.synthetic import make_synthetic_gtzan_images
from musicgenre.training import Callback, EpochMetrics, TrainerState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--root", type=Path, help="folder of GTZAN spectrogram PNGs; omit for the synthetic set")
    source.add_argument("--audio-root", type=Path, help="GTZAN audio folder to render to PNGs first")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce-images"), help="output folder")
    parser.add_argument("--seed", type=int, default=42, help="seed of split, weights and shuffling")
    parser.add_argument("--epochs", type=int, default=20, help="fixed number of epochs (the reference: 20)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--size", type=int, default=128, help="images are resized to size x size")
    parser.add_argument("--genres", help="comma-separated genres; default: the GTZAN genres found")
    parser.add_argument("--report-every", type=int, default=1, help="print the report every N epochs (0: never)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--clips-per-genre", type=int, default=8, help="synthetic set only")
    parser.add_argument("--duration", type=float, default=5.0, help="synthetic clip length in seconds")
    return parser.parse_args(argv)


def confusion_text(metrics: ClassificationMetrics) -> str:
    """The confusion matrix as text, rows true, columns predicted."""
    width = max(len(c) for c in metrics.classes)
    header = " " * (width + 1) + " ".join(f"{c[:6]:>6}" for c in metrics.classes)
    rows = (
        f"{c:>{width}} " + " ".join(f"{v:6d}" for v in row)
        for c, row in zip(metrics.classes, metrics.confusion, strict=True)
    )
    return "\n".join([header, *rows])


class EpochReport(Callback):
    """Print the validation set's classification report and confusion matrix after epochs.

    The reference prints both after every epoch. Predicting with a loader that has its
    own generator leaves torch's global generator, and so the training, untouched.
    """

    def __init__(
        self,
        data: Dataset[tuple[torch.Tensor, int]],
        classes: tuple[str, ...],
        *,
        batch_size: int = 32,
        every: int = 1,
        stream: TextIO | None = None,
    ) -> None:
        self.loader = DataLoader(data, batch_size=batch_size, generator=torch.Generator())
        self.classes = classes
        self.every = every
        self.stream = stream  # None: sys.stdout at the time of printing
        self.reports: list[ClassificationMetrics] = []

    def on_epoch_end(self, trainer: TrainerState, model: nn.Module, metrics: EpochMetrics) -> None:
        if self.every < 1 or metrics.epoch % self.every:
            return
        predictions = predict_batches(model, self.loader, device=trainer.device, embeddings=False)
        report = mg.classification_metrics(predictions.targets, predictions.predicted, self.classes)
        self.reports.append(report)
        print(
            f"\nepoch {metrics.epoch}: train loss {metrics.train_loss:.4f} acc {metrics.train_accuracy:.3f} | "
            f"val loss {metrics.val_loss:.4f} acc {metrics.val_accuracy:.3f}\n"
            f"{report.report}\nconfusion matrix (rows: true, columns: predicted)\n{confusion_text(report)}",
            file=self.stream,
            flush=True,
        )


def image_root(args: argparse.Namespace) -> Path:
    out: Path = args.out
    if args.root is not None:
        return Path(args.root)
    if args.audio_root is not None:
        root = out / "rendered-images"
        print(f"rendering the clips of {args.audio_root} to {root}")
        return render_gtzan_images(args.audio_root, root)
    root = out / "synthetic-images"
    if not any(root.rglob("*.png")):
        genres = args.genres.split(",") if args.genres else GENRES
        print(f"rendering a synthetic image set in {root} ({args.clips_per_genre} clips x {len(genres)} genres)")
        make_synthetic_gtzan_images(
            root, clips_per_genre=args.clips_per_genre, duration=args.duration, genres=genres, seed=args.seed
        )
    return root


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    root = image_root(args)

    # 1. Data: every PNG -> (3, 128, 128) in [0, 1], decoded once and kept in memory.
    genres = tuple(args.genres.split(",")) if args.genres else None
    dataset = GTZANImageDataset(root, classes=genres, size=(args.size, args.size), preload=True)
    print(f"{len(dataset)} images of {len(dataset.classes)} genres from {root} ({len(dataset.skipped)} skipped)")

    # 2. Split: shuffle with the seed, one stratified 20 % hold-out.
    train_idx, val_idx = mg.stratified_split(dataset.targets, (0.8, 0.2), seed=args.seed)
    train, val = Subset(dataset, train_idx.tolist()), Subset(dataset, val_idx.tolist())
    print(f"split sizes: {len(train)} / {len(val)}")

    # 3. Model and training: a fixed number of epochs, no early stopping.
    model = SpectrogramImageCNN(n_classes=len(dataset.classes), n_mels=args.size, n_frames=args.size, seed=args.seed)
    config = mg.TrainerConfig(
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        patience=None,
        seed=args.seed,
        device=args.device,
    )
    reporter = EpochReport(val, dataset.classes, batch_size=args.batch_size, every=args.report_every)
    trainer = mg.Trainer(config, callbacks=[reporter])
    history = trainer.fit(model, train, val)
    print(f"trained {len(history.epochs)} epochs")

    # 4. Evaluation on the validation set (the weights of the last epoch).
    predictions = predict_batches(model, DataLoader(val, batch_size=args.batch_size), device=trainer.device)
    metrics = mg.classification_metrics(predictions.targets, predictions.predicted, dataset.classes)
    worst, worst_recall = metrics.worst_recall
    summary: dict[str, object] = {
        "evaluated_on": "validation",
        "scheme": "80-20",
        "split_sizes": [len(train), len(val)],
        "seed": args.seed,
        "epochs": len(history.epochs),
        "image_size": [args.size, args.size],
        "parameters": sum(p.numel() for p in model.parameters()),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "dataset": dataset.summary(),
        "history": history.to_dict(),
        "library_version": mg.__version__,
    }
    write_report(args.out, metrics, **summary)
    mg.save_checkpoint(
        args.out / "model.ckpt",
        model,
        classes=dataset.classes,
        metrics={"accuracy": metrics.accuracy, "f1_weighted": metrics.f1, "evaluated_on": "validation"},
        extra={"input": "spectrogram_image", "image_size": [args.size, args.size], "channels": "RGB in [0, 1]"},
    )
    print(
        f"validation accuracy {metrics.accuracy:.3f}, weighted F1 {metrics.f1:.3f}, "
        f"worst recall {worst} {worst_recall:.2f}"
    )

    # 5. Plots (need the 'plots' extra).
    try:
        plot_history(history, args.out / "loss.png")
        plot_confusion_matrix(metrics, args.out / "confusion.png", title="Validation confusion matrix")
        if predictions.embeddings is not None:
            plot_tsne(
                predictions.embeddings, predictions.targets, dataset.classes, args.out / "tsne.png", seed=args.seed
            )
    except mg.MissingDependencyError as exc:
        print(f"plots skipped: {exc}")
    print(f"wrote metrics.json, report.txt, plots and model.ckpt to {args.out} in {summary['wall_seconds']} s")
    return {"accuracy": metrics.accuracy, "f1": metrics.f1, **{k: summary[k] for k in ("epochs", "wall_seconds")}}


if __name__ == "__main__":
    print(json.dumps(main()))
