"""Small sets evaluated honestly: stratified k-fold cross-validation, then the final model on every track.

A 64-16-20 split of 20 tracks tests on 4 and says nothing. :func:`run_planned` runs
what :func:`~musicgenre.splits.plan_evaluation` chose for a set's size: the held-out
split (:func:`~musicgenre.experiment.run_experiment`), or :func:`run_cross_validated`:

1. :func:`cross_validate`: each of *k* stratified folds (:func:`~musicgenre.experiment.cv_folds`)
   trains on the other tracks (early-stopping on a stratified part of them) and tests
   its own, so every track is tested once by a model that never saw it; the estimate
   is the folds' mean accuracy and its spread, and the per-label recall of the pooled
   test predictions.
2. The final model trains on every track for the median of the folds' best epochs (the
   stopping point chosen inside the folds: no track is left for validation).
3. metrics.json, report.txt (which say how the model was evaluated), the plots of the
   pooled predictions and model.ckpt, which records the scheme, the folds and the
   cross-validation figures (``musicgenre info`` shows them).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from musicgenre.data.cache import FeatureSet
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.report import mean_std, write_results
from musicgenre.experiment.run import (
    ExperimentResult,
    evaluate_model,
    load_data,
    part_records,
    run_experiment,
    train_model,
)
from musicgenre.experiment.sweep import cv_folds
from musicgenre.models.checkpoint import save_checkpoint
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.splits import EvaluationPlan
from musicgenre.training.tracks import TrackOutputs

__all__ = ["CrossValidation", "cross_validate", "describe_evaluation", "run_cross_validated", "run_planned"]


@dataclass(frozen=True)
class CrossValidation:
    """What :func:`cross_validate` measured.

    Attributes
    ----------
    folds
        Number of folds.
    fold_accuracy
        Each fold's test accuracy.
    best_epochs
        Each fold's restored (best) epoch, or its last epoch where none was restored.
    predictions
        The folds' test predictions pooled: every track once, in :attr:`order`.
    order
        The track index of each row of :attr:`predictions`.
    """

    folds: int
    fold_accuracy: tuple[float, ...]
    best_epochs: tuple[int, ...]
    predictions: TrackOutputs
    order: tuple[int, ...]

    @property
    def final_epochs(self) -> int:
        """Epochs for the final model on every track, the median of the folds' best epochs (at least 1)."""
        return max(1, round(statistics.median(self.best_epochs)))

    def metrics(self, classes: tuple[str, ...]) -> ClassificationMetrics:
        """Per-track metrics of the pooled predictions (per-label recall over every track)."""
        return classification_metrics(self.predictions.targets, self.predictions.predicted, classes)


def _pool(outputs: list[TrackOutputs]) -> TrackOutputs:
    return TrackOutputs(
        targets=np.concatenate([o.targets for o in outputs]),
        probabilities=np.concatenate([o.probabilities for o in outputs]),
        embeddings=np.concatenate([o.embeddings for o in outputs]),
        window_correct=sum(o.window_correct for o in outputs),
        window_total=sum(o.window_total for o in outputs),
        windowing=outputs[0].windowing,
    )


def _learn_every_label(fold: list[NDArray[np.int64]], targets: Sequence[int]) -> list[NDArray[np.int64]]:
    """*fold* with a label's validation tracks moved to training where training has none of it.

    A label of 2 files tested on one has one left: it is learnt from rather than validated on.
    """
    train, validation, test = fold
    labels = np.asarray(list(targets))
    missing = set(labels[validation].tolist()) - set(labels[train].tolist())
    if not missing:
        return fold
    move = np.isin(labels[validation], sorted(missing))
    return [np.sort(np.concatenate([train, validation[move]])), validation[~move], test]


def _without_patience(recipe: Recipe) -> Recipe:
    """*recipe* training for its epoch bound, with no early stopping (for a fit without validation tracks)."""
    return replace(recipe, trainer=replace(recipe.trainer, patience=None))


