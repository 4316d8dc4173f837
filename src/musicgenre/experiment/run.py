"""One run: a recipe trained and evaluated on one split, with its reports, plots and checkpoint.

The run has five stages, each a public function, so a script can run them one by one
(``examples/reproduce_gtzan.py`` does) or all at once with :func:`run_experiment`, which
calls exactly these:

1. :func:`load_data`: find the clips and extract the recipe's features once (cached).
2. :func:`~musicgenre.splits.split_indices`: the parts of the random 64-16-20, 80-20 or
   filtered scheme.
3. :func:`train_model`: the recipe's :meth:`~musicgenre.recipes.Recipe.fit` (early stopping
   on the validation part).
4. :func:`evaluate_model`: the recipe's :meth:`~musicgenre.recipes.Recipe.evaluate` on the
   held-out part (per-track predictions).
5. :func:`write_run`: metrics, report, plots and the checkpoint, which records the tracks of
   every part (:func:`part_records`), so ``musicgenre evaluate`` scores the same test part.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from musicgenre.data.cache import CacheMode, FeatureSet, content_hash
from musicgenre.data.layout import open_dataset
from musicgenre.errors import ConfigurationError
from musicgenre.evaluation.metrics import ClassificationMetrics
from musicgenre.evaluation.report import write_results
from musicgenre.models.checkpoint import PartRecord, save_checkpoint
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes import Recipe, get_recipe
from musicgenre.splits import split_indices
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.tracks import Indices, TrackOutputs

__all__ = [
    "PART_NAMES",
    "ExperimentResult",
    "evaluate_model",
    "evaluated_part",
    "load_data",
    "part_records",
    "result_dict",
    "run_experiment",
    "train_model",
    "write_run",
]

logger = logging.getLogger(__name__)
#: Names of a scheme's parts, in order ("80-20" has the first two only).
PART_NAMES = ("train", "validation", "test")


def load_data(
    root: str | os.PathLike[str],
    recipe: str | Recipe = "reference",
    *,
    layout: str = "auto",
    cache: CacheMode = "memory",
    cache_dir: str | os.PathLike[str] | None = None,
    num_workers: int | None = None,
    progress: bool | None = None,
) -> FeatureSet:
    """Find the clips under *root* and extract the recipe's features once.

    *layout* says how *root* is labelled (:func:`~musicgenre.data.layout.open_dataset`):
    ``"gtzan"`` (GTZAN's names, in any of its layouts), ``"folder"`` (your own labels, one
    folder per label: :class:`~musicgenre.data.folder.AudioFolderDataset`) or ``"auto"``
    (:func:`~musicgenre.data.layout.detect_layout`). The features' classes are the
    genres or the label folders' names. The recipe's
    :meth:`~musicgenre.recipes.Recipe.extract` computes them.

    The reference recipe needs only the first 5 s of each clip, so only those are
    decoded into features (exactly the reference's spectrogram); recipes that look at
    the whole track keep the whole track's frames, computed by the recipe's front end.
    """
    rec = get_recipe(recipe)
    dataset = open_dataset(root, layout, sample_rate=rec.features.sample_rate)
    return rec.extract(dataset, cache=cache, cache_dir=cache_dir, num_workers=num_workers, progress=progress)


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
) -> tuple[GenreModel, History]:
    """Train the recipe's model on *train_indices*, early-stopping on *val_indices*.

    The recipe's :meth:`~musicgenre.recipes.Recipe.fit` builds and trains it.

    Returns
    -------
    tuple
        The model (holding the best epoch's weights) and its :class:`~musicgenre.training.History`.
    """
    return get_recipe(recipe).fit(
        data, train_indices, val_indices, seed=seed, device=device, max_epochs=max_epochs, callbacks=callbacks
    )


def evaluate_model(
    model: GenreModel, data: FeatureSet, indices: Indices, recipe: str | Recipe = "reference", *, device: str = "cpu"
) -> TrackOutputs:
    """Per-track predictions on *indices*, as the recipe evaluates (:meth:`~musicgenre.recipes.Recipe.evaluate`).

    The windows are the recipe's; a pretrained recipe with a frozen backbone scores its
    cached window features with the head alone, with the same arithmetic.
    """
    return get_recipe(recipe).evaluate(model, data, indices, device=device)


def evaluated_part(parts: Sequence[Indices]) -> str:
    """The name of the part a run is evaluated on: ``"test"``, or ``"validation"`` for a two-part split.

    Examples
    --------
    >>> evaluated_part([[0, 1], [2], [3]]), evaluated_part([[0, 1], [2]])
    ('test', 'validation')
    """
    if len(parts) not in (2, 3):
        raise ConfigurationError(f"a split has 2 or 3 parts (train, validation[, test]), not {len(parts)}")
    return PART_NAMES[len(parts) - 1]


def part_records(data: FeatureSet, parts: Sequence[Indices]) -> dict[str, PartRecord]:
    """Each part's tracks (ids, content hashes, labels) by part name, as checkpoints store them."""
    return {name: _part_record(data, indices) for name, indices in zip(PART_NAMES, parts, strict=False)}


def _part_record(data: FeatureSet, indices: Indices) -> PartRecord:
    ids = data.track_ids
    idx = [int(i) for i in indices]
    return PartRecord(
        tuple(ids[i] for i in idx),
        tuple(content_hash(data.files[i]) for i in idx),
        tuple(data.classes[data.targets[i]] for i in idx),
    )


def write_run(
    out: str | os.PathLike[str],
    model: GenreModel,
    data: FeatureSet,
    predictions: TrackOutputs,
    history: History | None,
    *,
    recipe: str | Recipe,
    parts: Sequence[Indices],
    scheme: str,
    seed: int,
    plots: bool = True,
    **extra: Any,
) -> ClassificationMetrics:
    """Write metrics.json, report.txt, the plots and model.ckpt into *out*: the last stage of :func:`run_experiment`.

    The checkpoint stores the recipe, seed and scheme, the windows scored and the tracks
    of every part of *parts* (:func:`part_records`), so that
    :func:`~musicgenre.experiment.evaluate_checkpoint` (``musicgenre evaluate``) scores
    exactly the held-out part again. *predictions* are those of the last part (the
    evaluated one, :func:`evaluated_part`); *extra* keys go into metrics.json.
    """
    rec = get_recipe(recipe)
    evaluated_on = evaluated_part(parts)
    parameters = sum(p.numel() for p in model.parameters())
    metrics = write_results(
        out, data, predictions, history, recipe=rec.name, evaluated_on=evaluated_on, seed=seed,
        parameters=parameters, plots=plots, scheme=scheme, split_sizes=[len(p) for p in parts], **extra,
    )  # fmt: skip
    save_checkpoint(
        Path(out) / "model.ckpt",
        model,
        classes=data.classes,
        features=rec.features,
        metrics={"accuracy": metrics.accuracy, "f1_weighted": metrics.f1, "evaluated_on": evaluated_on},
        extra={"recipe": rec.name, "seed": seed, "scheme": scheme},
        windowing=predictions.windowing,
        parts=part_records(data, parts),
    )
    return metrics


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` measured.

    Attributes
    ----------
    recipe, scheme, seed
        What ran (``scheme``: ``"random"``, ``"80-20"`` or ``"filtered"``).
    evaluated_on
        The part scored: ``"test"``, or ``"validation"`` for the two-part 80-20 scheme, or
        ``"cross-validation"`` (every track tested once, by a fold's model that never saw it).
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
    folds
        Cross-validation folds (scheme ``"cv"``); ``None`` otherwise.
    fold_accuracy
        Cross-validation: the folds' accuracies (their mean and spread describe the estimate).
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
    folds: int | None = None
    fold_accuracy: tuple[float, ...] = ()

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
    layout: str = "auto",
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
        GTZAN folder (any layout), or a folder of your own labels (one subfolder per label).
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
    layout
        How *root* is labelled (:func:`load_data`).
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
        data = load_data(root, rec, layout=layout, cache=cache, cache_dir=cache_dir, num_workers=num_workers)
    extract_seconds = time.perf_counter() - started
    parts = list(split) if split is not None else split_indices(scheme, data.targets, data.track_ids, seed=seed)
    logger.info("%s split: %s", scheme, " / ".join(f"{len(p)} {n}" for p, n in zip(parts, PART_NAMES, strict=False)))
    model, history = train_model(data, parts[0], parts[1], rec, seed=seed, device=device, max_epochs=max_epochs)
    predictions = evaluate_model(model, data, parts[-1], rec, device=device)
    metrics = write_run(
        out, model, data, predictions, history, recipe=rec, parts=parts, scheme=scheme, seed=seed, plots=plots
    )
    return ExperimentResult(
        recipe=rec.name,
        scheme=scheme,
        seed=seed,
        evaluated_on=evaluated_part(parts),
        metrics=metrics,
        segment_accuracy=predictions.window_accuracy,
        epochs=len(history.epochs),
        best_epoch=history.best_epoch,
        train_seconds=sum(e.seconds for e in history.epochs),
        extract_seconds=extract_seconds,
        parameters=sum(p.numel() for p in model.parameters()),
        out=Path(out),
    )


def result_dict(result: ExperimentResult) -> dict[str, Any]:
    """:class:`ExperimentResult` as JSON-ready values."""
    data = asdict(result)
    data["metrics"] = result.metrics.to_dict()
    data["out"] = str(result.out)
    data["fold_accuracy"] = list(result.fold_accuracy)
    return data
