"""``GenreCNN``: the reference's 4-block CNN, built to be configured, subclassed and reloaded.

The default configuration is the reference exactly: four blocks of 3x3 convolution
(padding 1), ReLU and 2x2 max-pooling with 1 -> 8 -> 16 -> 32 -> 64 channels; a
``(1, 64, 215)`` log-mel input leaves them as ``64 x 4 x 13``, which a linear layer maps
to the 128-d embedding (ReLU, dropout 0.3), then to 10 logits: 451,786 parameters.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from musicgenre._config import from_plain
from musicgenre._random import seeded
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.models.checkpoint import load_checkpoint
from musicgenre.models.protocol import GenreModel, InputSpec
from musicgenre.models.registry import register_model

__all__ = ["GenreCNN", "GenreCNNConfig"]

ModelT = TypeVar("ModelT", bound="GenreCNN")


@dataclass(frozen=True)
class GenreCNNConfig:
    """Everything that decides :class:`GenreCNN`'s layers (and so its weights' shapes).

    Attributes
    ----------
    n_classes
        Output logits.
    n_mels, n_frames
        Input height and width: mel bands and frames of a spectrogram (or a picture's
        rows and columns); with ``global_pool=False`` they fix the first linear layer.
    in_channels
        Input channels: 1 for a log-mel spectrogram, 3 for an RGB picture
        (:class:`~musicgenre.models.image_cnn.SpectrogramImageCNN`).
    channels
        Output channels of each conv block; the number of blocks is its length.
    embedding_dim
        Size of the embedding layer (the model's :attr:`~GenreCNN.num_features`).
    dropout
        Dropout before the classifier.
    batch_norm
        Add ``BatchNorm2d`` after each convolution.
    global_pool
        Average the last feature map over time and frequency, so any input length works.
    input_norm
        Normalise the input with a ``BatchNorm2d(1)`` (learned scale and shift of the dB values).
    """

    n_classes: int = 10
    n_mels: int = 64
    n_frames: int = 215
    in_channels: int = 1
    channels: tuple[int, ...] = field(default=(8, 16, 32, 64))
    embedding_dim: int = 128
    dropout: float = 0.3
    batch_norm: bool = False
    global_pool: bool = False
    input_norm: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if (
            self.n_classes < 1
            or self.in_channels < 1
            or self.embedding_dim < 1
            or not self.channels
            or min(self.channels) < 1
        ):
            raise ConfigurationError(f"invalid GenreCNNConfig: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"dropout must be in [0, 1), got {self.dropout}")
        shrink = 2 ** len(self.channels)
        if not self.global_pool and (self.n_mels < shrink or self.n_frames < shrink):
            raise ConfigurationError(
                f"a {self.n_mels} x {self.n_frames} input is too small for {len(self.channels)} "
                "2x2 poolings; use fewer blocks, a larger input, or global_pool=True"
            )

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """``(channels, mels, frames)`` after the conv blocks for the configured input size."""
        shrink = 2 ** len(self.channels)
        return self.channels[-1], self.n_mels // shrink, self.n_frames // shrink

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready plain values."""
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenreCNNConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`ConfigurationError`."""
        return from_plain(cls, data, channels=tuple)


@register_model
class GenreCNN(GenreModel):
    """A small CNN over log-mel spectrograms, the reference's by default.

    The model is split the timm way: :meth:`forward_features` (conv blocks),
    :meth:`forward_head` (flatten/pool, embedding, dropout, classifier); ``forward`` and
    ``embed`` (the post-ReLU activations of the embedding layer) are
    :class:`~musicgenre.models.GenreModel`'s. Subclasses can
    override :meth:`make_block` to change every block, or replace ``model.blocks[i]``.

    Parameters
    ----------
    config
        Layer settings; ``None`` is the reference model.
    seed
        If given, the initial weights are drawn from this seed without touching torch's
        global generator (same seed, same weights).
    **overrides
        Fields of :class:`GenreCNNConfig` to change, e.g. ``n_classes=5``.

    Examples
    --------
    >>> model = GenreCNN(seed=0)
    >>> sum(p.numel() for p in model.parameters())
    451786
    >>> tuple(model(torch.zeros(2, 1, 64, 215)).shape), tuple(model.embed(torch.zeros(2, 1, 64, 215)).shape)
    ((2, 10), (2, 128))
    """

    config: GenreCNNConfig

    def __init__(self, config: GenreCNNConfig | None = None, *, seed: int | None = None, **overrides: Any) -> None:
        super().__init__()
        base = config or GenreCNNConfig()
        self.config = GenreCNNConfig.from_dict({**base.to_dict(), **overrides}) if overrides else base
        cfg = self.config
        with seeded(seed):
            ins = (cfg.in_channels, *cfg.channels[:-1])
            self.input_norm: nn.Module = nn.BatchNorm2d(cfg.in_channels) if cfg.input_norm else nn.Identity()
            self.blocks = nn.Sequential(
                *(
                    self.make_block(i, c_in, c_out)
                    for i, (c_in, c_out) in enumerate(zip(ins, cfg.channels, strict=True))
                )
            )
            self.pool: nn.Module = nn.AdaptiveAvgPool2d(1) if cfg.global_pool else nn.Identity()
            c, h, w = cfg.feature_shape
            flat = c if cfg.global_pool else c * h * w
            self.embedding = nn.Linear(flat, cfg.embedding_dim)
            self.dropout = nn.Dropout(cfg.dropout)
            self.classifier = nn.Linear(cfg.embedding_dim, cfg.n_classes)

    def make_block(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        """Build conv block *index*: 3x3 conv (pad 1), [BatchNorm], ReLU, 2x2 max-pool.

        Override in a subclass to change the blocks; each must halve height and width.
        """
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)]
        if self.config.batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        return nn.Sequential(*layers)

    @property
    def num_classes(self) -> int:
        """Number of output logits."""
        return self.classifier.out_features

    @property
    def num_features(self) -> int:
        """Size of the embedding returned by :meth:`embed`."""
        return self.embedding.out_features

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.config
        if x.dim() != 4 or x.shape[1] != cfg.in_channels or x.shape[2] != cfg.n_mels:
            raise ConfigurationError(
                f"GenreCNN expects input (batch, {cfg.in_channels}, {cfg.n_mels}, frames), got {tuple(x.shape)}"
            )
        if not cfg.global_pool and x.shape[3] != cfg.n_frames:
            raise ConfigurationError(
                f"GenreCNN was built for {cfg.n_frames} frames but got {x.shape[3]}; "
                "crop/pad the input or build the model with global_pool=True"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv blocks: ``(batch, in_channels, n_mels, frames)`` -> ``(batch, C, n_mels / 2^k, frames / 2^k)``."""
        self._check_input(x)
        out: torch.Tensor = self.blocks(self.input_norm(x))
        return out

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Feature map -> embedding (``pre_logits=True``, ``(batch, num_features)``) or logits."""
        x = torch.flatten(self.pool(x), 1)
        x = torch.relu(self.embedding(x))
        if pre_logits:
            return x
        out: torch.Tensor = self.classifier(self.dropout(x))
        return out

    def input_spec(self, features: FeatureConfig | None = None) -> InputSpec:
        """Log-mel windows (dB) of *features*, as :meth:`GenreModel.input_spec`, with the configured channels."""
        return replace(super().input_spec(features), channels=self.config.in_channels)

    def reset_classifier(self, num_classes: int, *, seed: int | None = None) -> None:
        """Replace the classifier with a fresh one of *num_classes* outputs (for fine-tuning)."""
        with seeded(seed):
            self.classifier = nn.Linear(self.num_features, num_classes)
        self.config = GenreCNNConfig.from_dict({**self.config.to_dict(), "n_classes": num_classes})

    def get_config(self) -> dict[str, Any]:
        """The configuration as plain values; ``type(model).from_config(cfg)`` rebuilds the layers."""
        return self.config.to_dict()

    @classmethod
    def from_checkpoint(
        cls: type[ModelT], path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
    ) -> ModelT:
        """Load a model saved with :func:`~musicgenre.models.checkpoint.save_checkpoint` (eval mode).

        Raises :class:`~musicgenre.errors.CheckpointError` if the file is bad or holds another model class.
        """
        model = load_checkpoint(path, map_location=map_location).model
        if not isinstance(model, cls):
            raise CheckpointError(f"holds a {type(model).__name__}, not a {cls.__name__}", path=Path(path))
        return model

    @classmethod
    def from_config(cls: type[ModelT], config: dict[str, Any] | GenreCNNConfig, *, seed: int | None = None) -> ModelT:
        """Build a model from :meth:`get_config`'s output (or a :class:`GenreCNNConfig`)."""
        cfg = config if isinstance(config, GenreCNNConfig) else GenreCNNConfig.from_dict(config)
        return cls(cfg, seed=seed)
