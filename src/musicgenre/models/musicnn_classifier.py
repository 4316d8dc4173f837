"""The pretrained recipe's model: a pretrained musicnn backbone and a small genre head, as one model.

:class:`MusicnnClassifier` is what the ``"pretrained"`` recipe trains and what its
checkpoints hold: :class:`~musicgenre.models.musicnn.Musicnn` (``MSD_musicnn`` by default,
weights from :func:`~musicgenre.models.pretrained.load_pretrained`) up to its 1,506-d pooled
features, then a :class:`FeatureHead` (standardisation and a linear layer, or a small MLP).
It reads the library's layout, ``(batch, 1, 96, 187)`` windows of musicnn's log-mel frames
(its :meth:`~MusicnnClassifier.front_end`, a
:class:`~musicgenre.audio.frontends.MusicnnFrontEnd`, computes them; 187 frames = 3 s at
16 kHz), so evaluation, :class:`~musicgenre.predict.GenreClassifier`, checkpoints and
export treat it as any model.

Why a linear head by default: for a linear head, the mean of the windows' logits equals
the head applied to the mean of the windows' features, so a head trained on each track's
averaged features (computed once and cached) gives, window by window with logits
averaged, exactly the track-level predictions it was trained and evaluated on.

>>> model = MusicnnClassifier(MusicnnClassifierConfig(n_classes=4), seed=0).eval()
>>> x = torch.zeros(2, 1, 96, 187)
>>> tuple(model(x).shape), tuple(model.forward_features(x).shape)
((2, 4), (2, 1506))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar

import torch
from torch import nn

from musicgenre._config import from_plain
from musicgenre._random import seeded
from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import ConfigurationError
from musicgenre.models.musicnn import Musicnn
from musicgenre.models.pretrained import load_pretrained, pretrained_info
from musicgenre.models.protocol import GenreModel, InputSpec
from musicgenre.models.registry import register_model

__all__ = ["BackboneLayer", "FeatureHead", "MusicnnClassifier", "MusicnnClassifierConfig"]

ModelT = TypeVar("ModelT", bound="MusicnnClassifier")
BackboneLayer = Literal["pooled", "penultimate"]
"""The backbone output the head reads, ``"pooled"`` (1,506-d) or ``"penultimate"`` (the 200-d embedding)."""


@dataclass(frozen=True)
class MusicnnClassifierConfig:
    """What decides a :class:`MusicnnClassifier`'s layers.

    Attributes
    ----------
    backbone
        Name of the pretrained backbone (:func:`~musicgenre.models.pretrained.list_pretrained`).
    n_classes
        Genres (outputs).
    layer
        What the head reads: ``"pooled"`` (1,506-d mid-level features, the better probe) or
        ``"penultimate"`` (musicnn's 200-d embedding).
    hidden
        0: a linear head (default). ``n > 0``: one hidden layer of *n* ReLU units (then the
        mean of window logits no longer equals the head of the mean features).
    dropout
        Dropout on the head's input during training.
    """

    backbone: str = "MSD_musicnn"
    n_classes: int = 10
    layer: BackboneLayer = "pooled"
    hidden: int = 0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        pretrained_info(self.backbone)  # an unknown name raises ConfigurationError
        if self.n_classes < 1 or self.hidden < 0:
            raise ConfigurationError(f"MusicnnClassifierConfig needs n_classes >= 1 and hidden >= 0: {self}")
        if self.layer not in ("pooled", "penultimate"):
            raise ConfigurationError(
                f"MusicnnClassifierConfig.layer must be 'pooled' or 'penultimate', got {self.layer!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"MusicnnClassifierConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def n_mels(self) -> int:
        """Bands of the input windows (96)."""
        return pretrained_info(self.backbone).n_mels

    @property
    def n_frames(self) -> int:
        """Frames of one input window (187)."""
        return pretrained_info(self.backbone).patch_frames

    @property
    def global_pool(self) -> bool:
        """Always true, as the backbone pools over time, so a window may have any number of frames (trained on 187)."""
        return True

    @property
    def in_features(self) -> int:
        """Size of the features the head reads (1,506 or 200)."""
        cfg = pretrained_info(self.backbone).config
        return 2 * cfg.midend_features if self.layer == "pooled" else cfg.dense_units

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready plain values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MusicnnClassifierConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`~musicgenre.errors.ConfigurationError`."""
        return from_plain(cls, data)


class FeatureHead(nn.Module):
    """A head over a backbone's features: standardisation, then a linear layer (or a one-hidden-layer MLP) -> logits.

    The standardisation (``(x - mean) * scale``, buffers set by :meth:`set_standardization`
    from the training features) is linear, so a linear head stays linear in its input.

    Parameters
    ----------
    in_features, n_classes, hidden, dropout
        See :class:`MusicnnClassifierConfig`.
    """

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, in_features: int, n_classes: int, hidden: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("scale", torch.ones(in_features))
        self.dropout = nn.Dropout(dropout)
        self.hidden: nn.Module = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU()) if hidden else nn.Identity()
        self.classifier = nn.Linear(hidden or in_features, n_classes)

    @torch.no_grad()
    def set_standardization(self, features: torch.Tensor, *, eps: float = 1e-6) -> None:
        """Centre and scale the head's input with the mean and standard deviation of *features* ``(n, in_features)``."""
        x = features.reshape(-1, self.mean.numel()).to(self.mean)
        self.mean.copy_(x.mean(0))
        self.scale.copy_(1.0 / (x.std(0, unbiased=False) + eps) if len(x) > 1 else torch.ones_like(self.scale))

    def forward(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``(batch, in_features)`` -> logits, or (``pre_logits=True``) the classifier's input."""
        h: torch.Tensor = self.hidden(self.dropout((features - self.mean) * self.scale))
        if pre_logits:
            return h
        out: torch.Tensor = self.classifier(h)
        return out


@register_model
class MusicnnClassifier(GenreModel):
    """A pretrained musicnn backbone plus a :class:`FeatureHead`: musicnn's log-mel windows -> genre logits.

    Build it with :meth:`from_pretrained` (the backbone's packaged weights, a fresh head);
    the constructor builds the layers only (weights random), which is what
    :func:`~musicgenre.models.checkpoint.load_checkpoint` does before loading the saved ones.

    Parameters
    ----------
    config
        Backbone name, classes and head settings; ``None`` is the defaults.
    seed
        If given, the head's initial weights are drawn from this seed without touching
        torch's global generator.
    **overrides
        Fields of :class:`MusicnnClassifierConfig` to change.

    Attributes
    ----------
    backbone : Musicnn
        The pretrained network (its own tag layer is kept but unused).
    head : FeatureHead
        What the recipe trains.
    """

    config: MusicnnClassifierConfig

    def __init__(
        self, config: MusicnnClassifierConfig | None = None, *, seed: int | None = None, **overrides: Any
    ) -> None:
        super().__init__()
        base = config or MusicnnClassifierConfig()
        self.config = MusicnnClassifierConfig.from_dict({**base.to_dict(), **overrides}) if overrides else base
        cfg = self.config
        self.backbone = Musicnn(pretrained_info(cfg.backbone).config)
        with seeded(seed):
            self.head = FeatureHead(cfg.in_features, cfg.n_classes, cfg.hidden, cfg.dropout)

    @classmethod
    def from_pretrained(
        cls: type[ModelT], backbone: str = "MSD_musicnn", n_classes: int = 10, *, seed: int | None = None, **head: Any
    ) -> ModelT:
        """The backbone *backbone* with its packaged weights and a fresh head of *n_classes* outputs.

        *head* takes the other :class:`MusicnnClassifierConfig` fields (``layer``, ``hidden``, ``dropout``).
        """
        model = cls(MusicnnClassifierConfig(backbone=backbone, n_classes=n_classes, **head), seed=seed)
        model.backbone.load_state_dict(load_pretrained(backbone).state_dict())
        return model.eval()

    # ------------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int:
        """Number of genres (outputs)."""
        return self.config.n_classes

    @property
    def num_features(self) -> int:
        """Size of the backbone features the head reads (1,506 for ``"pooled"``)."""
        return self.config.in_features

    @property
    def classifier(self) -> nn.Linear:
        """The head's last (linear) layer."""
        return self.head.classifier

    def front_end(self) -> MusicnnFrontEnd:
        """The front end this model's windows are cut from: the backbone's (musicnn's log-mel at 16 kHz).

        Its ``window_frames`` is the backbone's patch (187 frames).
        """
        return pretrained_info(self.config.backbone).make_front_end()

    def input_spec(self, features: FeatureConfig | None = None) -> InputSpec:
        """The frames of musicnn's front end, ``log10(10000 mel + 1)`` at 16 kHz, named ``"musicnn_frames"``.

        The windows are ``(1, 96, frames)`` (any number of frames; 187, 3 s, in training)
        of :meth:`front_end`, whatever *features* says: the backbone fixes its front
        end, and :attr:`InputSpec.features` is ``None`` (no dB log-mel
        :class:`~musicgenre.audio.FeatureConfig` computes this input).
        """
        cfg, m = self.config, self.front_end()
        front = {
            "kind": "musicnn_log_mel",
            "formula": "log10(10000 * mel_power + 1)",
            "backbone": cfg.backbone,
            "sample_rate": m.sample_rate,
            "n_fft": m.n_fft,
            "hop_length": m.hop_length,
            "n_mels": m.n_mels,
            "mel_scale": "slaney",
            "mel_norm": "slaney",
            "window": "hann",
            "center": True,
            "pad_mode": m.pad_mode,
            "float16": m.float16,
            "window_samples": m.window_samples,
        }
        return InputSpec("musicnn_frames", 1, cfg.n_mels, cfg.n_frames, cfg.global_pool, front, None)

    # ------------------------------------------------------------------ forward
    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.shape[1] == 1:  # (batch, 1, mels, frames): the library's layout
            return x[:, 0].transpose(1, 2)
        if x.dim() == 3:  # (batch, frames, mels): musicnn's own
            return x
        raise ConfigurationError(
            f"MusicnnClassifier expects (batch, 1, {self.config.n_mels}, frames) windows, got {tuple(x.shape)}"
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone features the head reads, per window: ``(batch, 1, 96, frames)`` -> ``(batch, in_features)``."""
        patches = self._patches(x)
        if self.config.layer == "pooled":
            return self.backbone.pooled(patches)
        return self.backbone.embed(patches)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Backbone features -> logits (or, ``pre_logits=True``, the classifier's input)."""
        out: torch.Tensor = self.head(features, pre_logits=pre_logits)
        return out

    def freeze_backbone(self, trainable: Literal["none", "mid", "all"] = "none") -> None:
        """Freeze the backbone except: nothing (``"none"``), the mid end (``"mid"``), or unfreeze everything."""
        for name, param in self.backbone.named_parameters():
            param.requires_grad_(trainable == "all" or (trainable == "mid" and name.startswith("mid.")))

    def get_config(self) -> dict[str, Any]:
        """The configuration as plain values; ``type(model).from_config(cfg)`` rebuilds the layers."""
        return self.config.to_dict()

    @classmethod
    def from_config(
        cls: type[ModelT], config: dict[str, Any] | MusicnnClassifierConfig, *, seed: int | None = None
    ) -> ModelT:
        """Build a model (random weights) from :meth:`get_config`'s output."""
        cfg = config if isinstance(config, MusicnnClassifierConfig) else MusicnnClassifierConfig.from_dict(config)
        return cls(cfg, seed=seed)
