"""The "pretrained" recipe: backbone + head model, cached window features, head training, balancing, CV.

Synthetic data only. Head training runs on synthetic *features* (no backbone); the
end-to-end test runs the real backbone on a few seconds of synthetic audio.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import FeatureSet, embed_features
from musicgenre.data.embeddings import WindowEmbeddings
from musicgenre.errors import ConfigurationError
from musicgenre.experiment import cv_folds, evaluate_checkpoint, load_data, run_experiment
from musicgenre.models import load_checkpoint, save_checkpoint
from musicgenre.models.musicnn_classifier import FeatureHead, MusicnnClassifier, MusicnnClassifierConfig
from musicgenre.recipes import PRETRAINED_MUSICNN, PretrainedRecipe, PretrainedSettings, get_recipe
from musicgenre.synthetic import make_synthetic_gtzan
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.embeddings import BackboneEncoder, TrackEmbeddings, embed_tracks, score_embeddings
from musicgenre.training.heads import BalancedTrainer, class_weights, train_head
from musicgenre.training.tracks import Indices

WINDOWING = Windowing("all", 187, "logits")


def fast_recipe(**settings: Any) -> PretrainedRecipe:
    """The pretrained recipe with a short epoch bound, for tests."""
    trainer = replace(PRETRAINED_MUSICNN.trainer, max_epochs=60, patience=15, progress=False)
    return replace(PRETRAINED_MUSICNN, trainer=trainer, settings=PretrainedSettings(**settings))


def fit_head(
    model: MusicnnClassifier,
    embeddings: TrackEmbeddings,
    train: Indices,
    val: Indices,
    recipe: PretrainedRecipe,
    **options: Any,
) -> History:
    """train_head with the recipe's trainer settings and head options, as PretrainedRecipe.fit calls it."""
    s = recipe.settings
    return train_head(
        model, embeddings, train, val, recipe.trainer, balance=s.balance, window_subset=s.window_subset, **options
    )


