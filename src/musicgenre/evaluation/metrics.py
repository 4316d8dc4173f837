"""Classification metrics: accuracy, weighted precision/recall/F1 and per-class scores, from scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from musicgenre.errors import ConfigurationError

__all__ = ["ClassificationMetrics", "classification_metrics"]


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