def cross_validate(
    data: FeatureSet,
    recipe: str | Recipe = "pretrained",
    *,
    folds: int = 5,
    seed: int = 42,
    device: str = "cpu",
    max_epochs: int | None = None,
) -> CrossValidation:
    """Stratified *folds*-fold cross-validation of the recipe on *data*.

    Each fold trains on the tracks outside its test part, early-stopping on a stratified
    share of them (:func:`~musicgenre.experiment.cv_folds`), and predicts its test part.

    Returns
    -------
    CrossValidation
    """
    rec = get_recipe(recipe)
    accuracies: list[float] = []
    best: list[int] = []
    outputs: list[TrackOutputs] = []
    order: list[int] = []
    for fold in cv_folds(data.targets, folds, seed=seed):
        train, validation, test = _learn_every_label(fold, data.targets)
        fitted = rec if len(validation) else _without_patience(rec)
        model, history = train_model(data, train, validation, fitted, seed=seed, device=device, max_epochs=max_epochs)
        predicted = evaluate_model(model, data, test, rec, device=device)
        accuracies.append(float(np.mean(predicted.predicted == predicted.targets)) if len(test) else float("nan"))
        best.append(history.best_epoch if history.best_epoch is not None else len(history.epochs))
        outputs.append(predicted)
        order.extend(int(i) for i in test)
    return CrossValidation(folds, tuple(accuracies), tuple(best), _pool(outputs), tuple(order))


def describe_evaluation(scheme: str, *, folds: int | None = None, tracks: int | None = None) -> str:
    """One sentence saying how a run was evaluated (the first line of its report.txt).

    Examples
    --------
    >>> describe_evaluation("cv", folds=5, tracks=17)  # doctest: +ELLIPSIS
    'evaluated by 5-fold stratified cross-validation: each of the 17 tracks tested once, ...'
    """
    if scheme == "cv":
        return (
            f"evaluated by {folds}-fold stratified cross-validation: each of the {tracks} tracks tested once, "
            f"by a model that never saw it; the final model trained on all {tracks} tracks"
        )
    if scheme == "80-20":
        return "evaluated on the validation part of a stratified 80-20 split (no separate test part)"
    if scheme == "filtered":
        return "evaluated on the test part of the artist-filtered GTZAN split"
    return f"evaluated on the held-out test part of a stratified 64-16-20 split ({scheme})"


def _prepend_report(out: Path, line: str) -> None:
    report = out / "report.txt"
    report.write_text(f"{line}\n\n{report.read_text()}")


