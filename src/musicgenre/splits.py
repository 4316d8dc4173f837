"""Train/validation/test splits as index arrays, stratified by genre.

Splitting is pure: labels in, index arrays out; files are never touched. The default
reproduces the reference exactly: shuffle with the seed, hold out 20 % stratified as the
test set, then 20 % of the rest as the validation set (64/16/20).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from musicgenre.errors import ConfigurationError, TooFewFilesError

__all__ = [
    "SCHEMES",
    "EvaluationPlan",
    "filtered_split",
    "filtered_split_ids",
    "plan_evaluation",
    "split_indices",
    "stratified_split",
]

IndexArray = NDArray[np.int64]

#: The artist-filtered split's lists, a package resource (``part<TAB>track_id`` lines).
FILTERED_SPLIT_FILE = "gtzan_filtered_split.tsv"


def _holdout(
    indices: IndexArray,
    labels: NDArray[np.int64],
    groups: NDArray[np.int64] | None,
    fraction: float,
    seed: int,
) -> tuple[IndexArray, IndexArray]:
    """Split *indices* into (kept, held out), stratified; held out is ~*fraction* of them."""
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    y = labels[indices]
    if groups is None:
        try:
            kept, held = train_test_split(indices, test_size=fraction, stratify=y, random_state=seed)
        except ValueError as exc:
            raise ConfigurationError(f"cannot split {len(indices)} items {fraction:.0%} stratified: {exc}") from None
        return np.asarray(kept, dtype=np.int64), np.asarray(held, dtype=np.int64)
    n_splits = max(2, round(1.0 / fraction))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    try:
        kept_pos, held_pos = next(splitter.split(indices, y, groups[indices]))
    except ValueError as exc:
        raise ConfigurationError(f"cannot split {len(indices)} items into {n_splits} group folds: {exc}") from None
    return indices[kept_pos], indices[held_pos]


def stratified_split(
    labels: ArrayLike,
    sizes: Sequence[float] = (0.64, 0.16, 0.20),
    seed: int = 42,
    groups: ArrayLike | None = None,
) -> tuple[IndexArray, ...]:
    """Split item indices into stratified parts, as the reference does.

    With three sizes ``(train, val, test)``: shuffle ``arange(n)`` with
    ``RandomState(seed)``, hold out ``test`` stratified (scikit-learn's
    ``train_test_split(..., random_state=seed)``), then hold out ``val / (train + val)`` of
    the rest as validation. With two sizes ``(train, val)``: one stratified hold-out
    (the reference's 80-20 variant).

    Parameters
    ----------
    labels
        One label per item (any hashable values of one type).
    sizes
        Fractions of the parts, in order (train, val[, test]); they must sum to 1.
    seed
        Seed of the shuffle and of both hold-outs.
    groups
        Optional group per item (an artist, say). Items of one group stay in one part;
        parts then have only approximately the requested sizes.

    Returns
    -------
    tuple of numpy.ndarray
        One int64 index array per part, disjoint and together covering ``range(n)``.

    Raises
    ------
    ConfigurationError
        If the sizes are not 2 or 3 positive fractions summing to 1, or some genre has too
        few items to be split.

    Examples
    --------
    >>> labels = [g for g in range(10) for _ in range(100)]
    >>> train, val, test = stratified_split(labels)
    >>> len(train), len(val), len(test)
    (640, 160, 200)
    >>> train2, val2 = stratified_split(labels, sizes=(0.8, 0.2))
    >>> len(train2), len(val2)
    (800, 200)
    """
    parts = [float(s) for s in sizes]
    if len(parts) not in (2, 3) or any(s <= 0 for s in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise ConfigurationError(f"sizes must be 2 or 3 positive fractions summing to 1, got {tuple(sizes)}")
    _, y = np.unique(np.asarray(labels), return_inverse=True)
    y = y.astype(np.int64).ravel()
    n = len(y)
    g: NDArray[np.int64] | None = None
    if groups is not None:
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        g = g.astype(np.int64).ravel()
        if len(g) != n:
            raise ConfigurationError(f"groups has {len(g)} entries but labels has {n}")
    order = np.random.RandomState(seed).permutation(n).astype(np.int64)
    if len(parts) == 2:
        return _holdout(order, y, g, round(parts[1], 10), seed)
    rest, test = _holdout(order, y, g, round(parts[2], 10), seed)
    train, val = _holdout(rest, y, g, round(parts[1] / (parts[0] + parts[1]), 10), seed)
    return train, val, test


def filtered_split_ids() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Track ids of the artist-filtered GTZAN split (Kereliuk, Sturm & Larsen, 2015).

    443 training, 197 validation and 290 test clips (930 in all: the 70 clips the
    authors found to be exact repetitions, distortions or mislabelled are left out), with
    no artist in two parts. The lists ship with musicgenre
    (``musicgenre/gtzan_filtered_split.tsv``, whose header names the source); they are
    the authors' published lists, identical to the copies in ``torchaudio.datasets.gtzan``.

    Returns
    -------
    tuple of tuple of str
        ``(train, val, test)`` ids such as ``"blues.00029"``.

    Examples
    --------
    >>> [len(part) for part in filtered_split_ids()]
    [443, 197, 290]
    """
    return _read_filtered_split()


@functools.cache
def _read_filtered_split() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    text = resources.files("musicgenre").joinpath(FILTERED_SPLIT_FILE).read_text(encoding="utf-8")
    parts: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            part, track = line.split("\t")
            parts[part].append(track)
    return tuple(parts["train"]), tuple(parts["validation"]), tuple(parts["test"])


def filtered_split(track_ids: Sequence[str]) -> tuple[IndexArray, IndexArray, IndexArray]:
    """Positions of *track_ids* in the artist-filtered split's train/val/test lists.

    Parameters
    ----------
    track_ids
        One id per item, as :attr:`musicgenre.data.GTZANDataset.track_ids` gives them
        (``"jazz.00054"``).

    Returns
    -------
    tuple of numpy.ndarray
        Index arrays (into *track_ids*) of the train, validation and test items. Items in
        none of the lists are left out.

    Raises
    ------
    ConfigurationError
        If none of the ids is in the filtered lists (not GTZAN).

    Examples
    --------
    >>> train, val, test = filtered_split(["blues.00029", "blues.00012", "blues.00000"])
    >>> train.tolist(), val.tolist(), test.tolist()
    ([0], [2], [1])
    """
    lists = filtered_split_ids()
    part = {tid: k for k, ids in enumerate(lists) for tid in ids}
    chosen: tuple[list[int], list[int], list[int]] = ([], [], [])
    for i, tid in enumerate(track_ids):
        k = part.get(tid)
        if k is not None:
            chosen[k].append(i)
    if not any(chosen):
        raise ConfigurationError("none of the track ids is in the GTZAN filtered split (ids look like 'jazz.00054')")
    train, val, test = (np.asarray(c, dtype=np.int64) for c in chosen)
    return train, val, test


#: Schemes of :func:`split_indices` that split at random (stratified), with their part sizes;
#: ``"filtered"`` is the fixed artist-filtered split.
SCHEMES: dict[str, tuple[float, ...]] = {
    "random": (0.64, 0.16, 0.20),
    "64-16-20": (0.64, 0.16, 0.20),
    "80-20": (0.8, 0.2),
}


def split_indices(
    scheme: str, labels: Sequence[int], track_ids: Sequence[str], *, seed: int = 42
) -> tuple[IndexArray, ...]:
    """Indices of the parts a scheme splits the items into: ``"random"``/``"64-16-20"``, ``"80-20"`` or ``"filtered"``.

    Parameters
    ----------
    scheme
        How to split.
    labels
        Label per item (for the stratified random splits).
    track_ids
        Id per item (for the filtered split).
    seed
        Seed of the random splits (the filtered split is fixed).

    Returns
    -------
    tuple of numpy.ndarray
        (train, val, test) or, for ``"80-20"``, (train, val).
    """
    if scheme == "filtered":
        return filtered_split(track_ids)
    if scheme not in SCHEMES:
        raise ConfigurationError(f"unknown scheme {scheme!r}; choose from {[*SCHEMES, 'filtered']}")
    return stratified_split(labels, SCHEMES[scheme], seed=seed)


@dataclass(frozen=True)
class EvaluationPlan:
    """How a labelled set is to be evaluated: a held-out test part, or cross-validation.

    Attributes
    ----------
    scheme
        ``"random"``: the 64-16-20 stratified split, the model tested on its held-out 20 %.
        ``"cv"``: stratified *folds*-fold cross-validation for the estimate (every track
        tested once, by a model that never saw it), then the final model trained on every
        track.
    folds
        Folds of ``"cv"``; ``None`` for ``"random"``.
    reason
        One sentence saying why, for the user.
    """

    scheme: str
    folds: int | None
    reason: str


def plan_evaluation(
    labels: Sequence[int],
    classes: Sequence[str],
    *,
    folds: int = 5,
    min_test: int = 50,
    min_per_label: int = 10,
) -> EvaluationPlan:
    """Choose how to evaluate a labelled set honestly for its size.

    A 64-16-20 split of 20 tracks tests on 4 and says nothing; a label of 3 files gets no
    test file at all. So the held-out split (``"random"``) is used only when its test part
    holds at least *min_test* tracks and every label at least *min_per_label* files
    (GTZAN's 100 per genre); otherwise stratified k-fold cross-validation (``"cv"``), with
    *folds* folds. A label needs at least 2 files either way (one to learn from, one to
    test on).

    Parameters
    ----------
    labels
        Label index per track.
    classes
        Label names, for the messages.
    folds
        Folds of the cross-validation.
    min_test, min_per_label
        When the held-out split is large enough to use.

    Returns
    -------
    EvaluationPlan

    Raises
    ------
    TooFewFilesError
        If a label has fewer than 2 files; the message names it, its count and the minimum.
    ConfigurationError
        If *folds* is below 2 or there are no labels.

    Examples
    --------
    >>> plan_evaluation([0] * 100 + [1] * 100 + [2] * 100, ["a", "b", "c"]).scheme
    'random'
    >>> plan = plan_evaluation([0] * 12 + [1] * 3 + [2] * 2, ["calm", "loud", "folk"])
    >>> plan.scheme, plan.folds
    ('cv', 5)
    >>> plan_evaluation([0] * 12 + [1] * 1, ["calm", "folk"])
    Traceback (most recent call last):
    ...
    musicgenre.errors.TooFewFilesError: label 'folk' has 1 file; each label needs at least 2 ...
    """
    if folds < 2:
        raise ConfigurationError(f"cross-validation needs at least 2 folds, got {folds}")
    counts = Counter(int(label) for label in labels)
    if not counts:
        raise ConfigurationError("no labelled tracks to evaluate")
    for index, name in enumerate(classes):
        count = counts.get(index, 0)
        if 0 < count < 2:
            raise TooFewFilesError(
                f"label {name!r} has {count} file; each label needs at least 2 (one to learn from, one to test "
                "on): add files to it or remove its folder",
                label=name,
                count=count,
                minimum=2,
            )
    total = sum(counts.values())
    smallest = min(counts.values())
    if round(0.2 * total) >= min_test and smallest >= min_per_label:
        return EvaluationPlan("random", None, f"{total} tracks: a stratified 64-16-20 split, tested on its 20 %")
    small = classes[min(counts, key=counts.__getitem__)]
    why = (
        f"only {total} tracks (a 20 % test part would hold {round(0.2 * total)})"
        if round(0.2 * total) < min_test
        else f"label {small!r} has only {smallest} files"
    )
    return EvaluationPlan(
        "cv",
        folds,
        f"{why}: {folds}-fold stratified cross-validation (every track tested once, by a model that never saw it), "
        "then the final model trained on every track",
    )
