"""Plots: loss curves, confusion matrix and t-SNE of the embeddings, each written to a PNG.

They need the ``plots`` extra (matplotlib); without it they raise
:class:`~musicgenre.errors.MissingDependencyError` naming the install command.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from musicgenre._plotting import pyplot, save_figure
from musicgenre.errors import ConfigurationError
from musicgenre.evaluation.metrics import ClassificationMetrics

if TYPE_CHECKING:
    from musicgenre.training.callbacks import History

__all__ = ["plot_confusion_matrix", "plot_history", "plot_tsne"]


def plot_history(history: History, path: str | os.PathLike[str]) -> Path:
    """Plot training and validation loss (and accuracy) per epoch to a PNG; marks the best epoch."""
    plt = pyplot()
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
    return save_figure(fig, path)


def plot_confusion_matrix(
    metrics: ClassificationMetrics, path: str | os.PathLike[str], *, title: str = "Confusion matrix"
) -> Path:
    """Plot the confusion matrix with counts in each cell to a PNG."""
    plt = pyplot()
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
    return save_figure(fig, path)


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

    plt = pyplot()
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
    return save_figure(fig, path)
