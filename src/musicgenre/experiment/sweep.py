"""Many runs: the results table over recipes, schemes and seeds, and stratified cross-validation folds."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from musicgenre.errors import ConfigurationError
from musicgenre.evaluation.report import format_results_table, mean_std
from musicgenre.experiment.run import load_data, run_experiment
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.training.tracks import Indices

__all__ = ["cv_folds", "results_table"]


def results_table(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    recipes: Sequence[str | Recipe] = ("reference", "improved"),
    schemes: Sequence[str] = ("random", "filtered"),
    seeds: Sequence[int] = (0, 1, 2),
    max_epochs: int | None = None,
    device: str = "cpu",
    num_workers: int | None = None,
    cv: int | None = None,
) -> list[dict[str, Any]]:
    """Run every recipe x scheme x seed and write ``results.json`` and ``results.md`` into *out*.

    Each row gives the mean and standard deviation over the seeds of per-track accuracy,
    weighted F1, worst-class recall and training time, and the parameter count.

    With *cv* = k, *schemes* is ignored: each recipe is scored by stratified k-fold
    cross-validation (:func:`cv_folds`) for each seed, every track in exactly one test
    fold; each fold trains on the others, early-stopping on a stratified ``1/k`` of them
    (for k = 5, a 64-16-20 split whose test parts tile the set). The row's spread is over
    the k x seeds runs.
    """
    if cv is not None and cv < 2:
        raise ConfigurationError(f"cv needs at least 2 folds, got {cv}")
    target = Path(out)
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for recipe in recipes:
        rec = get_recipe(recipe)
        data = load_data(root, rec, num_workers=num_workers)
        plans: list[tuple[str, list[tuple[str, int, Sequence[Indices] | None]]]]
        if cv is not None:
            name = f"{cv}-fold CV"
            folds: list[tuple[str, int, Sequence[Indices] | None]] = [
                (f"{rec.name}-cv{cv}-seed{seed}-fold{f}", seed, parts)
                for seed in seeds
                for f, parts in enumerate(cv_folds(data.targets, cv, seed=seed))
            ]
            plans = [(name, folds)]
        else:
            plans = [
                (scheme, [(f"{rec.name}-{scheme}-seed{seed}", seed, None) for seed in seeds]) for scheme in schemes
            ]
        for scheme, planned in plans:
            results = [
                run_experiment(
                    root,
                    target / folder,
                    recipe=rec,
                    scheme=scheme,
                    seed=seed,
                    max_epochs=max_epochs,
                    device=device,
                    data=data,
                    plots=False,
                    split=split,
                )
                for folder, seed, split in planned
            ]
            runs.extend(r.row() for r in results)
            rows.append(
                {
                    "recipe": rec.name,
                    "scheme": scheme,
                    "seeds": list(seeds),
                    "runs": len(results),
                    "accuracy": mean_std([r.metrics.accuracy for r in results]),
                    "segment_accuracy": mean_std([r.segment_accuracy for r in results]),
                    "f1_weighted": mean_std([r.metrics.f1 for r in results]),
                    "worst_recall": mean_std([r.metrics.worst_recall[1] for r in results]),
                    "train_seconds": mean_std([r.train_seconds for r in results]),
                    "parameters": results[0].parameters,
                }
            )
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps({"rows": rows, "runs": runs, "root": str(root)}, indent=2) + "\n")
    (target / "results.md").write_text(format_results_table(rows))
    return rows


def cv_folds(targets: Sequence[int], k: int, *, seed: int = 0) -> list[list[NDArray[np.int64]]]:
    """Stratified k-fold cross-validation: for each fold, its ``[train, validation, test]`` item indices.

    Each class's items are shuffled with *seed* and dealt round-robin into *k* test folds,
    so every item is tested exactly once and each fold holds each class's share. The
    items outside a test fold are dealt the same way into *k* groups: one is the
    validation part for early stopping, the rest train (for k = 5: 64-16-20, the random
    scheme's proportions).

    Examples
    --------
    >>> folds = cv_folds([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 5, seed=0)
    >>> sorted(int(i) for fold in folds for i in fold[2])
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    >>> [len(part) for part in folds[0]]
    [6, 2, 2]
    >>> [len(part) for part in cv_folds([0] * 50 + [1] * 50, 5)[0]]
    [64, 16, 20]
    """
    if k < 2:
        raise ConfigurationError(f"cross-validation needs at least 2 folds, got {k}")
    labels = np.asarray(list(targets))
    rng = np.random.default_rng(seed)

    def deal(items: NDArray[np.int64], parts: int) -> list[NDArray[np.int64]]:
        groups: list[list[int]] = [[] for _ in range(parts)]
        position = 0
        for label in np.unique(labels[items]):
            members = items[labels[items] == label]
            for i in rng.permutation(members):
                groups[position % parts].append(int(i))
                position += 1
        return [np.sort(np.asarray(g, dtype=np.int64)) for g in groups]

    folds = []
    everything = np.arange(len(labels), dtype=np.int64)
    for test in deal(everything, k):
        rest = np.setdiff1d(everything, test).astype(np.int64)
        inner = deal(rest, k)
        folds.append([np.sort(np.concatenate(inner[1:])), inner[0], test])
    return folds
