"""Recipes: crops stay inside the clip and cover it, per-track aggregation, the filtered split."""

from __future__ import annotations

import collections
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import musicgenre as mg
from musicgenre.audio import functional as F
from musicgenre.evaluation.tracks import evaluate_tracks
from musicgenre.experiment import load_data, train_model
from musicgenre.recipes import IMPROVED, REFERENCE, CNNRecipe, get_recipe, register_recipe
from musicgenre.splits import filtered_split, filtered_split_ids
from musicgenre.synthetic import make_synthetic_gtzan


def test_random_crops_stay_inside_and_cover_the_clip() -> None:
    track = torch.arange(100.0).reshape(1, 1, 100)
    generator = torch.Generator().manual_seed(0)
    seen = torch.zeros(100, dtype=torch.bool)
    for _ in range(200):
        crop = F.random_crop(track, 20, generator=generator)
        assert crop.shape == (1, 1, 20)
        start = int(crop[0, 0, 0])
        assert 0 <= start <= 80
        assert torch.equal(crop[0, 0], torch.arange(start, start + 20.0))  # contiguous, inside
        seen[start : start + 20] = True
    assert bool(seen.all()), "200 crops should cover every frame of the clip"


def test_crops_are_reproducible_per_seed() -> None:
    track = torch.randn(1, 8, 300)
    a = [F.random_crop(track, 50, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(a[0], a[1])
    b = F.random_crop(track, 50, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a[0], b)


def test_segments_cover_the_track_and_pad_the_last() -> None:
    x = torch.arange(10.0).reshape(1, 10)
    windows = F.segments(x, 4, 2, pad_value=-1.0)
    assert windows.shape == (4, 1, 4)
    assert windows[-1].tolist() == [[6.0, 7.0, 8.0, 9.0]]
    short = F.segments(torch.ones(1, 3), 4, 2, pad_value=-1.0)
    assert short.tolist() == [[[1.0, 1.0, 1.0, -1.0]]]


def test_recipe_windows_and_views() -> None:
    features = torch.randn(1, 96, 1292)  # 30 s of the improved recipe's features
    windows = IMPROVED.eval_windows(features)
    n = IMPROVED.features.n_frames
    assert windows.shape[1:] == (1, 96, n)
    assert windows.shape[0] == 1 + -(-(1292 - n) // round(n * 0.5))
    view = IMPROVED.train_view()
    assert view(features, torch.Generator().manual_seed(0)).shape == (1, 96, n)
    ref = torch.randn(1, 64, 215)
    assert torch.equal(REFERENCE.eval_windows(ref)[0], ref)
    assert torch.equal(REFERENCE.train_view()(ref, torch.Generator()), ref)


def test_reference_view_pads_a_short_clip_at_a_random_split() -> None:
    short = torch.full((1, 64, 100), 5.0)
    short[..., 0] = -80.0  # the track's floor, used as the padding value
    starts = set()
    for seed in range(20):
        out = REFERENCE.train_view()(short, torch.Generator().manual_seed(seed))
        assert out.shape == (1, 64, 215)
        assert int((out == 5.0).sum()) == 64 * 99
        starts.add(int((out[0, 0] == 5.0).nonzero()[0]))
    assert len(starts) > 5


def test_per_track_aggregation_is_the_mean_of_window_probabilities() -> None:
    # A model whose logits are the first input cell of each class: windows disagree on purpose.
    class Fixed(mg.GenreCNN):
        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
            return x[:, 0, 0, :2]

    recipe = replace(REFERENCE, features=mg.FeatureConfig(clip_ms=1000, n_mels=2, hop_length=22000), eval_hop=1.0)
    model = Fixed(mg.GenreCNNConfig(n_classes=2, n_mels=2, n_frames=2, channels=(1,), embedding_dim=2))
    model.classifier = torch.nn.Identity()  # type: ignore[assignment]
    # Track of 3 windows of 2 frames: window logits (2, 0), (0, 2), (0, 2).
    track = torch.tensor([[[2.0, 0.0, 0.0, 2.0, 0.0, 2.0], [0.0] * 6]]).reshape(1, 2, 6)
    data = mg.data.cache.FeatureSet.from_spectrograms([track], [0], [Path("blues.00000.wav")], ("blues", "jazz"))
    predictions = evaluate_tracks(model, data, [0], recipe)
    p = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    expected = (p + p.flip(0) + p.flip(0)) / 3
    np.testing.assert_allclose(predictions.probabilities[0], expected.numpy(), rtol=1e-6)
    assert predictions.predicted.tolist() == [1]  # the mean favours the majority of windows
    assert (predictions.window_correct, predictions.window_total) == (1, 3)


def test_filtered_split_sizes_overlap_and_genres() -> None:
    train, val, test = filtered_split_ids()
    assert (len(train), len(val), len(test)) == (443, 197, 290)
    assert not set(train) & set(val)
    assert not set(train) & set(test)
    assert not set(val) & set(test)
    per_genre = collections.Counter(tid.split(".")[0] for tid in test)
    assert set(per_genre) == set(mg.GENRES)
    assert all(20 <= n <= 35 for n in per_genre.values())
    all_ids = [f"{g}.{n:05d}" for g in mg.GENRES for n in range(100)]
    parts = filtered_split(all_ids)
    assert [len(p) for p in parts] == [443, 197, 290]
    assert [all_ids[i] for i in parts[2]] == sorted(test, key=all_ids.index)


def test_filtered_split_rejects_foreign_ids() -> None:
    with pytest.raises(mg.ConfigurationError, match="filtered split"):
        filtered_split(["song1", "song2"])


def test_recipe_registry() -> None:
    mine = register_recipe(replace(IMPROVED, name="mine-test", crops_per_track=2))
    assert get_recipe("mine-test") is mine
    assert get_recipe(mine) is mine
    with pytest.raises(mg.ConfigurationError, match="unknown recipe"):
        get_recipe("nope")
    with pytest.raises(mg.ConfigurationError):
        CNNRecipe(name="bad", description="", crop="middle")  # type: ignore[arg-type]


def test_improved_recipe_learns_short_noisy_clips(tmp_path: Path) -> None:
    """Random crops, SpecAugment and the per-track vote learn hard synthetic genres (chance: 0.1).

    Which recipe wins on these 16 test clips is not a stable fact: over data seeds the
    reference scored 0.94/0.94/0.94 and this recipe 0.94/0.94/0.75, and a change in float
    rounding moves one clip. The comparison is measured on real clips instead
    (``docs/results_cv_mini.md``: five folds of 100 GTZAN clips); here the improved recipe
    must learn the genres well above chance.
    """
    root = make_synthetic_gtzan(tmp_path / "noisy", clips_per_genre=8, duration=8.0, noise=0.35, seed=7)
    fast_improved = replace(IMPROVED, name="improved-test", trainer=replace(IMPROVED.trainer, max_epochs=25))
    data = load_data(root, fast_improved)
    train, val, test = mg.stratified_split(data.targets, seed=0)
    model, _ = train_model(data, train, val, fast_improved, seed=0)
    predicted = evaluate_tracks(model, data, test, fast_improved).predicted
    assert float((predicted == np.asarray(data.targets)[test]).mean()) >= 0.6


def test_vendored_filtered_split_matches_the_published_lists() -> None:
    # The lists ship with musicgenre; they must stay byte-identical to the vendored file
    # checked in (sha256 below) and equal to the authors' lists as torchaudio copies them.
    import hashlib
    from importlib import resources

    data = resources.files("musicgenre").joinpath("gtzan_filtered_split.tsv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "7b25bedc829c02b2eb13b4c3c77a517ec06a60e3ec91e36589b79853f7f912f1"
    train, val, test = filtered_split_ids()
    assert (len(train), len(val), len(test)) == (443, 197, 290)
    gtzan = pytest.importorskip("torchaudio.datasets.gtzan")
    if not hasattr(gtzan, "filtered_train"):
        pytest.skip("this torchaudio no longer ships the filtered lists")
    assert (list(train), list(val), list(test)) == (gtzan.filtered_train, gtzan.filtered_valid, gtzan.filtered_test)