def run_cross_validated(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    recipe: str | Recipe = "pretrained",
    folds: int = 5,
    seed: int = 42,
    max_epochs: int | None = None,
    device: str = "cpu",
    data: FeatureSet | None = None,
    layout: str = "auto",
    num_workers: int | None = None,
    plots: bool = True,
    reason: str | None = None,
) -> ExperimentResult:
    """Cross-validate the recipe on *root*, train the final model on every track and write everything into *out*.

    The estimate is :func:`cross_validate`'s; the final model trains on every track for
    :attr:`CrossValidation.final_epochs` epochs. metrics.json and report.txt hold the
    pooled test predictions' metrics (per-label recall over every track), the folds'
    accuracies with their mean and standard deviation, and how the run was evaluated;
    model.ckpt records the scheme (``"cv"``), the folds and these figures.

    Parameters
    ----------
    root, out, recipe, seed, max_epochs, device, data, layout, num_workers, plots
        As for :func:`~musicgenre.experiment.run_experiment`.
    folds
        Folds of the cross-validation.
    reason
        Why cross-validation was chosen (:attr:`~musicgenre.splits.EvaluationPlan.reason`), for metrics.json.

    Returns
    -------
    ExperimentResult
        ``evaluated_on`` is ``"cross-validation"``; ``metrics`` those of the pooled test
        predictions; ``fold_accuracy`` the folds' accuracies.
    """
    rec = get_recipe(recipe)
    started = time.perf_counter()
    if data is None:
        data = load_data(root, rec, layout=layout, num_workers=num_workers)
    extract_seconds = time.perf_counter() - started
    cv = cross_validate(data, rec, folds=folds, seed=seed, device=device, max_epochs=max_epochs)
    everything = np.arange(len(data.targets), dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    # No track is left to early-stop on: the folds chose the epochs.
    model, history = train_model(
        data, everything, empty, _without_patience(rec), seed=seed, device=device, max_epochs=cv.final_epochs
    )
    parameters = sum(p.numel() for p in model.parameters())
    spread = mean_std(cv.fold_accuracy)
    target = Path(out)
    how = describe_evaluation("cv", folds=folds, tracks=len(everything))
    metrics = write_results(
        target, data, cv.predictions, history, recipe=rec.name, evaluated_on="cross-validation", seed=seed,
        parameters=parameters, plots=plots, scheme="cv", folds=folds, evaluation=how, reason=reason,
        fold_accuracy=list(cv.fold_accuracy), accuracy_over_folds=spread, fold_best_epochs=list(cv.best_epochs),
        final_epochs=cv.final_epochs, split_sizes=[len(everything)],
    )  # fmt: skip
    _prepend_report(
        target,
        f"{how}.\naccuracy over the {folds} folds: mean {spread['mean']:.3f}, standard deviation "
        f"{spread['std']:.3f}; below, the pooled test predictions of every track",
    )
    worst, worst_recall = metrics.worst_recall
    save_checkpoint(
        target / "model.ckpt",
        model,
        classes=data.classes,
        features=rec.features,
        metrics={
            "accuracy": metrics.accuracy,
            "f1_weighted": metrics.f1,
            "evaluated_on": f"{folds}-fold cross-validation",
            "accuracy_fold_mean": spread["mean"],
            "accuracy_fold_std": spread["std"],
            "worst_recall": f"{worst} {worst_recall:.2f}",
        },
        extra={
            "recipe": rec.name,
            "seed": seed,
            "scheme": "cv",
            "folds": folds,
            "fold_accuracy": [round(a, 4) for a in cv.fold_accuracy],
            "final_epochs": cv.final_epochs,
        },
        windowing=cv.predictions.windowing,
        parts=part_records(data, [everything]),
    )
    return ExperimentResult(
        recipe=rec.name,
        scheme="cv",
        seed=seed,
        evaluated_on="cross-validation",
        metrics=metrics,
        segment_accuracy=cv.predictions.window_accuracy,
        epochs=len(history.epochs),
        best_epoch=history.best_epoch,
        train_seconds=sum(e.seconds for e in history.epochs),
        extract_seconds=extract_seconds,
        parameters=parameters,
        out=target,
        folds=folds,
        fold_accuracy=cv.fold_accuracy,
    )


def run_planned(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    plan: EvaluationPlan | str,
    *,
    recipe: str | Recipe = "pretrained",
    data: FeatureSet | None = None,
    **options: Any,
) -> ExperimentResult:
    """Train and evaluate as *plan* says (:func:`~musicgenre.splits.plan_evaluation`, or a scheme's name).

    ``"cv"`` runs :func:`run_cross_validated`; any other scheme (``"random"``, ``"80-20"``,
    ``"filtered"``) :func:`~musicgenre.experiment.run_experiment`. Either way report.txt
    starts with how the run was evaluated (:func:`describe_evaluation`). *options* go to
    the function run (``seed``, ``max_epochs``, ``device``, ``layout``, ``num_workers``, ``plots``).
    """
    if isinstance(plan, str):
        plan = EvaluationPlan(plan, 5 if plan == "cv" else None, "")
    if plan.scheme == "cv":
        return run_cross_validated(
            root, out, recipe=recipe, folds=plan.folds or 5, data=data, reason=plan.reason or None, **options
        )
    result = run_experiment(root, out, recipe=recipe, scheme=plan.scheme, data=data, **options)
    _prepend_report(result.out, describe_evaluation(plan.scheme) + (f" ({plan.reason})" if plan.reason else ""))
    return result
