"""Evaluation: metrics, a model's outputs over batches and over whole tracks, plots and reports.

Metrics come from scikit-learn. Plots need the ``plots`` extra (matplotlib); without it,
the plotting functions raise :class:`~musicgenre.errors.MissingDependencyError` naming
the install command.
"""

from musicgenre.evaluation.batches import BatchOutputs, predict_batches
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.plots import plot_confusion_matrix, plot_history, plot_tsne
from musicgenre.evaluation.report import format_results_table, mean_std, write_outputs, write_report
from musicgenre.evaluation.tracks import TrackOutputs, TrackTrainer, evaluate_tracks, track_loader
from musicgenre.evaluation.transfer import (
    BackboneEncoder,
    BalancedTrainer,
    TrackEmbeddings,
    class_weights,
    embed_tracks,
    evaluate_embeddings,
    frozen_backbone,
    train_head,
    train_transfer,
)

__all__ = [
    "BackboneEncoder",
    "BalancedTrainer",
    "BatchOutputs",
    "ClassificationMetrics",
    "TrackEmbeddings",
    "TrackOutputs",
    "TrackTrainer",
    "class_weights",
    "classification_metrics",
    "embed_tracks",
    "evaluate_embeddings",
    "evaluate_tracks",
    "format_results_table",
    "frozen_backbone",
    "mean_std",
    "plot_confusion_matrix",
    "plot_history",
    "plot_tsne",
    "predict_batches",
    "track_loader",
    "train_head",
    "train_transfer",
    "write_outputs",
    "write_report",
]
