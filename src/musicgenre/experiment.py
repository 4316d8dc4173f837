"""Experiments: a recipe run end to end on a dataset, with reports, plots and a checkpoint.

The pipeline has four steps, each a function, so a script can run them one by one
(``examples/reproduce_gtzan.py`` does) or all at once with :func:`run_experiment`:

1. :func:`load_data`: find the clips and extract their features once (cached).
2. :func:`~musicgenre.splits.split_indices`: the random 64-16-20, 80-20 or filtered split.
3. :func:`train_model`: train the recipe's model with early stopping.
4. :func:`evaluate_tracks` and :func:`write_outputs`: per-track predictions, metrics,
   report, plots and the checkpoint.

:func:`results_table` repeats this over recipes, splits and seeds and writes the table
(mean and spread) as JSON and Markdown.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from torch.utils.data import DataLoader, Dataset

from musicgenre._version import __version__
from musicgenre.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.data.cache import CacheMode, FeatureSet, extract_features
from musicgenre.data.gtzan import GTZANDataset
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.evaluation import (
    ClassificationMetrics,
    classification_metrics,
    plot_confusion_matrix,
    plot_history,
    plot_tsne,
    write_report,
)
from musicgenre.models.cnn import GenreCNN
from musicgenre.recipes import RECIPES, Recipe, get_recipe
from musicgenre.splits import split_indices
from musicgenre.training import Callback, History, Trainer

__all__ = [
    "ExperimentResult",
    "TrackPredictions",
    "TrackTrainer",
    "evaluate_checkpoint",
    "evaluate_tracks",
    "load_data",
    "results_table",
    "run_experiment",
    "train_model",
    "write_outputs",
]

logger = logging.getLogger(__name__)
PART_NAMES = ("train", "validation", "test")
Indices = Sequence[int] | NDArray[np.int64]


def load_data(
    root: str | os.PathLike[str],
    recipe: str | Recipe = "reference",
    *,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    progress: bool | None = None,
) -> FeatureSet:
    """Find the clips under *root* and extract the recipe's features once.

    The reference recipe needs only the first 5 s of each clip, so only those are
    decoded into features (exactly the reference's spectrogram); recipes that look at
    the whole track keep the whole track's spectrogram.
    """
    rec = get_recipe(recipe)
    dataset = GTZANDataset(root, sample_rate=rec.features.sample_rate)
    return extract_features(
        dataset,
        rec.features,
        max_seconds=rec.max_seconds,
        cache=cache,
        cache_dir=cache_dir,
        num_workers=num_workers,
        progress=progress,
    )


class _TrackWindows(Dataset[tuple[torch.Tensor, torch.Tensor, int]]):
    def __init__(self, data: FeatureSet, indices: Indices, recipe: Recipe) -> None:
        self.data, self.indices, self.recipe = data, [int(i) for i in indices], recipe

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        features = self.data.features[self.indices[i]]
        windows = self.recipe.eval_windows(features)
        return windows, self.recipe.window_weights(features.shape[-1]), self.data.targets[self.indices[i]]


def _collate_tracks(
    items: list[tuple[torch.Tensor, torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    windows = torch.cat([w for w, _, _ in items])
    weights = torch.cat([w for _, w, _ in items])
    targets = torch.tensor([t for _, _, t in items], dtype=torch.long)
    counts = torch.tensor([len(w) for w, _, _ in items], dtype=torch.long)
    return windows, weights, targets, counts


def track_loader(data: FeatureSet, indices: Indices, recipe: Recipe, tracks_per_batch: int = 8) -> DataLoader[Any]:
    """Batches of whole tracks: ``(windows, window_weights, targets, windows_per_track)``."""
    return DataLoader(_TrackWindows(data, indices, recipe), batch_size=tracks_per_batch, collate_fn=_collate_tracks)


@dataclass(frozen=True)
class TrackPredictions:
    """Per-track predictions (window probabilities averaged) and per-window correctness.

    Attributes
    ----------
    targets
        True label per track.
    probabilities
        Mean window probability per track, ``(tracks, classes)``.
    embeddings
        Mean window embedding per track, ``(tracks, features)``.
    window_correct, window_total
        Windows classified correctly on their own, and all windows (per-segment accuracy).
    """

    targets: NDArray[np.int64]
    probabilities: NDArray[np.float32]
    embeddings: NDArray[np.float32]
    window_correct: int
    window_total: int

    @property
    def predicted(self) -> NDArray[np.int64]:
        """Arg-max class per track."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)

    @property
    def window_accuracy(self) -> float:
        """Accuracy of the windows on their own (per segment)."""
        return self.window_correct / self.window_total if self.window_total else math.nan


@torch.no_grad()
def _track_outputs(
    model: GenreCNN, loader: DataLoader[Any], device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[int], int, int]:
    model.eval()
    probs, embs, targets, correct, total = [], [], [], 0, 0
    for windows, weights, target, counts in loader:
        features = model.forward_features(windows.to(device))
        embedding = model.forward_head(features, pre_logits=True)
        window_probs = torch.softmax(model.classifier(embedding), dim=1).cpu()
        sizes = counts.tolist()
        per_track = zip(
            torch.split(window_probs, sizes),
            torch.split(embedding.cpu(), sizes),
            torch.split(weights, sizes),
            strict=True,
        )
        for i, (p, e, w) in enumerate(per_track):
            probs.append((p * w[:, None]).sum(0) / w.sum())
            embs.append(e.mean(0))
            correct += int((p.argmax(1) == target[i]).sum())
            total += len(p)
        targets.extend(target.tolist())
    return probs, embs, targets, correct, total


class TrackTrainer(Trainer):
    """A :class:`~musicgenre.training.Trainer` whose validation scores whole tracks.

    The validation loader yields ``(windows, window_weights, targets, windows_per_track)``
    (see ``track_loader``); each track's probability is the mean over its windows weighted
    by their share of audio, its loss
    the negative log of that mean at the true class. With one window per track this is the
    ordinary cross-entropy.
    """

    def val_loop(self, model: nn.Module, loader: Any) -> tuple[float, float]:
        """Per-track loss and accuracy."""
        if not isinstance(model, GenreCNN):
            raise ConfigurationError("TrackTrainer validates GenreCNN models")
        probs, _, targets, _, _ = _track_outputs(model, loader, self.device)
        if not targets:
            return math.nan, math.nan
        p = torch.stack(probs)
        y = torch.tensor(targets)
        loss = -torch.log(p[torch.arange(len(y)), y].clamp_min(1e-12)).mean().item()
        return loss, float((p.argmax(1) == y).float().mean())


def train_model(
    data: FeatureSet,
    train_indices: Indices,
    val_indices: Indices,
    recipe: str | Recipe = "reference",
    *,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> tuple[GenreCNN, History]:
    """Train the recipe's model on *train_indices*, early-stopping on *val_indices*.

    Returns
    -------
    tuple
        The model (holding the best epoch's weights) and its :class:`~musicgenre.training.History`.
    """
    rec = get_recipe(recipe)
    config = replace(rec.trainer, seed=seed, device=device, max_epochs=max_epochs or rec.trainer.max_epochs)
    model = GenreCNN(rec.model_config(len(data.classes)), seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    train_set = data.with_view(rec.train_view(generator), [int(i) for i in train_indices] * rec.crops_per_track)
    trainer = TrackTrainer(config, callbacks)
    history = trainer.fit(model, train_set, track_loader(data, val_indices, rec))
    return model, history


def evaluate_tracks(
    model: GenreCNN, data: FeatureSet, indices: Indices, recipe: str | Recipe, *, device: str = "cpu"
) -> TrackPredictions:
    """Predict every track in *indices* from all its evaluation windows."""
    rec = get_recipe(recipe)
    dev = torch.device(device)
    model.to(dev)
    probs, embs, targets, correct, total = _track_outputs(model, track_loader(data, indices, rec), dev)
    if not targets:
        raise ConfigurationError("no tracks to evaluate")
    return TrackPredictions(
        targets=np.asarray(targets, dtype=np.int64),
        probabilities=torch.stack(probs).numpy().astype(np.float32),
        embeddings=torch.stack(embs).numpy().astype(np.float32),
        window_correct=correct,
        window_total=total,
    )


def write_outputs(
    out: str | os.PathLike[str],
    model: GenreCNN,
    data: FeatureSet,
    predictions: TrackPredictions,
    history: History | None,
    *,
    recipe: Recipe,
    evaluated_on: str,
    seed: int,
    plots: bool = True,
    **extra: Any,
) -> ClassificationMetrics:
    """Write metrics.json, report.txt, the plots (loss, confusion, t-SNE) and model.ckpt into *out*."""
    target = Path(out)
    metrics = classification_metrics(predictions.targets, predictions.predicted, data.classes)
    summary = {
        "recipe": recipe.name,
        "evaluated_on": evaluated_on,
        "seed": seed,
        "track_accuracy": metrics.accuracy,
        "segment_accuracy": predictions.window_accuracy,
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history.to_dict() if history is not None else None,
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in data.skipped],
        "library_version": __version__,
        **extra,
    }
    write_report(target, metrics, **summary)
    save_checkpoint(
        target / "model.ckpt",
        model,
        classes=data.classes,
        features=recipe.features,
        metrics={"accuracy": metrics.accuracy, "f1_weighted": metrics.f1, "evaluated_on": evaluated_on},
        extra={
            "recipe": recipe.name,
            "eval_hop": recipe.eval_hop,
            "seed": seed,
            **{k: v for k, v in extra.items() if k == "split"},
        },
    )
    if plots:
        try:
            if history is not None:
                plot_history(history, target / "loss.png")
            plot_confusion_matrix(
                metrics, target / "confusion.png", title=f"{evaluated_on.capitalize()} confusion matrix"
            )
            if len(predictions.embeddings) >= 3:
                plot_tsne(predictions.embeddings, predictions.targets, data.classes, target / "tsne.png", seed=seed)
        except MissingDependencyError as exc:
            logger.warning("plots skipped: %s", exc)
    return metrics


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` measured.

    Attributes
    ----------
    recipe, split, seed
        What ran.
    evaluated_on
        ``"test"``, or ``"validation"`` for a two-part split.
    metrics
        Per-track metrics on that part.
    segment_accuracy
        Accuracy of single windows.
    epochs, best_epoch
        Training length and the restored epoch.
    train_seconds, extract_seconds
        Wall time of training and of feature extraction.
    parameters
        Model size.
    out
        Output folder.
    """

    recipe: str
    split: str
    seed: int
    evaluated_on: str
    metrics: ClassificationMetrics
    segment_accuracy: float
    epochs: int
    best_epoch: int | None
    train_seconds: float
    extract_seconds: float
    parameters: int
    out: Path

    def row(self) -> dict[str, Any]:
        """The headline numbers as a flat dict (for tables)."""
        worst, worst_recall = self.metrics.worst_recall
        return {
            "recipe": self.recipe,
            "split": self.split,
            "seed": self.seed,
            "accuracy": self.metrics.accuracy,
            "segment_accuracy": self.segment_accuracy,
            "f1_weighted": self.metrics.f1,
            "worst_class": worst,
            "worst_recall": worst_recall,
            "epochs": self.epochs,
            "train_seconds": self.train_seconds,
            "parameters": self.parameters,
        }


def run_experiment(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    recipe: str | Recipe = "reference",
    split: str = "random",
    seed: int = 42,
    max_epochs: int | None = None,
    device: str = "cpu",
    data: FeatureSet | None = None,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    plots: bool = True,
) -> ExperimentResult:
    """Run one recipe on one split with one seed and write everything into *out*.

    Parameters
    ----------
    root
        GTZAN folder (any layout).
    out
        Output folder: metrics.json, report.txt, loss.png, confusion.png, tsne.png, model.ckpt.
    recipe
        ``"reference"``, ``"improved"``, a registered name or a :class:`~musicgenre.recipes.Recipe`.
    split
        ``"random"`` (64-16-20), ``"80-20"`` (train/val only; evaluates on val) or ``"filtered"``.
    seed
        Seeds the split, the weights, the crops and the shuffling.
    max_epochs
        Override the recipe's epoch bound.
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    data
        Features already extracted with :func:`load_data` for this recipe (skips extraction).
    cache, cache_dir, num_workers
        Passed to :func:`load_data`.
    plots
        Write the PNG plots (needs the ``plots`` extra).

    Returns
    -------
    ExperimentResult
    """
    rec = get_recipe(recipe)
    started = time.perf_counter()
    if data is None:
        data = load_data(root, rec, cache=cache, cache_dir=cache_dir, num_workers=num_workers)
    extract_seconds = time.perf_counter() - started
    parts = split_indices(split, data.targets, data.track_ids, seed=seed)
    logger.info("%s split: %s", split, " / ".join(f"{len(p)} {n}" for p, n in zip(parts, PART_NAMES, strict=False)))
    model, history = train_model(data, parts[0], parts[1], rec, seed=seed, device=device, max_epochs=max_epochs)
    evaluated_on = PART_NAMES[len(parts) - 1]
    predictions = evaluate_tracks(model, data, parts[-1], rec, device=device)
    metrics = write_outputs(
        out,
        model,
        data,
        predictions,
        history,
        recipe=rec,
        evaluated_on=evaluated_on,
        seed=seed,
        plots=plots,
        split=split,
        split_sizes=[len(p) for p in parts],
    )
    return ExperimentResult(
        recipe=rec.name,
        split=split,
        seed=seed,
        evaluated_on=evaluated_on,
        metrics=metrics,
        segment_accuracy=predictions.window_accuracy,
        epochs=len(history.epochs),
        best_epoch=history.best_epoch,
        train_seconds=sum(e.seconds for e in history.epochs),
        extract_seconds=extract_seconds,
        parameters=sum(p.numel() for p in model.parameters()),
        out=Path(out),
    )


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def results_table(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    recipes: Sequence[str | Recipe] = ("reference", "improved"),
    splits: Sequence[str] = ("random", "filtered"),
    seeds: Sequence[int] = (0, 1, 2),
    max_epochs: int | None = None,
    device: str = "cpu",
    num_workers: int = 0,
) -> list[dict[str, Any]]:
    """Run every recipe x split x seed and write ``results.json`` and ``results.md`` into *out*.

    Each row gives the mean and standard deviation over the seeds of per-track accuracy,
    weighted F1, worst-class recall and training time, and the parameter count.
    """
    target = Path(out)
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for recipe in recipes:
        rec = get_recipe(recipe)
        data = load_data(root, rec, num_workers=num_workers)
        for split in splits:
            results = [
                run_experiment(
                    root,
                    target / f"{rec.name}-{split}-seed{seed}",
                    recipe=rec,
                    split=split,
                    seed=seed,
                    max_epochs=max_epochs,
                    device=device,
                    data=data,
                    plots=False,
                )
                for seed in seeds
            ]
            runs.extend(r.row() for r in results)
            rows.append(
                {
                    "recipe": rec.name,
                    "split": split,
                    "seeds": list(seeds),
                    "accuracy": _spread([r.metrics.accuracy for r in results]),
                    "segment_accuracy": _spread([r.segment_accuracy for r in results]),
                    "f1_weighted": _spread([r.metrics.f1 for r in results]),
                    "worst_recall": _spread([r.metrics.worst_recall[1] for r in results]),
                    "train_seconds": _spread([r.train_seconds for r in results]),
                    "parameters": results[0].parameters,
                }
            )
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps({"rows": rows, "runs": runs, "root": str(root)}, indent=2) + "\n")
    (target / "results.md").write_text(format_table(rows))
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render :func:`results_table` rows as a Markdown table (mean ± std over seeds)."""

    def cell(stat: dict[str, float], pct: bool = True) -> str:
        scale = 100.0 if pct else 1.0
        return f"{stat['mean'] * scale:.1f} ± {stat['std'] * scale:.1f}"

    lines = [
        "| recipe | split | track accuracy (%) | segment accuracy (%) | weighted F1 (%) | worst-class recall (%) "
        "| train time (s) | parameters |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['recipe']} | {r['split']} | {cell(r['accuracy'])} | {cell(r['segment_accuracy'])} "
        f"| {cell(r['f1_weighted'])} | {cell(r['worst_recall'])} | {cell(r['train_seconds'], pct=False)} "
        f"| {r['parameters']:,} |"
        for r in rows
    )
    return "\n".join(lines) + "\n"


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    part: str = "test",
    split: str | None = None,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
) -> ClassificationMetrics:
    """Score a saved model on one part (``"train"``, ``"validation"``, ``"test"``) of a dataset split.

    The split and seed default to those stored in the checkpoint (by :func:`run_experiment`),
    so ``evaluate_checkpoint(ckpt, root)`` scores the same test set the model was tested on.
    With *out*, writes metrics.json, report.txt and the confusion-matrix and t-SNE plots.
    """
    loaded = load_checkpoint(checkpoint, map_location=device)
    stored = loaded.extra
    base = get_recipe(str(stored["recipe"])) if str(stored.get("recipe")) in RECIPES else get_recipe("reference")
    hop = stored.get("eval_hop", base.eval_hop)
    rec = replace(base, features=loaded.features, eval_hop=None if hop is None else float(hop))
    split_name = split or str(stored.get("split", "random"))
    split_seed = seed if seed is not None else int(stored.get("seed", 42))
    data = load_data(root, rec)
    if tuple(data.classes) != tuple(loaded.classes):
        raise ConfigurationError(
            f"the checkpoint's classes {loaded.classes} differ from the dataset's {list(data.classes)}"
        )
    parts = split_indices(split_name, data.targets, data.track_ids, seed=split_seed)
    names = PART_NAMES[: len(parts)]
    part = "validation" if part == "val" else part
    if part not in names:
        raise ConfigurationError(f"split {split_name!r} has parts {list(names)}, not {part!r}")
    predictions = evaluate_tracks(loaded.model, data, parts[names.index(part)], rec, device=device)
    metrics = classification_metrics(predictions.targets, predictions.predicted, data.classes)
    if out is not None:
        write_report(out, metrics, evaluated_on=part, split=split_name, seed=split_seed, checkpoint=str(checkpoint))
        try:
            plot_confusion_matrix(metrics, Path(out) / "confusion.png", title=f"{part.capitalize()} confusion matrix")
            if len(predictions.embeddings) >= 3:
                plot_tsne(
                    predictions.embeddings, predictions.targets, data.classes, Path(out) / "tsne.png", seed=split_seed
                )
        except MissingDependencyError as exc:
            logger.warning("plots skipped: %s", exc)
    return metrics


def result_dict(result: ExperimentResult) -> dict[str, Any]:
    """:class:`ExperimentResult` as JSON-ready values."""
    data = asdict(result)
    data["metrics"] = result.metrics.to_dict()
    data["out"] = str(result.out)
    return data
