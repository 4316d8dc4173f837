"""Recipes: named bundles of features, model, augmentation, optimisation and evaluation.

``"reference"`` is the reference exactly: the first 5 s of each clip, the 4-block CNN,
Adam 1e-3, batch 32, early stopping on validation loss, one crop per track at test time.
``"improved"`` uses the whole clip: random 3-s crops drawn anew every epoch from
anywhere in the track, SpecAugment and random gain, a batch-normalised CNN with global
pooling, AdamW with a cosine schedule and label smoothing, and per-track evaluation that
averages the probabilities of overlapping windows covering the whole track.

Define your own with ``dataclasses.replace(IMPROVED, name="mine", ...)`` and
:func:`register_recipe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from musicgenre.audio import functional as F
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import Averaging, FrontEnd, LogMelFrontEnd, Windowing, cut_windows, window_layout
from musicgenre.errors import ConfigurationError
from musicgenre.models.cnn import GenreCNNConfig
from musicgenre.models.transfer import MusicnnFrames
from musicgenre.training.trainer import TrainerConfig

__all__ = [
    "IMPROVED",
    "PRETRAINED_MUSICNN",
    "RECIPES",
    "REFERENCE",
    "Recipe",
    "TrainView",
    "TransferSettings",
    "get_recipe",
    "register_recipe",
]


@dataclass(frozen=True)
class TrainView:
    """The training view of cached ``(1, n_mels, frames)`` features: a window, random gain, SpecAugment.

    A picklable object (not a closure), so loader workers can receive it under any start
    method. It keeps no random state: every call draws from the *generator* it is given,
    which :meth:`FeatureSet.with_view <musicgenre.data.cache.FeatureSet.with_view>` with a
    seed derives from ``(seed, epoch, item)``.

    Attributes
    ----------
    n_frames
        Window length in frames.
    crop
        ``"random"``: a window from a uniformly random start; ``"start"``: the first window
        (a shorter input is padded at a random split point, as the reference does).
    gain_db
        Random gain drawn uniformly in ``[-gain_db, gain_db]`` dB (0: off).
    spec_augment
        ``(max_mask_pct, n_freq_masks, n_time_masks)``, or ``None``.
    front_end
        Its per-window step (``top_db`` below the window's peak) is applied to the window,
        as in evaluation; ``None``: none.

    Examples
    --------
    >>> view = TrainView(n_frames=4, crop="random")
    >>> tuple(view(torch.randn(1, 2, 10), torch.Generator().manual_seed(0)).shape)
    (1, 2, 4)
    """

    n_frames: int
    crop: Literal["start", "random"] = "start"
    gain_db: float = 0.0
    spec_augment: tuple[float, int, int] | None = None
    front_end: FrontEnd | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The view of *x*, drawing every random number from *generator*."""
        floor = float(x.amin())
        if self.crop == "random":
            x = F.random_crop(x, self.n_frames, generator=generator, pad_value=floor)
        else:
            x = _start_window(x, self.n_frames, generator, floor)
        if self.front_end is not None:
            x = self.front_end.finish(x)  # the per-window step (top_db below the crop's peak), as evaluated
        if self.gain_db > 0:
            x = x + (torch.rand(1, generator=generator).item() * 2 - 1) * self.gain_db
        if self.spec_augment is not None:
            pct, n_freq, n_time = self.spec_augment
            x = F.spec_augment(x, max_mask_pct=pct, n_freq_masks=n_freq, n_time_masks=n_time, generator=generator)
        return x


@dataclass(frozen=True)
class TransferSettings:
    """How the ``"pretrained"`` recipe builds and trains a backbone-plus-head model.

    Attributes
    ----------
    backbone
        The pretrained backbone (``"MSD_musicnn"``: the better of the two in the frozen probe).
    layer
        What the head reads: ``"pooled"`` (the 1,506-d pooled features, the better probe) or
        ``"penultimate"`` (the 200-d embedding).
    hidden
        0: a linear head (default; the mean of window logits then equals the head of the
        track's mean features, what it is trained on). ``n > 0``: one hidden ReLU layer.
    dropout
        Dropout on the head's (standardised) input during training.
    balance
        Weight the loss by inverse class frequency in the training part (``n / (k * count)``),
        so each class counts equally; on balanced data (GTZAN's stratified parts) the
        weights are 1 and this changes nothing.
    window_subset
        Training items are the weighted mean of a random subset of a track's windows, each
        kept with this probability (at least one): an augmentation that costs nothing on
        cached features. 1.0: always the whole track's mean.
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
    dropout: float = 0.0
    balance: bool = True
    window_subset: float = 0.5
    fine_tune: Literal["none", "mid"] = "none"
    fine_tune_lr: float = 1e-4
    fine_tune_epochs: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.window_subset <= 1.0:
            raise ConfigurationError(f"TransferSettings.window_subset must be in (0, 1], got {self.window_subset}")
        if self.fine_tune not in ("none", "mid"):
            raise ConfigurationError(f"TransferSettings.fine_tune must be 'none' or 'mid', got {self.fine_tune!r}")
        if self.fine_tune_lr <= 0 or self.fine_tune_epochs < 1 or self.hidden < 0:
            raise ConfigurationError(f"invalid TransferSettings: {self}")


@dataclass(frozen=True)
class Recipe:
    """Everything that defines how a model is trained and evaluated.

    Attributes
    ----------
    name
        Registry name.
    description
        One line for ``--help`` and reports.
    features
        Feature settings; ``clip_ms`` is the model's input window.
    model
        Model settings (``n_classes``, ``n_mels`` and ``n_frames`` are set from the data
        and *features*).
    trainer
        Optimiser, schedule, batch size, epochs, patience.
    crop
        Training window: ``"start"`` (the first ``clip_ms``, as the reference) or
        ``"random"`` (a new random window every epoch, anywhere in the track).
    crops_per_track
        Random windows per track per epoch.
    eval_hop
        ``None``: evaluate the first window only (the reference: its first ``clip_ms``).
        A fraction: evaluate windows covering the whole track every
        ``round(eval_hop * n_frames)`` frames (0.5 = 50 % overlap) and average them per
        track (see :attr:`windowing`).
    eval_average
        How window outputs are averaged per track: ``"probabilities"`` (the mean of the
        windows' softmax, weighted by their share of audio) or ``"logits"`` (softmax of
        the weighted mean logit).
    spec_augment
        ``(max_mask_pct, n_freq_masks, n_time_masks)`` for training, or ``None``.
    gain_db
        Random gain drawn uniformly in ``[-gain_db, gain_db]`` dB for training (0: off).
    transfer
        For a pretrained-backbone recipe (``"pretrained"``): the backbone, the head and how
        they are trained (:class:`TransferSettings`); the front end is then the backbone's
        (:class:`~musicgenre.models.transfer.MusicnnFrames`) and :attr:`features` only
        describes it. ``None`` for the recipes that train a :class:`~musicgenre.models.GenreCNN`.
    """

    name: str
    description: str
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: GenreCNNConfig = field(default_factory=GenreCNNConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    crop: Literal["start", "random"] = "start"
    crops_per_track: int = 1
    eval_hop: float | None = None
    eval_average: Averaging = "probabilities"
    spec_augment: tuple[float, int, int] | None = None
    gain_db: float = 0.0
    transfer: TransferSettings | None = None

    def __post_init__(self) -> None:
        if self.crop not in ("start", "random"):
            raise ConfigurationError(f"Recipe.crop must be 'start' or 'random', got {self.crop!r}")
        if self.crops_per_track < 1:
            raise ConfigurationError(f"Recipe.crops_per_track must be >= 1, got {self.crops_per_track}")
        if self.eval_hop is not None and not 0.0 < self.eval_hop <= 1.0:
            raise ConfigurationError(f"Recipe.eval_hop must be in (0, 1] or None, got {self.eval_hop}")

    @property
    def windowing(self) -> Windowing:
        """The evaluation windows, ``"first"`` without :attr:`eval_hop`, else ``"all"`` at :attr:`eval_hop`.

        The hop is ``round(eval_hop * n_frames)`` frames.

        Checkpoints record it, so :class:`~musicgenre.inference.GenreClassifier` serves the
        windows the model was evaluated with.
        """
        if self.eval_hop is None:
            return Windowing("first", None, self.eval_average)
        return Windowing("all", max(1, round(self.features.n_frames * self.eval_hop)), self.eval_average)

    @property
    def front_end(self) -> FrontEnd:
        """The front end, the backbone's for a :attr:`transfer` recipe, else :attr:`features`' log-mel.

        The log-mel front end computes whole-track frames and applies ``top_db`` per window.
        """
        if self.transfer is not None:
            return MusicnnFrames(self.transfer.backbone)
        return LogMelFrontEnd(self.features)

    @property
    def max_seconds(self) -> float | None:
        """How much of each track to extract features for (one window for ``"start"`` without overlap evaluation).

        With a ``"first"`` :attr:`windowing` and ``crop="random"`` the whole track is
        extracted for training; its first window is then cut from the whole-track
        spectrogram, which differs from the first clip's own spectrogram (what prediction
        computes) in the last ``ceil(n_fft / 2 / hop_length)`` frames.
        """
        if self.crop == "start" and self.eval_hop is None:
            return self.features.clip_ms / 1000
        return None

    def model_config(self, n_classes: int) -> GenreCNNConfig:
        """The model settings completed for *n_classes* and this recipe's input size."""
        return GenreCNNConfig.from_dict(
            {
                **self.model.to_dict(),
                "n_classes": n_classes,
                "n_mels": self.features.n_mels,
                "n_frames": self.features.n_frames,
            }
        )

    def train_view(self) -> TrainView:
        """The per-item training transform of cached features; use it with a seed (see :class:`TrainView`)."""
        return TrainView(self.features.n_frames, self.crop, self.gain_db, self.spec_augment, self.front_end)

    def window_weights(self, total_frames: int) -> torch.Tensor:
        """Share of each evaluation window (of a track of *total_frames*) that holds audio.

        Per-track probabilities are the windows' probabilities averaged with these weights,
        so a last window holding 0.1 s of music and padding counts for 0.1 s, as in
        :class:`~musicgenre.inference.GenreClassifier`.
        """
        return window_layout(total_frames, self.features.n_frames, self.windowing)[1]

    def eval_windows(self, x: torch.Tensor) -> torch.Tensor:
        """The evaluation windows of one track's cached features: ``(n_windows, 1, n_mels, n_frames)``.

        See :func:`~musicgenre.audio.windowing.cut_windows` (padding with the dB of silence,
        ``top_db`` per window).
        """
        return cut_windows(x, self.front_end, self.windowing).windows


