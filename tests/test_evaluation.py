"""Evaluation: metrics against hand-computed values, reports, plots and the missing-matplotlib error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.evaluation import (
    ClassificationMetrics,
    classification_metrics,
    plot_confusion_matrix,
    plot_history,
    plot_tsne,
    predict_batches,
    write_report,
)
from musicgenre.models import GenreCNN
from musicgenre.training import EpochMetrics, History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CLASSES = ("a", "b", "c")
#           a  a  a  a  b  b  c  c
TARGETS = [0, 0, 0, 0, 1, 1, 2, 2]
PREDICTED = [0, 0, 0, 1, 1, 1, 0, 1]  # class c is never predicted


@pytest.fixture
def metrics() -> ClassificationMetrics:
    return classification_metrics(TARGETS, PREDICTED, CLASSES)


def test_metrics_match_hand_computed_values(metrics: ClassificationMetrics) -> None:
    # 5 of 8 right.
    assert metrics.accuracy == pytest.approx(5 / 8)
    # precision: a 3 of 4 predicted a; b 2 of 4 predicted b; c never predicted -> 0.
    # recall:    a 3 of 4; b 2 of 2; c 0 of 2.   f1: a 0.75, b 2/3, c 0.
    expected = {
        "a": {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4},
        "b": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2},
    }
    for name, values in expected.items():
        assert metrics.per_class[name] == pytest.approx(values)
    # Support-weighted (4, 2, 2 of 8).
    assert metrics.precision == pytest.approx((4 * 0.75 + 2 * 0.5 + 2 * 0.0) / 8)
    assert metrics.recall == pytest.approx((4 * 0.75 + 2 * 1.0 + 2 * 0.0) / 8)  # = accuracy
    assert metrics.f1 == pytest.approx((4 * 0.75 + 2 * 2 / 3 + 2 * 0.0) / 8)
    assert metrics.worst_recall == ("c", 0.0)


def test_confusion_matrix_rows_are_true_columns_predicted(metrics: ClassificationMetrics) -> None:
    np.testing.assert_array_equal(metrics.confusion, [[3, 1, 0], [0, 2, 0], [1, 1, 0]])
    assert metrics.confusion.sum() == len(TARGETS)
    for name in CLASSES:
        assert name in metrics.report


def test_classes_absent_from_the_data_are_still_listed() -> None:
    metrics = classification_metrics([0, 1], [0, 1], ("x", "y", "z"))
    assert metrics.confusion.shape == (3, 3)
    assert metrics.per_class["z"]["support"] == 0
    assert metrics.accuracy == 1.0


@pytest.mark.parametrize(("targets", "predicted"), [([], []), ([0, 1], [0])])
def test_bad_inputs_raise(targets: list[int], predicted: list[int]) -> None:
    with pytest.raises(ConfigurationError):
        classification_metrics(targets, predicted, CLASSES)


def test_write_report(tmp_path: Path, metrics: ClassificationMetrics) -> None:
    json_path, text_path = write_report(tmp_path / "out", metrics, evaluated_on="test", epochs=3)

    assert json_path == tmp_path / "out" / "metrics.json"
    assert text_path == tmp_path / "out" / "report.txt"
    data = json.loads(json_path.read_text())
    assert data["accuracy"] == pytest.approx(5 / 8)
    assert data["f1_weighted"] == pytest.approx(metrics.f1)
    assert data["confusion_matrix"] == [[3, 1, 0], [0, 2, 0], [1, 1, 0]]
    assert data["classes"] == list(CLASSES)
    assert data["per_class"]["c"]["recall"] == 0.0
    assert (data["evaluated_on"], data["epochs"]) == ("test", 3)
    text = text_path.read_text()
    assert "accuracy 0.6250" in text
    assert "confusion matrix" in text


def test_predict_batches_collects_probabilities_and_embeddings(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.normal(size=(5, 1, 64, 215)).astype(np.float32))
    y = torch.tensor([0, 1, 2, 3, 4])
    model = GenreCNN(seed=0)

    predictions = predict_batches(model, DataLoader(TensorDataset(x, y), batch_size=2))

    assert not model.training  # evaluated in eval mode
    np.testing.assert_array_equal(predictions.targets, [0, 1, 2, 3, 4])
    assert predictions.probabilities.shape == (5, 10)
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert predictions.embeddings is not None
    assert predictions.embeddings.shape == (5, 128)
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).argmax(dim=1).numpy()
    np.testing.assert_array_equal(predictions.predicted, expected)
    assert predict_batches(model, [(x, y)], embeddings=False).embeddings is None


def test_predict_batches_without_batches_raises() -> None:
    with pytest.raises(ConfigurationError):
        predict_batches(GenreCNN(), [])


# -- plots ---------------------------------------------------------------------------------


def _history() -> History:
    history = History()
    for epoch, (train, val) in enumerate([(1.2, 1.1), (0.8, 0.9), (0.5, 1.0)], start=1):
        history.epochs.append(EpochMetrics(epoch, train, 0.5, val, 0.4, 1e-3, 0.1))
    history.best_epoch = 2
    return history


def _assert_png(path: Path) -> None:
    assert path.is_file()
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plots_write_png_files(tmp_path: Path, metrics: ClassificationMetrics, rng: np.random.Generator) -> None:
    _assert_png(plot_history(_history(), tmp_path / "plots" / "loss.png"))
    _assert_png(plot_confusion_matrix(metrics, tmp_path / "confusion.png", title="Test"))
    embeddings = rng.normal(size=(12, 8)).astype(np.float32)
    targets = np.repeat(np.arange(3), 4).astype(np.int64)
    _assert_png(plot_tsne(embeddings, targets, CLASSES, tmp_path / "tsne.png", seed=0))


def test_tsne_needs_three_points(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        plot_tsne(np.zeros((2, 4), dtype=np.float32), np.zeros(2, dtype=np.int64), CLASSES, tmp_path / "t.png")


def test_plotting_without_matplotlib_names_the_extra(
    tmp_path: Path, metrics: ClassificationMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail

    with pytest.raises(MissingDependencyError, match=r"musicgenre\[plots\]"):
        plot_confusion_matrix(metrics, tmp_path / "confusion.png")
    with pytest.raises(ImportError, match=r"musicgenre\[plots\]"):  # also catchable as ImportError
        plot_history(_history(), tmp_path / "loss.png")
    assert not (tmp_path / "confusion.png").exists()


def test_write_results_writes_no_checkpoint_and_write_outputs_is_deprecated(tmp_path: Path) -> None:
    """The report is evaluation's; the checkpoint is the experiment's (write_run). write_outputs still writes both."""
    from musicgenre.data.cache import FeatureSet
    from musicgenre.evaluation import write_outputs, write_results
    from musicgenre.evaluation.tracks import evaluate_tracks
    from musicgenre.models import load_checkpoint
    from musicgenre.recipes import REFERENCE

    gen = torch.Generator().manual_seed(0)
    tracks = [torch.randn(1, 64, 215, generator=gen) for _ in range(4)]
    data = FeatureSet.from_spectrograms(tracks, [0, 1, 0, 1], [Path(f"{i}.wav") for i in range(4)], ("a", "b"))
    model = GenreCNN(n_classes=2, seed=0)
    predictions = evaluate_tracks(model, data, range(4), REFERENCE)
    metrics = write_results(
        tmp_path / "report", data, predictions, None, recipe="reference", evaluated_on="test", seed=0,
        parameters=123, plots=False,
    )  # fmt: skip
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["parameters"] == 123
    assert not (tmp_path / "report" / "model.ckpt").exists()
    with pytest.warns(DeprecationWarning, match="write_run"):
        again = write_outputs(
            tmp_path / "old", model, data, predictions, None, recipe=REFERENCE, evaluated_on="test", seed=0,
            plots=False,
        )  # fmt: skip
    assert again.accuracy == metrics.accuracy
    assert load_checkpoint(tmp_path / "old" / "model.ckpt").classes == ["a", "b"]