def synthetic_embeddings(
    counts: list[int], dim: int = 32, windows: int = 4, *, spread: float = 1.0, seed: int = 0
) -> TrackEmbeddings:
    """Tracks of *windows* feature vectors each, class c around a random centre, *counts[c]* tracks of class c."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), dim)) * 2.0
    tracks, targets, files = [], [], []
    for c, n in enumerate(counts):
        for i in range(n):
            x = centres[c] + spread * rng.normal(size=(windows, dim))
            tracks.append(torch.tensor(x, dtype=torch.float32).T.unsqueeze(0))
            targets.append(c)
            files.append(Path(f"c{c}-{i}.wav"))
    classes = tuple(f"class{c}" for c in range(len(counts)))
    frames = FeatureSet.from_spectrograms(tracks, targets, files, classes)  # only its tracks' labels and files
    features = WindowEmbeddings.from_rows([t[0].T for t in tracks], frames, dim)
    weights = [torch.tensor([1.0] * (windows - 1) + [0.5]) for _ in tracks]
    return TrackEmbeddings(features, weights, WINDOWING)


class LinearHeadModel(MusicnnClassifier):
    """A MusicnnClassifier whose head reads *dim*-d features (for synthetic features)."""

    def __init__(self, n_classes: int, dim: int, seed: int = 0) -> None:
        super().__init__(MusicnnClassifierConfig(n_classes=n_classes), seed=seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.head = FeatureHead(dim, n_classes)


def split(n: int, seed: int = 0) -> tuple[list[int], list[int], list[int]]:
    order = np.random.default_rng(seed).permutation(n).tolist()
    a, b = int(0.6 * n), int(0.8 * n)
    return order[:a], order[a:b], order[b:]


# -- the model -----------------------------------------------------------------------------
def test_model_is_backbone_plus_head_and_mean_logits_equal_head_of_mean_features() -> None:
    model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=3), seed=0).eval()
    x = torch.randn(5, 1, 96, 187)
    features = model.forward_features(x)
    assert features.shape == (5, 1506)
    logits = model(x)
    assert torch.allclose(logits, model.forward_head(features), atol=1e-5)
    # linear head: mean of window logits == head of the mean feature (what the head is trained on)
    assert torch.allclose(logits.mean(0), model.forward_head(features.mean(0, keepdim=True))[0], atol=1e-5)
    with pytest.raises(ConfigurationError, match="expects"):
        model(torch.zeros(2, 2, 96, 187))


def test_from_pretrained_loads_the_packaged_backbone() -> None:
    from musicgenre.models.pretrained import load_pretrained

    model = MusicnnClassifier.from_pretrained("MSD_musicnn", 4, seed=0)
    reference = load_pretrained("MSD_musicnn")
    x = torch.randn(2, 187, 96)
    assert torch.allclose(model.forward_features(x.transpose(1, 2).unsqueeze(1)), reference.pooled(x), atol=1e-5)
    assert model.num_classes == 4
    with pytest.raises(ConfigurationError, match="unknown pretrained model"):
        MusicnnClassifierConfig(backbone="nope")


def test_checkpoint_round_trip_gives_equal_predictions(tmp_path: Path) -> None:
    model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=3), seed=0).eval()
    model.head.set_standardization(torch.randn(20, 1506) * 3 + 1)
    path = save_checkpoint(tmp_path / "model.ckpt", model, classes=["a", "b", "c"])
    loaded = load_checkpoint(path)
    assert isinstance(loaded.model, MusicnnClassifier)
    x = torch.randn(3, 1, 96, 187)
    assert torch.equal(loaded.model(x), model(x))


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:FutureWarning")
def test_export_backbone_and_head_as_one_torchscript_model(tmp_path: Path) -> None:
    model = MusicnnClassifier.from_pretrained("MSD_musicnn", 3, seed=0)
    model.head.set_standardization(torch.randn(20, 1506) * 3 + 1)
    x = torch.randn(2, 1, 96, 187) + 2.0
    with warnings.catch_warnings():  # tracing a fixed graph on purpose: its tracer warnings are noise
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        traced = torch.jit.trace(model, x, check_trace=False)  # type: ignore[no-untyped-call]
    path = tmp_path / "model.pt"
    traced.save(str(path))
    restored = torch.jit.load(str(path))  # type: ignore[no-untyped-call]
    other = torch.randn(4, 1, 96, 187) + 2.0  # another batch size: the trace is not specialised to 2
    assert torch.allclose(restored(other), model(other), atol=1e-4)


# -- cached window features ------------------------------------------------------------------
def test_embed_features_encodes_each_window_once_and_serves_the_disk_cache(tmp_path: Path) -> None:
    model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=2), seed=0).eval()
    frames = [torch.rand(1, 96, 200) * 3, torch.rand(1, 96, 500) * 3]
    data = FeatureSet.from_spectrograms(frames, [0, 1], [Path("a.wav"), Path("b.wav")], ("x", "y"))
    encoder = BackboneEncoder(model, WINDOWING)
    first = embed_features(data, encoder, batch_size=3, cache="disk", cache_dir=tmp_path, progress=False)
    assert isinstance(first, WindowEmbeddings)  # window encodings, not a spectrogram store
    assert first.storage.shape == (2 + 3, 1506)  # 200 frames -> 2 windows, 500 -> 3
    assert first.dim == 1506
    assert first.windows(1).shape == (3, 1506)
    assert first.track_ids == data.track_ids
    expected = model.forward_features(encoder.windows(frames[1]))
    assert torch.allclose(first.storage[2:], expected, atol=1e-5)
    again = embed_features(data, encoder, cache="disk", cache_dir=tmp_path, progress=False)
    assert torch.equal(again.storage, first.storage)
    # a changed track is encoded afresh, the other served from the store
    changed = FeatureSet.from_spectrograms([frames[0], frames[1] + 1], [0, 1], data.files, data.classes)
    fresh = embed_features(changed, encoder, cache="disk", cache_dir=tmp_path, progress=False)
    assert torch.equal(fresh.storage[:2], first.storage[:2])
    assert not torch.allclose(fresh.storage[2:], first.storage[2:])


# -- head training -----------------------------------------------------------------------------
def test_head_learns_synthetic_features_well_above_chance() -> None:
    embeddings = synthetic_embeddings([20, 20, 20, 20], spread=2.0)
    train, val, test = split(80)
    model = LinearHeadModel(4, 32)
    history = fit_head(model, embeddings, train, val, fast_recipe(), seed=0)
    assert history.best_epoch is not None
    outputs = score_embeddings(model, embeddings, test)
    accuracy = float((outputs.predicted == outputs.targets).mean())
    assert accuracy >= 0.8  # chance is 0.25
    assert np.allclose(outputs.probabilities.sum(1), 1.0, atol=1e-5)


def test_head_training_is_reproducible_with_a_seed() -> None:
    embeddings = synthetic_embeddings([10, 10, 10], spread=2.0)
    train, val, _ = split(30)
    heads = []
    for _ in range(2):
        model = LinearHeadModel(3, 32, seed=1)
        fit_head(model, embeddings, train, val, fast_recipe(), seed=7, max_epochs=5)
        heads.append(model.head.classifier.weight.detach().clone())
    assert torch.equal(heads[0], heads[1])


def test_evaluation_equals_the_head_of_each_tracks_weighted_mean_feature() -> None:
    embeddings = synthetic_embeddings([5, 5], dim=8)
    model = LinearHeadModel(2, 8)
    outputs = score_embeddings(model, embeddings, [0, 3, 7])
    expected = torch.softmax(model.head(embeddings.track_means([0, 3, 7])), dim=1)
    assert np.allclose(outputs.probabilities, expected.detach().numpy(), atol=1e-5)


def test_class_weights_are_inverse_frequency() -> None:
    weights = class_weights([0] * 8 + [1] * 2, 3)
    assert torch.allclose(weights, torch.tensor([10 / (2 * 8), 10 / (2 * 2), 0.0]))
    assert torch.allclose(class_weights([0, 1, 2] * 4, 3), torch.ones(3))


def test_balanced_trainer_weighs_the_loss_by_class() -> None:
    logits = torch.randn(6, 2)
    targets = torch.tensor([0, 0, 0, 0, 1, 1])
    weights = class_weights(targets.tolist(), 2)
    trainer = BalancedTrainer(class_weights=weights)
    expected = nn.functional.cross_entropy(logits, targets, weight=weights)
    assert torch.allclose(trainer.loss(logits, targets), expected)
    assert not torch.allclose(BalancedTrainer().loss(logits, targets), expected)


class _SeeWeights(Callback):
    def __init__(self) -> None:
        self.weights: torch.Tensor | None = None

    def on_fit_start(self, trainer: Any, model: nn.Module) -> None:
        self.weights = trainer.class_weights


@pytest.mark.parametrize("balance", [True, False])
def test_balance_setting_decides_the_loss_weights_on_an_unbalanced_set(balance: bool) -> None:
    embeddings = synthetic_embeddings([30, 6], spread=3.0)
    targets = embeddings.features.targets
    train = [i for i in range(36) if i % 3 != 0]
    val = [i for i in range(36) if i % 3 == 0]
    seen = _SeeWeights()
    recipe = fast_recipe(balance=balance)
    fit_head(LinearHeadModel(2, 32), embeddings, train, val, recipe, max_epochs=2, callbacks=[seen])
    if balance:
        counts = np.bincount([targets[i] for i in train])
        assert seen.weights is not None
        assert torch.allclose(seen.weights, torch.tensor(len(train) / (2 * counts), dtype=torch.float32))
    else:
        assert seen.weights is None


def test_recipe_registered_with_the_backbones_front_end_and_logit_averaging() -> None:
    recipe = get_recipe("pretrained")
    assert isinstance(recipe, PretrainedRecipe)
    assert recipe.settings.balance
    assert recipe.frozen
    assert recipe.windowing == Windowing("all", 187, "logits", tail="drop")  # whole patches, as the tagger
    assert recipe.front_end.window_frames == recipe.features.n_frames == 187
    assert recipe.front_end.sample_rate == recipe.features.sample_rate == 16000
    with pytest.raises(ConfigurationError, match="window_subset"):
        PretrainedSettings(window_subset=0.0)


# -- cross-validation folds --------------------------------------------------------------------
def test_cv_folds_tile_the_set_and_are_stratified() -> None:
    targets = [0] * 10 + [1] * 10 + [2] * 5
    folds = cv_folds(targets, 5, seed=3)
    tested = sorted(int(i) for fold in folds for i in fold[2])
    assert tested == list(range(25))
    for train, val, test in folds:
        assert not set(map(int, train)) & set(map(int, val)) | set(map(int, test)) & set(map(int, train))
        assert len(train) + len(val) + len(test) == 25
        assert np.bincount([targets[int(i)] for i in test], minlength=3).tolist() == [2, 2, 1]
    again = cv_folds(targets, 5, seed=3)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(folds, again, strict=True))
    with pytest.raises(ConfigurationError):
        cv_folds(targets, 1)


# -- end to end on synthetic audio ---------------------------------------------------------------
def test_pretrained_recipe_end_to_end_writes_a_checkpoint_that_reloads(tmp_path: Path) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=4, duration=3.5, genres=("classical", "metal"))
    recipe = fast_recipe()
    data = load_data(root, recipe)
    assert data.storage.shape[1] == 96
    result = run_experiment(root, tmp_path / "run", recipe=recipe, data=data, plots=False, seed=0)
    assert result.metrics.accuracy >= 0.5
    loaded = load_checkpoint(tmp_path / "run" / "model.ckpt")
    assert isinstance(loaded.model, MusicnnClassifier)
    assert loaded.parts is not None
    ids = data.track_ids
    test = [ids.index(t) for t in loaded.parts["test"].ids]
    # the reloaded model scores the stored test part exactly as the run did
    outputs = score_embeddings(loaded.model, embed_tracks(loaded.model, data, recipe.windowing), test)
    assert float((outputs.predicted == outputs.targets).mean()) == pytest.approx(result.metrics.accuracy)
    assert loaded.extra["recipe"] == "pretrained"
    # evaluate_checkpoint scores the stored test part through the one path (backbone on the frames)
    evaluation = evaluate_checkpoint(tmp_path / "run" / "model.ckpt", root)
    assert evaluation.metrics.accuracy == pytest.approx(result.metrics.accuracy)
    assert np.allclose(evaluation.predictions.probabilities, outputs.probabilities, atol=1e-5)


def test_classifier_on_a_pretrained_checkpoint_serves_the_evaluated_probabilities(tmp_path: Path) -> None:
    from musicgenre.data import AudioFolderDataset
    from musicgenre.data.cache import extract_features
    from musicgenre.evaluation.tracks import evaluate_tracks
    from musicgenre.predict import GenreClassifier, Prediction

    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=2, duration=7.3, genres=("blues", "disco"))
    recipe = get_recipe("pretrained")
    dataset = AudioFolderDataset(root / "genres", sample_rate=recipe.features.sample_rate)
    data = extract_features(dataset, recipe.features, front_end=recipe.front_end, progress=False)
    model = MusicnnClassifier.from_pretrained("MSD_musicnn", len(data.classes), seed=0)
    embeddings = embed_tracks(model, data, recipe.windowing)
    model.head.set_standardization(embeddings.track_means(range(len(data))))
    evaluated = score_embeddings(model, embeddings, range(len(data)))
    # the one path on the cached frames (running the backbone) agrees with the cached features
    on_frames = evaluate_tracks(model, data, range(len(data)), recipe)
    assert np.allclose(on_frames.probabilities, evaluated.probabilities, atol=1e-5)
    path = save_checkpoint(
        tmp_path / "model.ckpt", model, classes=data.classes, features=recipe.features, windowing=recipe.windowing
    )
    classifier = GenreClassifier.from_checkpoint(path)
    served = classifier.predict_many(data.files, top_k=1)
    for prediction, expected in zip(served, evaluated.probabilities, strict=True):
        assert isinstance(prediction, Prediction)
        probabilities = np.array([prediction.probabilities[c] for c in data.classes])
        assert np.abs(probabilities - expected).max() < 1e-5
    assert isinstance(served[0], Prediction)
    assert served[0].segments == 2  # 7.3 s: two whole 3-s windows (the 1.3 s after them left out, as musicnn)


def test_fine_tuning_trains_the_mid_end_only_and_keeps_the_backbone_statistics(tmp_path: Path) -> None:
    root = make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=3, duration=3.5, genres=("classical", "metal"))
    recipe = replace(fast_recipe(fine_tune="mid", fine_tune_epochs=1), name="pretrained-tuned")
    data = load_data(root, recipe)
    present = [i for i, t in enumerate(data.targets) if data.classes[t] in ("classical", "metal")]
    before = MusicnnClassifier.from_pretrained("MSD_musicnn", len(data.classes)).backbone.state_dict()
    model, history = recipe.fit(data, present[::2], present[1::2], seed=0, max_epochs=3)
    after = model.backbone.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed
    assert all(k.startswith("mid.") and "running" not in k for k in changed)
    # The head's fit (one entry: a logistic head is solved, not trained in epochs), then the
    # fine-tuning epoch.
    assert len(history.epochs) == 1 + 1
    assert history.epochs[-1].epoch == 2
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again afterwards


# -- the names that moved keep working, with a warning -------------------------------------
def test_moved_names_warn_and_keep_their_old_signatures() -> None:
    import musicgenre.evaluation as evaluation
    import musicgenre.evaluation.transfer as old
    import musicgenre.recipes as recipes
    from musicgenre.training import heads

    with pytest.warns(DeprecationWarning, match=r"training\.heads\.BalancedTrainer"):
        assert old.BalancedTrainer is heads.BalancedTrainer
    with pytest.warns(DeprecationWarning, match="PretrainedSettings"):
        assert recipes.TransferSettings is PretrainedSettings
    with pytest.warns(DeprecationWarning, match=r"training\.heads\.class_weights"):
        assert evaluation.class_weights is heads.class_weights
    with pytest.warns(DeprecationWarning, match="PretrainedRecipe.frozen"):
        assert old.frozen_backbone("pretrained")
    embeddings = synthetic_embeddings([10, 10, 10], spread=2.0)
    train, val, _ = split(30)
    heads_trained = []
    for how in ("old", "new"):
        model = LinearHeadModel(3, 32, seed=1)
        if how == "old":  # the old call: a recipe as argument
            with pytest.warns(DeprecationWarning, match=r"training\.heads\.train_head"):
                old_train_head = old.train_head
            old_train_head(model, embeddings, train, val, fast_recipe(), seed=7, max_epochs=3)
        else:
            fit_head(model, embeddings, train, val, fast_recipe(), seed=7, max_epochs=3)
        heads_trained.append(model.head.classifier.weight.detach().clone())
    assert torch.equal(heads_trained[0], heads_trained[1])
    with pytest.raises(AttributeError):
        _ = old.no_such_name


def test_old_model_names_warn_and_are_the_new_objects() -> None:
    import musicgenre.models as models
    import musicgenre.models.musicnn_classifier as new
    import musicgenre.models.transfer as old

    for name, value in [
        ("MusicnnClassifier", new.MusicnnClassifier),
        ("TransferConfig", new.MusicnnClassifierConfig),
        ("TransferHead", new.FeatureHead),
        ("TransferLayer", new.BackboneLayer),
    ]:
        with pytest.warns(DeprecationWarning, match=rf"models\.transfer\.{name} is deprecated"):
            assert getattr(old, name) is value
    for name, value in [("TransferConfig", new.MusicnnClassifierConfig), ("TransferHead", new.FeatureHead)]:
        with pytest.warns(DeprecationWarning, match=rf"models\.{name} is deprecated"):
            assert getattr(models, name) is value
    with pytest.warns(DeprecationWarning, match="MusicnnFrontEnd"):
        frames_cls = models.MusicnnFrames
    with pytest.warns(DeprecationWarning, match="MusicnnFrontEnd"):
        assert old.MusicnnFrames is frames_cls
    with pytest.raises(AttributeError):
        _ = old.no_such_name
    with pytest.raises(AttributeError):
        _ = models.no_such_name


#: musicgenre 0.2.0's ``MusicnnFrames("MSD_musicnn").key``: disk caches of musicnn frames are keyed by it.
MUSICNN_KEY_0_2_0 = (
    '{"float16": true, "front_end": "musicnn", "hop_length": 256, "n_fft": 512, "n_mels": 96, '
    '"pad_mode": "constant", "sample_rate": 16000}'
)


def test_musicnn_frames_is_the_backbones_musicnn_front_end_with_its_old_key_and_attributes() -> None:
    from musicgenre.audio.frontends import MusicnnFrontEnd

    with pytest.warns(DeprecationWarning, match="MusicnnFrontEnd"):
        from musicgenre.models.transfer import MusicnnFrames
    old = MusicnnFrames("MTT_musicnn")
    new = MusicnnClassifier(MusicnnClassifierConfig(backbone="MTT_musicnn", n_classes=2)).front_end()
    assert isinstance(old, MusicnnFrontEnd)
    assert type(new) is MusicnnFrontEnd
    assert old.key == new.key == MUSICNN_KEY_0_2_0  # existing feature caches stay valid
    assert (old.backbone, old.module, old.n_bands) == ("MTT_musicnn", old, 96)
    wave = torch.randn(16000 * 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(old.frames(wave), new.frames(wave))
    assert (old.window_frames, old.window_samples, old.silence) == (187, 186 * 256, 0.0)


def test_make_frontend_and_recipe_transfer_are_deprecated_spellings() -> None:
    from musicgenre.models.pretrained import pretrained_info
    from musicgenre.recipes import REFERENCE

    entry = pretrained_info("MSD_musicnn")
    with pytest.warns(DeprecationWarning, match="make_front_end"):
        old = entry.make_frontend()
    assert repr(old) == repr(entry.make_front_end())
    assert old.key == entry.make_front_end().key
    recipe = get_recipe("pretrained")
    assert isinstance(recipe, PretrainedRecipe)
    with pytest.warns(DeprecationWarning, match=r"PretrainedRecipe\.settings"):
        assert recipe.transfer is recipe.settings
    with pytest.warns(DeprecationWarning, match=r"Recipe\.transfer is deprecated"):
        assert REFERENCE.transfer is None  # as 0.2.0's field was for a CNN recipe


def test_a_checkpoint_written_through_the_old_names_loads_as_before(tmp_path: Path) -> None:
    """Checkpoints name the class, "MusicnnClassifier", and hold 0.2.0's config keys and weight names."""
    with pytest.warns(DeprecationWarning, match=r"transfer\.MusicnnClassifier is deprecated"):
        from musicgenre.models.transfer import MusicnnClassifier as OldClassifier
    with pytest.warns(DeprecationWarning, match=r"transfer\.TransferConfig is deprecated"):
        from musicgenre.models.transfer import TransferConfig

    model = OldClassifier(TransferConfig(n_classes=3, hidden=8), seed=0).eval()
    model.head.set_standardization(torch.randn(20, 1506) * 3 + 1)
    path = save_checkpoint(tmp_path / "model.ckpt", model, classes=["a", "b", "c"])
    payload = torch.load(path, weights_only=True)
    assert payload["model_class"] == "MusicnnClassifier"
    assert payload["model_config"] == {
        "backbone": "MSD_musicnn",
        "n_classes": 3,
        "layer": "pooled",
        "hidden": 8,
        "dropout": 0.0,
    }
    head_keys = {k for k in payload["state_dict"] if k.startswith("head.")}
    assert head_keys == {
        "head.mean",
        "head.scale",
        "head.hidden.0.weight",
        "head.hidden.0.bias",
        "head.classifier.weight",
        "head.classifier.bias",
    }
    loaded = load_checkpoint(path)
    assert type(loaded.model) is MusicnnClassifier
    assert loaded.model.config == MusicnnClassifierConfig(n_classes=3, hidden=8)
    x = torch.randn(2, 1, 96, 187)
    assert torch.equal(loaded.model(x), model(x))


