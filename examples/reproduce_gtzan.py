"""Reproduce the reference GTZAN pipeline end to end, with the reference's settings.

Pipeline: decode -> mono -> 22050 Hz -> first 5 s (random zero-padding if shorter) ->
64-band log-mel (n_fft 1024, hop 512, top_db 80) -> 4-block CNN, Adam 1e-3, batch 32,
early stopping (patience 10 on validation loss, best weights restored) -> metrics,
report, loss curves, confusion matrix, t-SNE of the test embeddings, checkpoint.

    python examples/reproduce_gtzan.py                          # synthetic GTZAN-shaped set
    python examples/reproduce_gtzan.py --root ~/data/gtzan      # real GTZAN, any layout
    python examples/reproduce_gtzan.py --root ~/data/gtzan --split 80-20

Without --root, a small synthetic set (10 fake genres) is generated in the output folder,
so this runs anywhere without a download.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

import musicgenre as mg
from musicgenre.evaluation import plot_confusion_matrix, plot_history, plot_tsne, write_report

SPLITS = {"64-16-20": (0.64, 0.16, 0.20), "80-20": (0.8, 0.2)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="GTZAN folder (any layout); omit for the synthetic set")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="output folder")
    parser.add_argument("--split", choices=sorted(SPLITS), default="64-16-20", help="train/val(/test) split")
    parser.add_argument("--seed", type=int, default=42, help="seed of split, weights, shuffling and padding")
    parser.add_argument("--max-epochs", type=int, default=1000, help="upper bound; early stopping ends sooner")
    parser.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--clips-per-genre", type=int, default=20, help="synthetic set only")
    parser.add_argument("--duration", type=float, default=6.0, help="synthetic clip length in seconds")
    return parser.parse_args(argv)


def synthetic_root(out: Path, clips_per_genre: int, duration: float, seed: int) -> Path:
    root = out / "synthetic-gtzan"
    if not any(root.glob("genres/*/*.wav")):
        print(f"generating a synthetic GTZAN-shaped set in {root} ({clips_per_genre} clips x 10 genres)")
        mg.make_synthetic_gtzan(root, clips_per_genre=clips_per_genre, duration=duration, seed=seed)
    return root


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    root = args.root or synthetic_root(args.out, args.clips_per_genre, args.duration, args.seed)

    # 1. Data: every clip -> (1, 64, 215) log-mel of its first 5 s.
    features = mg.FeatureConfig()
    transform = mg.ClipFeatures(features, generator=torch.Generator().manual_seed(args.seed))
    dataset = mg.GTZANDataset(root, transform=transform, sample_rate=features.sample_rate)
    print(f"{len(dataset)} clips from {root} ({len(dataset.skipped)} skipped)")

    # 2. Split: shuffle with the seed, stratified hold-outs (64-16-20 or 80-20).
    parts = mg.stratified_split(dataset.targets, SPLITS[args.split], seed=args.seed)
    train, val = Subset(dataset, parts[0].tolist()), Subset(dataset, parts[1].tolist())
    evaluated = Subset(dataset, parts[-1].tolist())  # the test set; the validation set for 80-20
    eval_name = "test" if len(parts) == 3 else "validation"
    print("split sizes: " + " / ".join(str(len(p)) for p in parts))

    # 3. Model and training.
    model = mg.GenreCNN(n_classes=len(dataset.classes), n_mels=features.n_mels, n_frames=features.n_frames, seed=args.seed)
    config = mg.TrainerConfig(
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.max_epochs,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
    )
    history = mg.Trainer(config).fit(model, train, val)
    print(f"trained {len(history.epochs)} epochs; best epoch {history.best_epoch}")

    # 4. Evaluation on the held-out part.
    loader = DataLoader(evaluated, batch_size=args.batch_size)
    predictions = mg.predict_batches(model, loader, device=config.device if config.device != "auto" else "cpu")
    metrics = mg.classification_metrics(predictions.targets, predictions.predicted, dataset.classes)
    worst, worst_recall = metrics.worst_recall
    summary: dict[str, object] = {
        "evaluated_on": eval_name,
        "split": args.split,
        "split_sizes": [len(p) for p in parts],
        "seed": args.seed,
        "epochs": len(history.epochs),
        "best_epoch": history.best_epoch,
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
        features=features,
        metrics={"accuracy": metrics.accuracy, "f1_weighted": metrics.f1, "evaluated_on": eval_name},
    )
    print(metrics.report)
    print(f"{eval_name} accuracy {metrics.accuracy:.3f}, weighted F1 {metrics.f1:.3f}, worst recall {worst} {worst_recall:.2f}")

    # 5. Plots (need the 'plots' extra).
    try:
        plot_history(history, args.out / "loss.png")
        plot_confusion_matrix(metrics, args.out / "confusion.png", title=f"{eval_name.capitalize()} confusion matrix")
        if predictions.embeddings is not None:
            plot_tsne(predictions.embeddings, predictions.targets, dataset.classes, args.out / "tsne.png", seed=args.seed)
    except mg.MissingDependencyError as exc:
        print(f"plots skipped: {exc}")
    print(f"wrote metrics.json, report.txt, plots and model.ckpt to {args.out} in {summary['wall_seconds']} s")
    return {"accuracy": metrics.accuracy, "f1": metrics.f1, **{k: summary[k] for k in ("epochs", "wall_seconds")}}


if __name__ == "__main__":
    print(json.dumps(main()))
