"""The recipe contract and the registry: what every recipe kind owns, and how recipes are found by name.

A :class:`Recipe` is one object that owns everything that defines how a model is trained
and evaluated: its front end (:attr:`Recipe.front_end`, the frames its features are cut
from), its windows (:attr:`Recipe.windowing`), its feature extraction
(:meth:`Recipe.extract`), model construction and training (:meth:`Recipe.fit`) and the
scoring of held-out tracks (:meth:`Recipe.evaluate`).
:func:`~musicgenre.experiment.run_experiment` only calls these methods; it never asks
which model a recipe trains. Two kinds ship:
:class:`~musicgenre.recipes.cnn.CNNRecipe` (a CNN trained from scratch: ``"reference"``,
``"improved"``) and :class:`~musicgenre.recipes.pretrained.PretrainedRecipe` (a
pretrained backbone with a head, optionally fine-tuned: ``"pretrained"``). A new kind
subclasses :class:`Recipe` and implements :attr:`~Recipe.front_end`,
:meth:`~Recipe.build_model` and :meth:`~Recipe.fit`.
"""

from __future__ import annotations

import abc
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from musicgenre.audio import functional as F
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import Averaging, FrontEnd, LogMelFrontEnd, Tail, Windowing, cut_windows, window_layout
from musicgenre.data.cache import CacheMode, ClipSource, FeatureSet, extract_features
from musicgenre.errors import ConfigurationError
from musicgenre.models.protocol import GenreModel
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.tracks import Indices, TrackOutputs, score_tracks
from musicgenre.training.trainer import TrainerConfig

__all__ = ["RECIPES", "Recipe", "TrainView", "get_recipe", "register_recipe"]


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


def _start_window(x: torch.Tensor, n_frames: int, generator: torch.Generator, floor: float) -> torch.Tensor:
    # The reference keeps the first clip; a shorter one is padded at a random split point.
    spare = n_frames - x.shape[-1]
    if spare <= 0:
        return x[..., :n_frames]
    begin = int(torch.randint(0, spare + 1, (1,), generator=generator).item())
    return torch.nn.functional.pad(x, (begin, spare - begin), value=floor)