# -- musicnn's front end is a FrontEnd ------------------------------------------------------------
def test_musicnn_front_end_is_a_front_end_whose_frames_are_a_view_of_its_output() -> None:
    from musicgenre.audio.frontends import MusicnnFrontEnd, musicnn_patches
    from musicgenre.audio.windowing import FrontEnd, cut_windows
    from musicgenre.data._store import FrameBuffer
    from musicgenre.predict.featurizer import Patches, SlidingWindows

    front = MusicnnFrontEnd(window_frames=100)
    assert isinstance(front, FrontEnd)
    assert (front.window_frames, front.window_samples, front.silence) == (100, 99 * 256, 0.0)
    wave = torch.randn(16000 * 5, generator=torch.Generator().manual_seed(1))
    out = front(wave)
    frames = front.frames(wave.unsqueeze(0))
    assert frames.shape == (1, 96, out.shape[0])
    assert torch.equal(frames[0].T, out)
    assert frames.stride()[1:] == (1, 96)  # a view of the (frames, n_mels) output, not a copy
    assert torch.equal(front.finish(frames), frames)
    copy = frames.contiguous()
    # everything downstream gives the same from the view as from a copy
    for windowing in (Windowing("all", 60), Windowing("first")):
        assert torch.equal(cut_windows(frames, front, windowing).windows, cut_windows(copy, front, windowing).windows)
        sliding = SlidingWindows(windowing)
        assert torch.equal(sliding.cut(frames, front)[0], sliding.cut(copy, front)[0])
    patches = Patches(100).cut(frames, front)[0]
    assert torch.equal(patches, Patches(100).cut(copy, front)[0])
    assert torch.equal(patches, musicnn_patches(out, 100))
    stored, fresh = FrameBuffer(96), FrameBuffer(96)
    span = stored.append(frames, 1)
    fresh.append(copy, 1)
    assert torch.equal(stored.buffer[span[0] : span[1]], out)
    assert torch.equal(stored.buffer, fresh.buffer)


