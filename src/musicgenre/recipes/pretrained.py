"""The pretrained-backbone recipe: musicnn's features of every window computed once, a head trained on them.

``"pretrained"`` (:data:`PRETRAINED_MUSICNN`) builds a
:class:`~musicgenre.models.MusicnnClassifier` (the MSD musicnn backbone and a linear
head), computes the frozen backbone's features of every 3-s window once
(:func:`~musicgenre.training.embeddings.embed_tracks`), trains the head on each track's
mean feature (:func:`~musicgenre.training.heads.train_head`: class-balanced loss, random
window subsets), optionally fine-tunes the backbone's mid end
(:func:`~musicgenre.training.heads.fine_tune`), and scores tracks by averaging the
windows' logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import Windowing
from musicgenre.data.cache import FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.models import MusicnnClassifier, pretrained_info
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes.base import Recipe, register_recipe
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.embeddings import embed_tracks, score_embeddings
from musicgenre.training.heads import HeadFit, class_weights, fine_tune, fit_head, train_head
from musicgenre.training.tracks import Indices, TrackOutputs
from musicgenre.training.trainer import TrainerConfig

__all__ = ["PRETRAINED_MUSICNN", "PRETRAINED_PROBE", "PretrainedRecipe", "PretrainedSettings"]


@dataclass(frozen=True)
class PretrainedSettings:
    """How a :class:`PretrainedRecipe` builds and trains its backbone-plus-head model.

    Attributes
    ----------
    backbone
        The pretrained backbone (``"MSD_musicnn"``: the better of the two in the frozen probe).
    layer
        What the head reads: ``"pooled"`` (the 1,506-d pooled features, the better probe) or
        ``"penultimate"`` (the 200-d embedding).
    hidden
        0: a linear head (default; the mean of window logits then equals the head of the
        track's mean features, what it is trained on). ``n > 0``: one hidden ReLU layer
        (trained with ``head_fit="gradient"``).
    head_fit
        How the head is fitted (:data:`~musicgenre.training.heads.HeadFit`): ``"logistic"``
        (default: multinomial logistic regression on the standardised track means, solved
        to convergence, its regularisation chosen on the validation tracks or on folds where
        they are few, class-balanced with *balance*; :func:`~musicgenre.training.heads.fit_head`),
        ``"probe"`` (scikit-learn's plain ``LogisticRegression(C=1.0)`` on the training tracks
        alone: the baseline the recipe must beat) or ``"gradient"`` (the recipe's optimiser
        with label smoothing, weight decay, random window subsets and early stopping:
        :func:`~musicgenre.training.heads.train_head`; 0.2's head).
    dropout
        Dropout on the head's (standardised) input during training.
    balance
        Weight the loss by inverse class frequency in the training part (``n / (k * count)``),
        so each class counts equally; on balanced data (GTZAN's stratified parts) the
        weights are 1 and this changes nothing.
    window_subset
        ``head_fit="gradient"`` only: training items are the weighted mean of a random
        subset of a track's windows, each kept with this probability (at least one): an
        augmentation that costs nothing on cached features. 1.0: always the whole track's mean.
    fine_tune
        ``"none"``: the backbone stays frozen (features computed once). ``"mid"``: after
        the head, the backbone's mid end is trained too, with the head, on random windows
        (slower: runs the backbone every step).
    fine_tune_lr, fine_tune_epochs
        Learning rate and epoch bound of that fine-tuning stage (early-stopped on validation).
    """

    backbone: str = "MSD_musicnn"
    layer: Literal["pooled", "penultimate"] = "pooled"
    hidden: int = 0
    head_fit: HeadFit = "logistic"
    dropout: float = 0.0
    balance: bool = True
    window_subset: float = 0.5
    fine_tune: Literal["none", "mid"] = "none"
    fine_tune_lr: float = 1e-4
    fine_tune_epochs: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.window_subset <= 1.0:
            raise ConfigurationError(f"PretrainedSettings.window_subset must be in (0, 1], got {self.window_subset}")
        if self.fine_tune not in ("none", "mid"):
            raise ConfigurationError(f"PretrainedSettings.fine_tune must be 'none' or 'mid', got {self.fine_tune!r}")
        if self.fine_tune_lr <= 0 or self.fine_tune_epochs < 1 or self.hidden < 0:
            raise ConfigurationError(f"invalid PretrainedSettings: {self}")
        if self.head_fit not in ("logistic", "probe", "gradient"):
            raise ConfigurationError(
                f"PretrainedSettings.head_fit must be logistic, probe or gradient: {self.head_fit!r}"
            )
        if self.hidden and self.head_fit != "gradient":
            raise ConfigurationError("a head with a hidden layer is trained with head_fit='gradient'")


@dataclass(frozen=True)
class PretrainedRecipe(Recipe):
    """A pretrained backbone with a genre head (:class:`~musicgenre.models.MusicnnClassifier`).

    The front end is the backbone's (:class:`~musicgenre.audio.frontends.MusicnnFrontEnd`);
    :attr:`~musicgenre.recipes.base.Recipe.features` only describes it (sample rate, bands, window length).

    Attributes
    ----------
    settings
        The backbone, the head and how they are trained (:class:`PretrainedSettings`).
    """

    settings: PretrainedSettings = field(default_factory=PretrainedSettings)

    @property
    def front_end(self) -> MusicnnFrontEnd:
        """The backbone's front end (musicnn's log-mel of the whole track, 187-frame windows)."""
        return pretrained_info(self.settings.backbone).make_front_end()

    @property
    def frozen(self) -> bool:
        """Whether the backbone stays frozen (its window features are then computed once and reused)."""
        return self.settings.fine_tune == "none"

    def build_model(self, n_classes: int, *, seed: int | None = None) -> MusicnnClassifier:
        """The pretrained backbone with a new head for *n_classes* (the head's weights drawn from *seed*)."""
        s = self.settings
        return MusicnnClassifier.from_pretrained(
            s.backbone, n_classes, seed=seed, layer=s.layer, hidden=s.hidden, dropout=s.dropout
        )

    def fit(
        self,
        data: FeatureSet,
        train_indices: Indices,
        val_indices: Indices,
        *,
        seed: int = 42,
        device: str = "cpu",
        max_epochs: int | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> tuple[MusicnnClassifier, History]:
        """The backbone's features cached, the head trained, optionally the mid end fine-tuned.

        *seed* seeds the head's weights, the window subsets and the shuffling (and the folds
        that choose a logistic head's regularisation); *device* is where a gradient-trained
        head (and, fine-tuning, the model) trains, the features are computed on the CPU;
        *max_epochs* and *callbacks* apply to a gradient-trained head (a logistic head is
        solved, not trained in epochs: its history has one entry). The history has the
        fine-tuning epochs appended when ``fine_tune="mid"``.
        """
        s = self.settings
        model = self.build_model(len(data.classes), seed=seed)
        embeddings = embed_tracks(model, data, self.windowing)
        if s.head_fit == "gradient":
            history = train_head(
                model, embeddings, train_indices, val_indices, self.trainer, balance=s.balance,
                window_subset=s.window_subset, seed=seed, device=device, max_epochs=max_epochs, callbacks=callbacks,
            )  # fmt: skip
        else:
            history = fit_head(
                model, embeddings, train_indices, val_indices, how=s.head_fit, balance=s.balance, seed=seed
            )
        if not self.frozen:
            train_idx = [int(i) for i in train_indices]
            weights = class_weights([data.targets[i] for i in train_idx], len(data.classes)) if s.balance else None
            tuned = fine_tune(
                model, data, train_idx, val_indices, self.trainer, windowing=self.windowing, lr=s.fine_tune_lr,
                epochs=s.fine_tune_epochs, seed=seed, device=device, class_weights=weights,
            )  # fmt: skip
            offset = len(history.epochs)
            history.epochs.extend(replace(m, epoch=m.epoch + offset) for m in tuned.epochs)
            if tuned.best_epoch is not None:
                history.best_epoch = tuned.best_epoch + offset
        model.eval()
        return model, history

    def evaluate(self, model: GenreModel, data: FeatureSet, indices: Indices, *, device: str = "cpu") -> TrackOutputs:
        """Score tracks; with a frozen backbone, the head alone on the cached window features.

        The arithmetic is that of :meth:`musicgenre.recipes.base.Recipe.evaluate` (window logits averaged), without
        running the backbone again.
        """
        if self.frozen and isinstance(model, MusicnnClassifier):
            return score_embeddings(model, embed_tracks(model, data, self.windowing), indices, device=device)
        return super().evaluate(model, data, indices, device=device)

    def for_checkpoint(self, model: GenreModel, features: FeatureConfig, windowing: Windowing) -> PretrainedRecipe:
        """The recipe with a checkpoint's features and windows, and the backbone *model* was built on."""
        adapted = super().for_checkpoint(model, features, windowing)
        assert isinstance(adapted, PretrainedRecipe)
        backbone = getattr(getattr(model, "config", None), "backbone", None)
        if isinstance(backbone, str):
            adapted = replace(adapted, settings=replace(adapted.settings, backbone=backbone))
        return adapted


#: The pretrained recipe, musicnn (MSD) features of every 3-s window computed once, a linear
#: head fitted on each track's mean feature (logistic regression solved to convergence, its
#: regularisation chosen on held-out tracks, class-balanced), per-track logits averaged over
#: back-to-back whole windows (the frames after the last one left out, as musicnn's tagger
#: cuts its patches). See :class:`PretrainedSettings`.
PRETRAINED_MUSICNN: PretrainedRecipe = PretrainedRecipe(
    name="pretrained",
    description="musicnn (MSD) backbone, frozen; logistic head on cached track-mean features, class-balanced",
    features=FeatureConfig(sample_rate=16000, clip_ms=2976, n_mels=96, n_fft=512, hop_length=256, top_db=None),
    trainer=TrainerConfig(
        lr=1e-3,
        batch_size=32,
        max_epochs=300,
        patience=30,
        optimizer="adamw",
        weight_decay=1e-2,
        label_smoothing=0.1,
    ),
    crop="random",
    eval_hop=1.0,
    eval_average="logits",
    eval_tail="drop",
)

#: The plain linear probe on the same features as a recipe, scikit-learn's
#: ``LogisticRegression(C=1.0)`` on the standardised track means of the training part alone,
#: unweighted; a baseline row for results tables (``--recipe pretrained pretrained-probe``).
PRETRAINED_PROBE: PretrainedRecipe = replace(
    PRETRAINED_MUSICNN,
    name="pretrained-probe",
    description="baseline: logistic regression (C=1) on the same frozen musicnn (MSD) track-mean features",
    settings=PretrainedSettings(head_fit="probe", balance=False),
)

register_recipe(PRETRAINED_MUSICNN)
register_recipe(PRETRAINED_PROBE)