@dataclass(frozen=True)
class Recipe(abc.ABC):
    """Base class of recipes: everything that defines how a model is trained and evaluated.

    Subclasses implement :attr:`front_end`, :meth:`build_model` and :meth:`fit`; the other
    methods have defaults that fit any model scored window by window on its front end's frames.
    Define a variant with ``dataclasses.replace(IMPROVED, name="mine", ...)`` and
    :func:`register_recipe`.

    Attributes
    ----------
    name
        Registry name.
    description
        One line for ``--help`` and reports.
    features
        Feature settings; ``clip_ms`` is the model's input window.
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
    eval_tail
        With :attr:`eval_hop`: ``"pad"`` scores a last window padded with silence where a
        track does not end on a window's end, ``"drop"`` only whole windows (see
        :class:`~musicgenre.audio.windowing.Windowing`).
    spec_augment
        ``(max_mask_pct, n_freq_masks, n_time_masks)`` for training, or ``None``.
    gain_db
        Random gain drawn uniformly in ``[-gain_db, gain_db]`` dB for training (0: off).
    """

    name: str
    description: str
    features: FeatureConfig = field(default_factory=FeatureConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    crop: Literal["start", "random"] = "start"
    crops_per_track: int = 1
    eval_hop: float | None = None
    eval_average: Averaging = "probabilities"
    eval_tail: Tail = "pad"
    spec_augment: tuple[float, int, int] | None = None
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if self.crop not in ("start", "random"):
            raise ConfigurationError(f"Recipe.crop must be 'start' or 'random', got {self.crop!r}")
        if self.crops_per_track < 1:
            raise ConfigurationError(f"Recipe.crops_per_track must be >= 1, got {self.crops_per_track}")
        if self.eval_hop is not None and not 0.0 < self.eval_hop <= 1.0:
            raise ConfigurationError(f"Recipe.eval_hop must be in (0, 1] or None, got {self.eval_hop}")

    # -- what a recipe kind must say ------------------------------------------------------
    @property
    @abc.abstractmethod
    def front_end(self) -> FrontEnd:
        """The front end that computes the whole-track frames the model's windows are cut from."""

    @abc.abstractmethod
    def build_model(self, n_classes: int, *, seed: int | None = None) -> GenreModel:
        """The recipe's model for *n_classes*, its trainable weights drawn from *seed*."""

    @abc.abstractmethod
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
    ) -> tuple[GenreModel, History]:
        """Build the model and train it on *train_indices*, early-stopping on *val_indices*.

        Parameters
        ----------
        data
            The recipe's features (:meth:`extract`).
        train_indices, val_indices
            Items to train on and to early-stop on.
        seed
            Seeds the weights, the crops and the shuffling.
        device
            Where the model trains.
        max_epochs
            Override the recipe's epoch bound.
        callbacks
            Passed to the trainer.

        Returns
        -------
        tuple
            The model (holding the best epoch's weights) and its :class:`~musicgenre.training.History`.
        """

    # -- what every recipe kind shares ------------------------------------------------------
    @property
    def windowing(self) -> Windowing:
        """The evaluation windows, ``"first"`` without :attr:`eval_hop`, else ``"all"`` at :attr:`eval_hop`.

        The hop is ``round(eval_hop * n_frames)`` frames.

        Checkpoints record it, so :class:`~musicgenre.predict.GenreClassifier` serves the
        windows the model was evaluated with.
        """
        if self.eval_hop is None:
            return Windowing("first", None, self.eval_average)
        hop = max(1, round(self.features.n_frames * self.eval_hop))
        return Windowing("all", hop, self.eval_average, self.eval_tail)

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

    @property
    def transfer(self) -> Any:
        """The pretrained recipe's ``settings``, under musicgenre 0.2.0's (deprecated) name.

        :attr:`PretrainedRecipe.settings <musicgenre.recipes.pretrained.PretrainedRecipe.settings>`
        (the :class:`~musicgenre.recipes.pretrained.PretrainedSettings`; a recipe kind's
        ``settings``), ``None`` for a recipe without them, as 0.2.0 gave; with a
        :class:`DeprecationWarning`.
        """
        warnings.warn(
            "Recipe.transfer is deprecated: use PretrainedRecipe.settings (isinstance(recipe, PretrainedRecipe) "
            "tells the pretrained recipe apart); the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, "settings", None)

    def extract(
        self,
        clips: ClipSource,
        *,
        cache: CacheMode = "memory",
        cache_dir: str | os.PathLike[str] | None = None,
        num_workers: int | None = None,
        progress: bool | None = None,
    ) -> FeatureSet:
        """The recipe's features of every clip, computed once (:func:`~musicgenre.data.cache.extract_features`).

        The frames are :attr:`front_end`'s; the log-mel of the recipe's features is the store's
        default, so it is not named (its disk-cache key stays that of the features alone).
        """
        front_end: FrontEnd | None = self.front_end
        if isinstance(front_end, LogMelFrontEnd) and front_end.config == self.features:
            front_end = None
        return extract_features(
            clips,
            self.features,
            max_seconds=self.max_seconds,
            cache=cache,
            cache_dir=cache_dir,
            num_workers=num_workers,
            progress=progress,
            front_end=front_end,
        )

    def evaluate(self, model: GenreModel, data: FeatureSet, indices: Indices, *, device: str = "cpu") -> TrackOutputs:
        """Score the tracks *indices* of *data* as the recipe evaluates them: every window, averaged per track."""
        return score_tracks(model, data, indices, self.front_end, self.windowing, device=device)

    def for_checkpoint(self, model: GenreModel, features: FeatureConfig, windowing: Windowing) -> Recipe:
        """The recipe with the features and windows a checkpoint of *model* records (to score it again)."""
        n_frames = features.n_frames
        eval_hop = None if windowing.mode == "first" else windowing.hop(n_frames) / n_frames
        return replace(
            self, features=features, eval_hop=eval_hop, eval_average=windowing.average, eval_tail=windowing.tail
        )

    def train_view(self) -> TrainView:
        """The per-item training transform of cached features; use it with a seed (see :class:`TrainView`)."""
        return TrainView(self.features.n_frames, self.crop, self.gain_db, self.spec_augment, self.front_end)

    def window_weights(self, total_frames: int) -> torch.Tensor:
        """Share of each evaluation window (of a track of *total_frames*) that holds audio.

        Per-track probabilities are the windows' probabilities averaged with these weights,
        so a last window holding 0.1 s of music and padding counts for 0.1 s, as in
        :class:`~musicgenre.predict.GenreClassifier`.
        """
        return window_layout(total_frames, self.features.n_frames, self.windowing)[1]

    def eval_windows(self, x: torch.Tensor) -> torch.Tensor:
        """The evaluation windows of one track's cached features: ``(n_windows, 1, n_mels, n_frames)``.

        See :func:`~musicgenre.audio.windowing.cut_windows` (padding with the dB of silence,
        ``top_db`` per window).
        """
        return cut_windows(x, self.front_end, self.windowing).windows


#: Recipes by name; :func:`register_recipe` adds yours.
RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    """Make *recipe* available by name (to :func:`get_recipe`, the example and the CLI); returns it."""
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(recipe: str | Recipe) -> Recipe:
    """Look a recipe up by name (a :class:`Recipe` passes through)."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ConfigurationError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
    return RECIPES[recipe]