def test_tagger_runs_the_musicnn_front_end_itself() -> None:
    from musicgenre.audio.frontends import MusicnnFrontEnd, musicnn_patches
    from musicgenre.predict import Tagger

    tagger = Tagger.from_pretrained("MTT_musicnn")
    assert type(tagger.front_end) is MusicnnFrontEnd
    assert tagger.pipeline.featurizer.front_end is tagger.front_end
    wave = torch.randn(16000 * 7, generator=torch.Generator().manual_seed(2))
    assert torch.equal(tagger.patches(wave), musicnn_patches(tagger.front_end(wave)))


# -- the head as a convex problem ---------------------------------------------------------------
def test_probe_head_is_scikit_learns_logistic_regression_on_standardised_track_means() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from musicgenre.training.heads import fit_head as fit_convex

    embeddings = synthetic_embeddings([15, 12, 18], spread=2.5)
    train, val, test = split(45)
    model = LinearHeadModel(3, 32)
    history = fit_convex(model, embeddings, train, val, how="probe")
    assert history.best_epoch == 1
    targets = [embeddings.features.targets[i] for i in train]
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000))
    probe.fit(embeddings.track_means(train).double().numpy(), targets)
    expected = probe.predict_proba(embeddings.track_means(test).double().numpy())
    outputs = score_embeddings(model, embeddings, test)
    np.testing.assert_allclose(outputs.probabilities, expected, atol=2e-3)


def test_logistic_head_chooses_its_regularisation_and_learns() -> None:
    from musicgenre.training.heads import fit_head as fit_convex

    embeddings = synthetic_embeddings([20, 20, 20, 20], spread=2.0)
    train, val, test = split(80)
    model = LinearHeadModel(4, 32)
    history = fit_convex(model, embeddings, train, val)
    chosen_c = history.epochs[0].lr  # the history's one entry records the chosen C
    assert chosen_c in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    outputs = score_embeddings(model, embeddings, test)
    assert float((outputs.predicted == outputs.targets).mean()) >= 0.8


def test_head_fit_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="hidden layer"):
        PretrainedSettings(hidden=16)
    assert PretrainedSettings(hidden=16, head_fit="gradient").hidden == 16
    with pytest.raises(ConfigurationError, match="head_fit"):
        PretrainedSettings(head_fit="sgd")  # type: ignore[arg-type]
