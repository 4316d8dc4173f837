"""Experiments: a recipe run end to end on a dataset, with reports, plots and a checkpoint.

The pipeline has four steps, each a function, so a script can run them one by one
(``examples/reproduce_gtzan.py`` does) or all at once with :func:`run_experiment`:

1. :func:`load_data`: find the clips and extract their features once (cached).
2. :func:`~musicgenre.splits.split_indices`: the parts of the random 64-16-20, 80-20 or
   filtered scheme.
3. :func:`train_model`: train the recipe's model with early stopping.
4. :func:`~musicgenre.evaluation.tracks.evaluate_tracks` and
   :func:`~musicgenre.evaluation.report.write_outputs`: per-track predictions, metrics,
   report, plots and the checkpoint.

:func:`results_table` repeats this over recipes, schemes and seeds and writes the table
(mean and spread) as JSON and Markdown; :func:`evaluate_checkpoint` scores a saved model
on one part of its split: the checkpoint stores the ids and content hashes of each part's
tracks, so it scores exactly those tracks, with the windows the model was evaluated with,
and never re-splits the files it finds unless asked to.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import CacheMode, FeatureSet, content_hash, extract_features
from musicgenre.data.gtzan import GTZANDataset
from musicgenre.errors import CheckpointError, ConfigurationError, MissingDependencyError, SplitMismatchError
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.plots import plot_confusion_matrix, plot_tsne
from musicgenre.evaluation.report import format_results_table, mean_std, write_outputs, write_report
from musicgenre.evaluation.tracks import Indices, TrackOutputs, TrackTrainer, evaluate_tracks, track_loader
from musicgenre.evaluation.transfer import embed_tracks, evaluate_embeddings, frozen_backbone, train_transfer
from musicgenre.models.checkpoint import PartRecord, load_checkpoint
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.transfer import MusicnnClassifier
from musicgenre.recipes import RECIPES, Recipe, TransferSettings, get_recipe
from musicgenre.splits import split_indices
from musicgenre.training.callbacks import Callback, History

__all__ = [
    "PART_NAMES",
    "CheckpointEvaluation",
    "ExperimentResult",
    "cv_folds",
    "evaluate_checkpoint",
    "load_data",
    "result_dict",
    "results_table",
    "run_experiment",
    "train_model",
]

logger = logging.getLogger(__name__)
#: Names of a scheme's parts, in order ("80-20" has the first two only).
PART_NAMES = ("train", "validation", "test")


def load_data(
    root: str | os.PathLike[str],
    recipe: str | Recipe = "reference",
    *,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int | None = None,
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
        front_end=rec.front_end if rec.transfer is not None else None,
    )


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
) -> tuple[GenreCNN | MusicnnClassifier, History]:
    """Train the recipe's model on *train_indices*, early-stopping on *val_indices*.

    A pretrained-backbone recipe (``"pretrained"``) trains its head on the backbone's
    cached features (:func:`~musicgenre.evaluation.transfer.train_transfer`).

    Returns
    -------
    tuple
        The model (holding the best epoch's weights) and its :class:`~musicgenre.training.History`.
    """
    rec = get_recipe(recipe)
    if rec.transfer is not None:
        return train_transfer(
            data, train_indices, val_indices, rec, seed=seed, device=device, max_epochs=max_epochs, callbacks=callbacks
        )
    config = replace(rec.trainer, seed=seed, device=device, max_epochs=max_epochs or rec.trainer.max_epochs)
    model = GenreCNN(rec.model_config(len(data.classes)), seed=seed)
    repeated = [int(i) for i in train_indices] * rec.crops_per_track
    train_set = data.with_view(rec.train_view(), repeated, seed=seed + 1)  # each item's draws: (seed, epoch, item)
    trainer = TrackTrainer(config, callbacks)
    history = trainer.fit(model, train_set, track_loader(data, val_indices, rec))
    return model, history


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` measured.

    Attributes
    ----------
    recipe, scheme, seed
        What ran (``scheme``: ``"random"``, ``"80-20"`` or ``"filtered"``).
    evaluated_on
        The part scored: ``"test"``, or ``"validation"`` for the two-part 80-20 scheme.
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
    scheme: str
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
            "scheme": self.scheme,
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
    scheme: str = "random",
    seed: int = 42,
    max_epochs: int | None = None,
    device: str = "cpu",
    data: FeatureSet | None = None,
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int | None = None,
    plots: bool = True,
    split: Sequence[Indices] | None = None,
) -> ExperimentResult:
    """Run one recipe on one scheme's split with one seed and write everything into *out*.

    Parameters
    ----------
    root
        GTZAN folder (any layout).
    out
        Output folder: metrics.json, report.txt, loss.png, confusion.png, tsne.png, model.ckpt.
    recipe
        ``"reference"``, ``"improved"``, a registered name or a :class:`~musicgenre.recipes.Recipe`.
    scheme
        How to split: ``"random"`` (64-16-20), ``"80-20"`` (train/validation only; evaluates
        on validation) or ``"filtered"`` (the artist-filtered GTZAN split).
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
    split
        The parts (train, validation[, test]) to use instead of *scheme*'s split, which
        then only names them (a cross-validation fold, say).

    Returns
    -------
    ExperimentResult
    """
    rec = get_recipe(recipe)
    started = time.perf_counter()
    if data is None:
        data = load_data(root, rec, cache=cache, cache_dir=cache_dir, num_workers=num_workers)
    extract_seconds = time.perf_counter() - started
    parts = list(split) if split is not None else split_indices(scheme, data.targets, data.track_ids, seed=seed)
    logger.info("%s split: %s", scheme, " / ".join(f"{len(p)} {n}" for p, n in zip(parts, PART_NAMES, strict=False)))
    model, history = train_model(data, parts[0], parts[1], rec, seed=seed, device=device, max_epochs=max_epochs)
    evaluated_on = PART_NAMES[len(parts) - 1]
    if isinstance(model, MusicnnClassifier) and frozen_backbone(rec):
        # The frozen backbone's window features are cached: the head alone scores them, with the
        # arithmetic of evaluate_tracks (window logits averaged), without running the backbone again.
        predictions = evaluate_embeddings(model, embed_tracks(model, data, rec), parts[-1], device=device)
    else:
        predictions = evaluate_tracks(model, data, parts[-1], rec, device=device)
    records = {name: _part_record(data, indices) for name, indices in zip(PART_NAMES, parts, strict=False)}
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
        parts=records,
        scheme=scheme,
        split_sizes=[len(p) for p in parts],
    )
    return ExperimentResult(
        recipe=rec.name,
        scheme=scheme,
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


def _part_record(data: FeatureSet, indices: Indices) -> PartRecord:
    ids = data.track_ids
    idx = [int(i) for i in indices]
    return PartRecord(
        tuple(ids[i] for i in idx),
        tuple(content_hash(data.files[i]) for i in idx),
        tuple(data.classes[data.targets[i]] for i in idx),
    )


def _match_part(data: FeatureSet, record: PartRecord) -> tuple[list[int], list[str], list[str]]:
    """Items of *data* that are the tracks of *record* (same id, label and content), and the ids missing or changed."""
    by_id: dict[str, list[int]] = {}
    for i, tid in enumerate(data.track_ids):
        by_id.setdefault(tid, []).append(i)
    hashes: dict[int, str] = {}
    used: set[int] = set()
    indices: list[int] = []
    missing: list[str] = []
    changed: list[str] = []
    for tid, digest, label in zip(record.ids, record.hashes, record.labels, strict=True):
        candidates = [i for i in by_id.get(tid, []) if i not in used]
        if not candidates:
            missing.append(tid)
            continue
        match = None
        for i in candidates:
            if data.classes[data.targets[i]] != label:
                continue
            if i not in hashes:
                hashes[i] = content_hash(data.files[i])
            if hashes[i] == digest:
                match = i
                break
        if match is None:
            changed.append(tid)
        else:
            used.add(match)
            indices.append(match)
    return indices, missing, changed


def _few(ids: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


@dataclass(frozen=True)
class CheckpointEvaluation:
    """What :func:`evaluate_checkpoint` measured.

    Attributes
    ----------
    metrics
        Per-track metrics.
    predictions
        Per-track probabilities and embeddings (in the order of the stored part's tracks).
    part
        The part scored (``"train"``, ``"validation"`` or ``"test"``).
    split
        ``"stored"`` (the tracks the checkpoint lists for *part*) or ``"re-split"`` (an
        explicit *scheme*/*seed* applied to the files found).
    scheme, seed
        The scheme and seed of the split.
    expected
        Tracks in the part (stored), or scored (re-split).
    missing, changed
        Ids of the part's tracks left out with ``allow_missing=True``: not found (or not
        decodable), or whose content or label changed.
    windowing
        The windows scored.
    """

    metrics: ClassificationMetrics
    predictions: TrackOutputs
    part: str
    split: str
    scheme: str | None
    seed: int | None
    expected: int
    missing: tuple[str, ...]
    changed: tuple[str, ...]
    windowing: Windowing

    @property
    def evaluated(self) -> int:
        """Tracks scored."""
        return len(self.predictions.targets)

    @property
    def complete(self) -> bool:
        """Whether every track of the part was scored."""
        return self.evaluated == self.expected

    def summary(self) -> dict[str, Any]:
        """The facts besides the metrics, as JSON-ready values (written to ``metrics.json``)."""
        return {
            "evaluated_on": self.part,
            "split": self.split,
            "scheme": self.scheme,
            "seed": self.seed,
            "tracks_expected": self.expected,
            "tracks_evaluated": self.evaluated,
            "missing": list(self.missing),
            "changed": list(self.changed),
            "windows": self.windowing.to_dict(),
        }


def evaluate_checkpoint(
    checkpoint: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    part: str = "test",
    scheme: str | None = None,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    allow_missing: bool = False,
) -> CheckpointEvaluation:
    """Score a saved model on one part (``"train"``, ``"validation"``, ``"test"``) of its split.

    A checkpoint written by :func:`run_experiment` stores the ids, content hashes and
    labels of each part's tracks: the tracks of *part* are looked up by id under *root*
    and scored, whatever else the folder holds; the split is never recomputed, so a clip
    added, removed or unreadable elsewhere cannot move tracks between parts. The windows
    are those the model was evaluated with (:attr:`Checkpoint.windowing
    <musicgenre.models.checkpoint.Checkpoint.windowing>`).

    Parameters
    ----------
    checkpoint
        The ``model.ckpt``.
    root
        The dataset folder.
    part
        Which part to score (``"val"`` is short for ``"validation"``).
    scheme, seed
        Re-split the files found under *root* with this scheme and seed instead of using
        the stored part (either one given re-splits; the other defaults to the stored
        value). Needed for checkpoints that store no parts. A re-split matches training's
        only if exactly the same files decode today: one missing or extra file shifts
        every part, and the test part can then hold training tracks.
    out
        Also write metrics.json (with the facts of :meth:`CheckpointEvaluation.summary`),
        report.txt and the confusion-matrix and t-SNE plots there.
    device
        Where the model runs.
    allow_missing
        Score the tracks of the part that are present and unchanged, and list the others
        in the result, instead of raising :class:`~musicgenre.errors.SplitMismatchError`.

    Returns
    -------
    CheckpointEvaluation

    Raises
    ------
    SplitMismatchError
        If tracks of the stored part are missing (or unreadable) or changed, unless *allow_missing*.
    CheckpointError
        If the checkpoint stores no parts and neither *scheme* nor *seed* is given.
    ConfigurationError
        If the part does not exist, or the classes differ from the dataset's.
    """
    loaded = load_checkpoint(checkpoint, map_location=device)
    stored = loaded.extra
    windowing = loaded.windowing
    base = get_recipe(str(stored["recipe"])) if str(stored.get("recipe")) in RECIPES else get_recipe("reference")
    n_frames = loaded.features.n_frames
    eval_hop = None if windowing.mode == "first" else windowing.hop(n_frames) / n_frames
    rec = replace(base, features=loaded.features, eval_hop=eval_hop, eval_average=windowing.average)
    if isinstance(loaded.model, MusicnnClassifier):  # its front end is the backbone's, whatever the recipe's name
        rec = replace(rec, transfer=replace(rec.transfer or TransferSettings(), backbone=loaded.model.config.backbone))
    part = "validation" if part == "val" else part
    resplit = scheme is not None or seed is not None
    parts = loaded.parts
    if parts is None and not resplit:
        raise CheckpointError(
            "this checkpoint stores no split (it was written by musicgenre 0.1.0, or saved without parts); "
            "pass scheme= and seed= (--scheme, --seed) to re-split the files under the root. A re-split "
            "gives training's parts only if exactly the same files decode today: one missing or extra file "
            "shifts every part, and the test part can then hold training tracks",
            path=Path(checkpoint),
        )
    data = load_data(root, rec)
    if tuple(data.classes) != tuple(loaded.classes):
        raise ConfigurationError(
            f"the checkpoint's classes {loaded.classes} differ from the dataset's {list(data.classes)}"
        )
    missing: list[str] = []
    changed: list[str] = []
    split_name: str | None = scheme or (str(stored["scheme"]) if "scheme" in stored else None)
    split_seed: int | None = seed if seed is not None else (int(stored["seed"]) if "seed" in stored else None)
    if resplit:
        split_name = split_name or "random"
        split_seed = 42 if split_seed is None else split_seed
        indices_by_part = split_indices(split_name, data.targets, data.track_ids, seed=split_seed)
        names = PART_NAMES[: len(indices_by_part)]
        if part not in names:
            raise ConfigurationError(f"scheme {split_name!r} has parts {list(names)}, not {part!r}")
        indices = [int(i) for i in indices_by_part[names.index(part)]]
        expected = len(indices)
    else:
        assert parts is not None
        if part not in parts:
            raise ConfigurationError(f"the checkpoint stores the parts {list(parts)}, not {part!r}")
        record = parts[part]
        indices, missing, changed = _match_part(data, record)
        expected = len(record)
        if (missing or changed) and not allow_missing:
            raise SplitMismatchError(
                f"{len(missing) + len(changed)} of the {expected} {part} tracks the checkpoint was evaluated on "
                f"are not here as they were: {len(missing)} missing or unreadable"
                + (f" ({_few(missing)})" if missing else "")
                + f", {len(changed)} changed (content or label)"
                + (f" ({_few(changed)})" if changed else "")
                + f". Evaluate on the same files, or pass allow_missing=True (--allow-missing) to score the "
                f"{len(indices)} that match",
                path=Path(root),
                missing=tuple(missing),
                changed=tuple(changed),
            )
    if not indices:
        raise SplitMismatchError(
            f"none of the {expected} {part} tracks of the checkpoint is here", path=Path(root), missing=tuple(missing)
        )
    predictions = evaluate_tracks(loaded.model, data, indices, rec, device=device, windowing=windowing)
    metrics = classification_metrics(predictions.targets, predictions.predicted, data.classes)
    result = CheckpointEvaluation(
        metrics=metrics,
        predictions=predictions,
        part=part,
        split="re-split" if resplit else "stored",
        scheme=split_name,
        seed=split_seed,
        expected=expected,
        missing=tuple(missing),
        changed=tuple(changed),
        windowing=windowing,
    )
    if out is not None:
        write_report(out, metrics, checkpoint=str(checkpoint), **result.summary())
        try:
            plot_confusion_matrix(metrics, Path(out) / "confusion.png", title=f"{part.capitalize()} confusion matrix")
            if len(predictions.embeddings) >= 3:
                plot_tsne(
                    predictions.embeddings,
                    predictions.targets,
                    data.classes,
                    Path(out) / "tsne.png",
                    seed=split_seed or 0,
                )
        except MissingDependencyError as exc:
            logger.warning("plots skipped: %s", exc)
    return result


def result_dict(result: ExperimentResult) -> dict[str, Any]:
    """:class:`ExperimentResult` as JSON-ready values."""
    data = asdict(result)
    data["metrics"] = result.metrics.to_dict()
    data["out"] = str(result.out)
    return data
