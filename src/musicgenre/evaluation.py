"""Evaluation: predictions, metrics (accuracy, weighted P/R/F1, per class), reports and plots.

Metrics come from scikit-learn. Plots need the ``plots`` extra (matplotlib); without it,
the plotting functions raise :class:`~musicgenre.errors.MissingDependencyError` naming
the install command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from musicgenre.errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from musicgenre.training import History

__all__ = [
    "ClassificationMetrics",
    "Predictions",
    "classification_metrics",
    "plot_confusion_matrix",
    "plot_history",
    "plot_tsne",
    "predict_batches",
    "write_report",
]


@dataclass(frozen=True)
class Predictions:
    """A model's outputs over a dataset.

    Attributes
    ----------
    targets
        True labels, shape ``(n,)``.
    probabilities
        Softmax outputs, shape ``(n, n_classes)``.
    embeddings
        The model's embeddings (``model.embed``), shape ``(n, d)``, or ``None``.
    """

    targets: NDArray[np.int64]
    probabilities: NDArray[np.float32]
    embeddings: NDArray[np.float32] | None

    @property
    def predicted(self) -> NDArray[np.int64]:
        """Arg-max class per item."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)


@torch.no_grad()
def predict_batches(
    model: nn.Module, batches: Iterable[Any], *, device: str | torch.device = "cpu", embeddings: bool = True
) -> Predictions:
    """Run *model* over ``(inputs, targets)`` batches in eval mode.

    Parameters
    ----------
    model
        A classifier; its ``embed`` method (if any) supplies the embeddings.
    batches
        E.g. a ``DataLoader`` of ``(inputs, targets)``.
    device
        Where to run.
    embeddings
        Also collect ``model.embed(inputs)``.

    Returns
    -------
    Predictions
    """
    model.eval().to(device)
    embed = getattr(model, "embed", None) if embeddings else None
    targets, probs, embs = [], [], []
    for inputs, target in batches:
        inputs = inputs.to(device)
        probs.append(torch.softmax(model(inputs), dim=1).cpu())
        if callable(embed):
            embs.append(embed(inputs).cpu())
        targets.append(torch.as_tensor(target).cpu())
    if not targets:
        raise ConfigurationError("no batches to evaluate")
    return Predictions(
        targets=torch.cat(targets).numpy().astype(np.int64),
        probabilities=torch.cat(probs).numpy().astype(np.float32),
        embeddings=torch.cat(embs).numpy().astype(np.float32) if embs else None,
    )


@dataclass(frozen=True)
class ClassificationMetrics:
    """Accuracy, weighted precision/recall/F1, per-class scores and the confusion matrix.

    Attributes
    ----------
    classes
        Class names, in label order.
    accuracy, precision, recall, f1
        Overall scores; precision/recall/F1 are support-weighted averages.
    per_class
        ``{class: {"precision", "recall", "f1", "support"}}``.
    confusion
        ``confusion[i, j]`` counts items of class *i* predicted as *j*.
    report
        scikit-learn's text ``classification_report``.
    """

    classes: tuple[str, ...]
    accuracy: float
    precision: float
    recall: float
    f1: float
    per_class: dict[str, dict[str, float]]
    confusion: NDArray[np.int64]
    report: str

    @property
    def worst_recall(self) -> tuple[str, float]:
        """The class with the lowest recall and that recall."""
        name = min(self.per_class, key=lambda c: self.per_class[c]["recall"])
        return name, self.per_class[name]["recall"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (the confusion matrix as nested lists)."""
        return {
            "accuracy": self.accuracy,
            "precision_weighted": self.precision,
            "recall_weighted": self.recall,
            "f1_weighted": self.f1,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion.tolist(),
            "classes": list(self.classes),
        }


def classification_metrics(
    targets: Sequence[int] | NDArray[np.int64], predicted: Sequence[int] | NDArray[np.int64], classes: Sequence[str]
) -> ClassificationMetrics:
    """Score predictions against targets with scikit-learn.

    Parameters
    ----------
    targets, predicted
        Label indices into *classes*.
    classes
        Class names; every class appears in the report even when absent from the data.

    Returns
    -------
    ClassificationMetrics

    Examples
    --------
    >>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    >>> m.accuracy, m.per_class["a"]["recall"]
    (0.75, 0.5)
    """
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    y_true = np.asarray(targets, dtype=np.int64)
    y_pred = np.asarray(predicted, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ConfigurationError(f"targets {y_true.shape} and predictions {y_pred.shape} must be equal, non-empty")
    labels = list(range(len(classes)))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    pc, rc, fc, sc = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None, zero_division=0)
    per_class = {
        name: {"precision": float(pc[i]), "recall": float(rc[i]), "f1": float(fc[i]), "support": int(sc[i])}
        for i, name in enumerate(classes)
    }
    report = classification_report(y_true, y_pred, labels=labels, target_names=list(classes), zero_division=0, digits=3)
    return ClassificationMetrics(
        classes=tuple(classes),
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(p),
        recall=float(r),
        f1=float(f),
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=labels).astype(np.int64),
        report=str(report),
    )


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


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib; install it with: pip install 'musicgenre[plots]'"
        ) from None
    return plt


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return target


def plot_history(history: History, path: str | os.PathLike[str]) -> Path:
    """Plot training and validation loss (and accuracy) per epoch to a PNG; marks the best epoch."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = history.column("epoch")
    for ax, key, label in ((ax_loss, "loss", "cross-entropy"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, history.column(f"train_{key}"), label="train")
        ax.plot(epochs, history.column(f"val_{key}"), label="validation")
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="grey", linestyle="--", label=f"best epoch ({history.best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
    ax_loss.set_title("Loss")
    ax_acc.set_title("Accuracy")
    return _save(fig, path)


def plot_confusion_matrix(
    metrics: ClassificationMetrics, path: str | os.PathLike[str], *, title: str = "Confusion matrix"
) -> Path:
    """Plot the confusion matrix with counts in each cell to a PNG."""
    plt = _pyplot()
    n = len(metrics.classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.55 * n))
    image = ax.imshow(metrics.confusion, cmap="Blues")
    ax.set_xticks(range(n), metrics.classes, rotation=45, ha="right")
    ax.set_yticks(range(n), metrics.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {metrics.accuracy:.1%})")
    peak = metrics.confusion.max() if metrics.confusion.size else 0
    for i in range(n):
        for j in range(n):
            value = int(metrics.confusion[i, j])
            ax.text(
                j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black", fontsize=8
            )
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_tsne(
    embeddings: NDArray[np.float32],
    targets: NDArray[np.int64],
    classes: Sequence[str],
    path: str | os.PathLike[str],
    *,
    seed: int = 42,
) -> Path:
    """Project embeddings to 2-D with scikit-learn's t-SNE and scatter them by class to a PNG.

    The perplexity is ``min(30, n - 1)``, so small test sets work too.
    """
    from sklearn.manifold import TSNE

    plt = _pyplot()
    n = len(embeddings)
    if n < 3:
        raise ConfigurationError(f"t-SNE needs at least 3 embeddings, got {n}")
    points = TSNE(n_components=2, perplexity=float(min(30, n - 1)), random_state=seed, init="pca").fit_transform(
        embeddings
    )
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, name in enumerate(classes):
        mask = targets == i
        if mask.any():
            ax.scatter(points[mask, 0], points[mask, 1], s=14, color=cmap(i % cmap.N), label=name)
    ax.set_title("t-SNE of the embeddings")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, markerscale=1.5, loc="best")
    return _save(fig, path)
