"""Evaluation: metrics, a model's outputs over batches and over whole tracks, plots and reports.

Metrics come from scikit-learn. Plots need the ``plots`` extra (matplotlib); without it,
the plotting functions raise :class:`~musicgenre.errors.MissingDependencyError` naming
the install command. Training (the track trainer, head training, fine-tuning) lives in
:mod:`musicgenre.training`; the names this package used to export for it still resolve,
with a :class:`DeprecationWarning`.
"""

from typing import Any

from musicgenre.evaluation import tracks as _tracks
from musicgenre.evaluation import transfer as _transfer
from musicgenre.evaluation.batches import BatchOutputs, predict_batches
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.plots import plot_confusion_matrix, plot_history, plot_tsne
from musicgenre.evaluation.report import format_results_table, mean_std, write_outputs, write_report, write_results
from musicgenre.evaluation.tracks import TrackOutputs, evaluate_tracks, track_loader

__all__ = [
    "BatchOutputs",
    "ClassificationMetrics",
    "TrackOutputs",
    "classification_metrics",
    "evaluate_tracks",
    "format_results_table",
    "mean_std",
    "plot_confusion_matrix",
    "plot_history",
    "plot_tsne",
    "predict_batches",
    "track_loader",
    "write_outputs",
    "write_report",
    "write_results",
]


def __getattr__(name: str) -> Any:
    """Deprecated names that moved to :mod:`musicgenre.training` (see :mod:`musicgenre.evaluation.transfer`)."""
    if name == "TrackTrainer":
        return _tracks.__getattr__(name)
    return _transfer.__getattr__(name)
