"""Scoring a saved model again: :func:`evaluate_checkpoint` on one part of the split its checkpoint stores.

The checkpoint stores the ids and content hashes of each part's tracks, so it scores
exactly those tracks, with the windows the model was evaluated with, and never re-splits
the files it finds unless asked to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import FeatureSet, content_hash
from musicgenre.errors import CheckpointError, ConfigurationError, MissingDependencyError, SplitMismatchError
from musicgenre.evaluation.metrics import ClassificationMetrics, classification_metrics
from musicgenre.evaluation.plots import plot_confusion_matrix, plot_tsne
from musicgenre.evaluation.report import write_report
from musicgenre.experiment.run import PART_NAMES, load_data
from musicgenre.models.checkpoint import PartRecord, load_checkpoint
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes import PRETRAINED_MUSICNN, RECIPES, REFERENCE, Recipe
from musicgenre.splits import split_indices
from musicgenre.training.tracks import TrackOutputs, score_tracks

__all__ = ["CheckpointEvaluation", "evaluate_checkpoint"]

logger = logging.getLogger(__name__)


def _default_recipe(model: GenreModel) -> Recipe:
    """The recipe to score a checkpoint whose recipe is not registered here: by the model's own front end.

    A model that names its front end (``model.front_end()``, as a pretrained backbone does)
    is scored on that front end's frames; any other on the log-mel of the stored features.
    """
    return PRETRAINED_MUSICNN if callable(getattr(model, "front_end", None)) else REFERENCE


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

    A checkpoint written by :func:`~musicgenre.experiment.run.run_experiment` stores the ids, content hashes and
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
    name = str(stored.get("recipe"))
    base = RECIPES[name] if name in RECIPES else _default_recipe(loaded.model)
    rec = base.for_checkpoint(loaded.model, loaded.features, windowing)
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
        if part not in parts and stored.get("scheme") == "cv":
            raise ConfigurationError(
                f"this model was evaluated by {stored.get('folds')}-fold cross-validation and then trained on every "
                "track, so no track was held out from it: its cross-validation figures are in the run's "
                "metrics.json and report.txt (and `musicgenre info`)"
            )
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
    predictions = score_tracks(loaded.model, data, indices, rec.front_end, windowing, device=device)
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