def _start_window(x: torch.Tensor, n_frames: int, generator: torch.Generator, floor: float) -> torch.Tensor:
    # The reference keeps the first clip; a shorter one is padded at a random split point.
    spare = n_frames - x.shape[-1]
    if spare <= 0:
        return x[..., :n_frames]
    begin = int(torch.randint(0, spare + 1, (1,), generator=generator).item())
    return torch.nn.functional.pad(x, (begin, spare - begin), value=floor)


#: The reference recipe (first 5 s, 4-block CNN, Adam 1e-3, early stopping on validation loss).
REFERENCE = Recipe(
    name="reference",
    description="the reference: first 5 s, 4-block CNN, Adam 1e-3, early stopping on val loss",
)

#: The improved recipe (whole tracks in random 3-s crops, SpecAugment, a batch-normalised CNN
#: with global pooling, AdamW with a cosine schedule, per-track evaluation over overlapping windows).
IMPROVED = Recipe(
    name="improved",
    description="whole track: random 3-s crops, SpecAugment, BN CNN, global pooling, AdamW+cosine, per-track vote",
    features=FeatureConfig(clip_ms=3000, n_mels=96, n_fft=2048, hop_length=512, top_db=None),
    model=GenreCNNConfig(channels=(16, 32, 64, 128), batch_norm=True, global_pool=True, input_norm=True, dropout=0.3),
    trainer=TrainerConfig(
        lr=2e-3,
        batch_size=32,
        max_epochs=50,
        patience=15,
        optimizer="adamw",
        weight_decay=1e-2,
        label_smoothing=0.1,
        scheduler="cosine",
    ),
    crop="random",
    crops_per_track=2,
    eval_hop=0.5,
    spec_augment=(0.15, 2, 2),
    gain_db=6.0,
)

#: The pretrained recipe, musicnn (MSD) features of every 3-s window computed once, a linear
#: head trained on each track's mean feature (class-balanced loss, random window subsets),
#: per-track logits averaged over back-to-back windows. See :class:`TransferSettings`.
PRETRAINED_MUSICNN = Recipe(
    name="pretrained",
    description="musicnn (MSD) backbone, frozen; linear head on cached track-mean features, class-balanced",
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
    transfer=TransferSettings(),
)

#: Recipes by name; :func:`register_recipe` adds yours.
RECIPES: dict[str, Recipe] = {
    REFERENCE.name: REFERENCE,
    IMPROVED.name: IMPROVED,
    PRETRAINED_MUSICNN.name: PRETRAINED_MUSICNN,
}


def register_recipe(recipe: Recipe) -> Recipe:
    """Make *recipe* available by name (to :func:`get_recipe`, the example and the CLI)."""
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(recipe: str | Recipe) -> Recipe:
    """Look a recipe up by name (a :class:`Recipe` passes through)."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ConfigurationError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
    return RECIPES[recipe]
