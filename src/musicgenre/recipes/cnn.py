"""The recipes that train a CNN from scratch on log-mel windows: ``"reference"`` and ``"improved"``.

``"reference"`` is the reference exactly: the first 5 s of each clip, the 4-block CNN,
Adam 1e-3, batch 32, early stopping on validation loss, one crop per track at test time.
``"improved"`` uses the whole clip: random 3-s crops drawn anew every epoch from
anywhere in the track, SpecAugment and random gain, a batch-normalised CNN with global
pooling, AdamW with a cosine schedule and label smoothing, and per-track evaluation that
averages the probabilities of overlapping windows covering the whole track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import FrontEnd, LogMelFrontEnd
from musicgenre.data.cache import FeatureSet
from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.protocol import GenreModel
from musicgenre.recipes.base import Recipe, register_recipe
from musicgenre.training.callbacks import Callback, History
from musicgenre.training.tracks import Indices, TrackTrainer, track_batches
from musicgenre.training.trainer import TrainerConfig

__all__ = ["IMPROVED", "REFERENCE", "CNNRecipe"]


@dataclass(frozen=True)
class CNNRecipe(Recipe):
    """A :class:`~musicgenre.models.GenreCNN` trained from scratch on windows of the log-mel of its features.

    Training items are :meth:`~musicgenre.recipes.base.Recipe.train_view` windows of the cached spectrograms
    (:attr:`~musicgenre.recipes.base.Recipe.crops_per_track` per track per epoch); validation scores whole tracks
    (:class:`~musicgenre.training.tracks.TrackTrainer`), as evaluation does.

    Attributes
    ----------
    model
        Model settings (``n_classes``, ``n_mels`` and ``n_frames`` are set from the data
        and :attr:`~musicgenre.recipes.base.Recipe.features` by :meth:`model_config`).
    """

    model: GenreCNNConfig = field(default_factory=GenreCNNConfig)

    @property
    def front_end(self) -> FrontEnd:
        """Whole-track frames of the log-mel of the recipe's features (``top_db`` applied per window)."""
        return LogMelFrontEnd(self.features)

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

    def build_model(self, n_classes: int, *, seed: int | None = None) -> GenreModel:
        """A :class:`~musicgenre.models.GenreCNN` of :meth:`model_config`, its weights drawn from *seed*.

        Override it in a subclass to train another :class:`~musicgenre.models.GenreModel` the same way.
        """
        return GenreCNN(self.model_config(n_classes), seed=seed)

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
        """Train the CNN with early stopping on the validation tracks (see :meth:`musicgenre.recipes.base.Recipe.fit`).

        With no validation tracks it trains for the epoch bound and keeps the last epoch's weights.

        Each training item's random draws (crop, gain, masks) come from ``(seed + 1, epoch, item)``.
        """
        config = replace(self.trainer, seed=seed, device=device, max_epochs=max_epochs or self.trainer.max_epochs)
        model = self.build_model(len(data.classes), seed=seed)
        repeated = [int(i) for i in train_indices] * self.crops_per_track
        train_set = data.with_view(self.train_view(), repeated, seed=seed + 1)  # each item's draws: (seed, epoch, item)
        trainer = TrackTrainer(config, callbacks)
        # No validation tracks (a final model trained on every track): the epoch bound alone stops it.
        val = track_batches(data, val_indices, self.front_end, self.windowing) if len(val_indices) else None
        history = trainer.fit(model, train_set, val)
        return model, history


#: The reference recipe (first 5 s, 4-block CNN, Adam 1e-3, early stopping on validation loss).
REFERENCE: CNNRecipe = CNNRecipe(
    name="reference",
    description="the reference: first 5 s, 4-block CNN, Adam 1e-3, early stopping on val loss",
)

#: The improved recipe (whole tracks in random 3-s crops, SpecAugment, a batch-normalised CNN
#: with global pooling, AdamW with a cosine schedule, per-track evaluation over overlapping windows).
IMPROVED: CNNRecipe = CNNRecipe(
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

register_recipe(REFERENCE)
register_recipe(IMPROVED)
