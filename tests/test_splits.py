"""stratified_split: the reference's 64/16/20 recipe, reproducibility, groups and validation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from musicgenre.errors import ConfigurationError
from musicgenre.splits import stratified_split

IntArray = NDArray[np.int64]


@pytest.fixture
def gtzan_labels() -> IntArray:
    """1000 labels, 100 per genre, in GTZAN's file order (genre by genre)."""
    return np.repeat(np.arange(10, dtype=np.int64), 100)


def _per_genre(labels: IntArray, part: IntArray) -> list[int]:
    return [int(c) for c in np.bincount(labels[part], minlength=10)]


def test_reference_split_sizes_and_strata(gtzan_labels: IntArray) -> None:
    train, val, test = stratified_split(gtzan_labels, (0.64, 0.16, 0.20), seed=42)
    assert (len(train), len(val), len(test)) == (640, 160, 200)
    assert _per_genre(gtzan_labels, train) == [64] * 10
    assert _per_genre(gtzan_labels, val) == [16] * 10
    assert _per_genre(gtzan_labels, test) == [20] * 10


def test_parts_are_disjoint_and_complete(gtzan_labels: IntArray) -> None:
    parts = stratified_split(gtzan_labels)
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined)) == 1000
    assert sorted(joined.tolist()) == list(range(1000))
    assert all(p.dtype == np.int64 for p in parts)


def test_same_seed_same_indices_other_seed_other_indices(gtzan_labels: IntArray) -> None:
    first = stratified_split(gtzan_labels, seed=7)
    again = stratified_split(gtzan_labels, seed=7)
    other = stratified_split(gtzan_labels, seed=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, c) for a, c in zip(first, other, strict=True))
    assert set(first[2].tolist()) != set(other[2].tolist())


def test_equals_the_reference_recipe(gtzan_labels: IntArray) -> None:
    # The reference: shuffle the items with RandomState(42), hold out 20 % stratified as the
    # test set, then 20 % of the rest stratified as the validation set.
    order = np.random.RandomState(42).permutation(len(gtzan_labels))
    rest, test = train_test_split(order, test_size=0.2, stratify=gtzan_labels[order], random_state=42)
    train, val = train_test_split(rest, test_size=0.2, stratify=gtzan_labels[rest], random_state=42)

    ours = stratified_split(gtzan_labels, (0.64, 0.16, 0.20), seed=42)

    for mine, theirs in zip(ours, (train, val, test), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_string_labels_work_like_integers(gtzan_labels: IntArray) -> None:
    names = np.array(["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"])
    by_name = stratified_split(names[gtzan_labels].tolist())
    by_index = stratified_split(gtzan_labels)
    for a, b in zip(by_name, by_index, strict=True):
        np.testing.assert_array_equal(a, b)


def test_two_part_split_is_80_20_stratified(gtzan_labels: IntArray) -> None:
    train, val = stratified_split(gtzan_labels, (0.8, 0.2), seed=42)
    assert (len(train), len(val)) == (800, 200)
    assert _per_genre(gtzan_labels, train) == [80] * 10
    assert _per_genre(gtzan_labels, val) == [20] * 10
    assert not set(train.tolist()) & set(val.tolist())


def test_groups_stay_in_one_part(gtzan_labels: IntArray) -> None:
    # 200 "artists" of 5 clips each, never spanning two genres (as in GTZAN).
    groups = np.arange(1000) // 5
    parts = stratified_split(gtzan_labels, (0.64, 0.16, 0.20), seed=3, groups=groups)

    owner: dict[int, int] = {}
    for k, part in enumerate(parts):
        for group in np.unique(groups[part]).tolist():
            assert owner.setdefault(group, k) == k, f"group {group} is in parts {owner[group]} and {k}"
    assert sorted(np.concatenate(parts).tolist()) == list(range(1000))
    sizes = [len(p) / 1000 for p in parts]
    assert sizes == pytest.approx([0.64, 0.16, 0.20], abs=0.05)
    for part in parts:  # still roughly stratified
        assert min(_per_genre(gtzan_labels, part)) > 0


def test_groups_must_match_labels(gtzan_labels: IntArray) -> None:
    with pytest.raises(ConfigurationError, match="groups"):
        stratified_split(gtzan_labels, groups=np.arange(10))


@pytest.mark.parametrize(
    "sizes",
    [(0.5, 0.6), (1.0,), (0.4, 0.3, 0.2, 0.1), (0.8, 0.0, 0.2), (1.2, -0.2), (0.6, 0.2, 0.1)],
)
def test_bad_sizes_raise(gtzan_labels: IntArray, sizes: tuple[float, ...]) -> None:
    with pytest.raises(ConfigurationError, match="sizes"):
        stratified_split(gtzan_labels, sizes)


def test_too_few_items_per_genre_raises() -> None:
    labels = np.array([0, 0, 0, 0, 1], dtype=np.int64)  # genre 1 has a single item
    with pytest.raises(ConfigurationError):
        stratified_split(labels, (0.64, 0.16, 0.20))


def test_error_is_also_a_value_error(gtzan_labels: IntArray) -> None:
    with pytest.raises(ValueError, match="sizes"):
        stratified_split(gtzan_labels, (0.5, 0.6))


# -- choosing the evaluation for a set's size -------------------------------------------------


def test_plan_uses_the_held_out_split_for_gtzan_sized_sets() -> None:
    from musicgenre.splits import plan_evaluation

    plan = plan_evaluation([g for g in range(10) for _ in range(100)], [f"g{i}" for i in range(10)])
    assert (plan.scheme, plan.folds) == ("random", None)


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ([12, 3, 2], "only 17 tracks"),
        ([30, 8, 5], "only 43 tracks"),
        ([10] * 10, "only 100 tracks (a 20 % test part would hold 20)"),
        ([300, 300, 4], "label 'c' has only 4 files"),
    ],
)
def test_plan_cross_validates_small_or_unbalanced_sets(counts: list[int], reason: str) -> None:
    from musicgenre.splits import plan_evaluation

    labels = [label for label, n in enumerate(counts) for _ in range(n)]
    plan = plan_evaluation(labels, ["a", "b", "c", *[f"x{i}" for i in range(7)]][: len(counts)], folds=5)
    assert (plan.scheme, plan.folds) == ("cv", 5)
    assert plan.reason.startswith(reason)


def test_plan_names_a_label_with_a_single_file() -> None:
    from musicgenre.errors import TooFewFilesError
    from musicgenre.splits import plan_evaluation

    with pytest.raises(TooFewFilesError, match=r"label 'folk' has 1 file; each label needs at least 2") as info:
        plan_evaluation([0] * 12 + [1] * 3 + [2], ["ambient", "techno", "folk"])
    assert (info.value.label, info.value.count, info.value.minimum) == ("folk", 1, 2)
