"""Reports: ``metrics.json`` and ``report.txt``, a run's whole output folder, and the results table.

:func:`write_report` writes the metrics of one evaluation; :func:`write_results` writes
the report of a training run (metrics, report, plots; the run's checkpoint is the
experiment's, :func:`~musicgenre.experiment.write_run`; :func:`write_outputs`, which wrote
both, is deprecated);
:func:`format_results_table` renders the rows of
:func:`~musicgenre.experiment.results_table` (mean and spread over seeds) as Markdown.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from musicgenre._version import __version__
from musicgenre.data.cache import FeatureSet
from musicgenre.errors import MissingDependencyError
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.plots import plot_confusion_matrix, plot_history, plot_tsne
from musicgenre.models.checkpoint import PartRecord, save_checkpoint
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes import Recipe
from musicgenre.training.callbacks import History
from musicgenre.training.tracks import TrackOutputs

__all__ = ["format_results_table", "mean_std", "write_outputs", "write_report", "write_results"]

logger = logging.getLogger(__name__)


def write_report(out_dir: str | os.PathLike[str], metrics: ClassificationMetrics, **extra: Any) -> tuple[Path, Path]:
    """Write ``metrics.json`` (metrics plus *extra* keys) and ``report.txt`` into *out_dir*.

    Returns
    -------
    tuple of pathlib.Path
        The JSON and text files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, text_path = out / "metrics.json", out / "report.txt"
    json_path.write_text(json.dumps({**metrics.to_dict(), **extra}, indent=2) + "\n")
    width = max(len(c) for c in metrics.classes)
    header = " " * (width + 1) + " ".join(f"{c[:6]:>6}" for c in metrics.classes)
    rows = [
        f"{c:>{width}} " + " ".join(f"{v:6d}" for v in row)
        for c, row in zip(metrics.classes, metrics.confusion, strict=True)
    ]
    text_path.write_text(
        f"accuracy {metrics.accuracy:.4f}  weighted precision {metrics.precision:.4f}  "
        f"recall {metrics.recall:.4f}  F1 {metrics.f1:.4f}\n\n{metrics.report}\n"
        "confusion matrix (rows: true, columns: predicted)\n" + header + "\n" + "\n".join(rows) + "\n"
    )
    return json_path, text_path


def write_results(
    out: str | os.PathLike[str],
    data: FeatureSet,
    predictions: TrackOutputs,
    history: History | None,
    *,
    recipe: str,
    evaluated_on: str,
    seed: int,
    parameters: int,
    plots: bool = True,
    **extra: Any,
) -> ClassificationMetrics:
    """Write a run's metrics.json, report.txt and plots (loss, confusion, t-SNE) into *out*.

    ``metrics.json`` holds the metrics of *predictions* with the recipe's name, the part
    evaluated, the seed, the windows scored, the model's size (*parameters*), the history,
    the files skipped, the library version and the *extra* keys. The checkpoint is the
    experiment's to write (:func:`~musicgenre.experiment.write_run` writes both).
    """
    target = Path(out)
    metrics = classification_metrics(predictions.targets, predictions.predicted, data.classes)
    summary = {
        "recipe": recipe,
        "evaluated_on": evaluated_on,
        "seed": seed,
        "track_accuracy": metrics.accuracy,
        "segment_accuracy": predictions.window_accuracy,
        "windows": predictions.windowing.to_dict(),
        "parameters": parameters,
        "history": history.to_dict() if history is not None else None,
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in data.skipped],
        "library_version": __version__,
        **extra,
    }
    write_report(target, metrics, **summary)
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


def write_outputs(
    out: str | os.PathLike[str],
    model: GenreModel,
    data: FeatureSet,
    predictions: TrackOutputs,
    history: History | None,
    *,
    recipe: Recipe,
    evaluated_on: str,
    seed: int,
    plots: bool = True,
    parts: Mapping[str, PartRecord] | None = None,
    **extra: Any,
) -> ClassificationMetrics:
    """Deprecated: use :func:`~musicgenre.experiment.write_run` (which also stores the split's parts).

    Writes :func:`write_results`' files and model.ckpt into *out*, as before; the checkpoint
    records the recipe, the windows *predictions* scored and, with *parts*, the tracks of
    each part of the split.
    """
    warnings.warn(
        "musicgenre.evaluation.report.write_outputs is deprecated; use musicgenre.experiment.write_run "
        "(it stores the split's parts, which `musicgenre evaluate` needs), or write_results for the report alone",
        DeprecationWarning,
        stacklevel=2,
    )
    parameters = sum(p.numel() for p in model.parameters())
    metrics = write_results(
        out, data, predictions, history, recipe=recipe.name, evaluated_on=evaluated_on, seed=seed,
        parameters=parameters, plots=plots, **extra,
    )  # fmt: skip
    save_checkpoint(
        Path(out) / "model.ckpt",
        model,
        classes=data.classes,
        features=recipe.features,
        metrics={"accuracy": metrics.accuracy, "f1_weighted": metrics.f1, "evaluated_on": evaluated_on},
        extra={"recipe": recipe.name, "seed": seed, **{k: v for k, v in extra.items() if k == "scheme"}},
        windowing=predictions.windowing,
        parts=parts,
    )
    return metrics


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """``{"mean": ..., "std": ...}`` of *values* (sample standard deviation; 0 for one value).

    Examples
    --------
    >>> mean_std([0.5, 0.7])
    {'mean': 0.6, 'std': 0.1414...}
    """
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def format_results_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render :func:`~musicgenre.experiment.results_table` rows as a Markdown table (mean ± std over the runs).

    The runs are the seeds, or with cross-validation the folds of every seed; a row
    whose runs are not its seeds says how many there were (``5-fold CV (5 runs)``).
    """

    def scheme(row: dict[str, Any]) -> str:
        runs = row.get("runs")
        return row["scheme"] if runs is None or runs == len(row.get("seeds", ())) else f"{row['scheme']} ({runs} runs)"

    def cell(stat: dict[str, float], pct: bool = True) -> str:
        scale = 100.0 if pct else 1.0
        return f"{stat['mean'] * scale:.1f} ± {stat['std'] * scale:.1f}"

    lines = [
        "| recipe | scheme | track accuracy (%) | segment accuracy (%) | weighted F1 (%) | worst-class recall (%) "
        "| train time (s) | parameters |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['recipe']} | {scheme(r)} | {cell(r['accuracy'])} | {cell(r['segment_accuracy'])} "
        f"| {cell(r['f1_weighted'])} | {cell(r['worst_recall'])} | {cell(r['train_seconds'], pct=False)} "
        f"| {r['parameters']:,} |"
        for r in rows
    )
    return "\n".join(lines) + "\n"
