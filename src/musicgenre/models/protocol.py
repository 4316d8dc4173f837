"""The model contract: what checkpoints, export, evaluation and prediction need of a model.

Every genre model the library trains, saves, evaluates, exports or predicts with is a
:class:`GenreModel`: an ``nn.Module`` with a configuration that rebuilds it
(:meth:`~GenreModel.get_config` / :meth:`~GenreModel.from_config`), a backbone
(:meth:`~GenreModel.forward_features`) and a head (:meth:`~GenreModel.forward_head`),
a :attr:`~GenreModel.config` that says what input it takes (:class:`ModelInput`), and
:meth:`~GenreModel.input_spec`, which says how that input is computed from audio
(:class:`InputSpec`: what export writes into its files' metadata).
:class:`~musicgenre.models.GenreCNN` and :class:`~musicgenre.models.MusicnnClassifier`
are two; a downstream project subclasses :class:`GenreModel` (or either of them),
registers the class with :func:`~musicgenre.models.register_model` (the registry takes
only :class:`GenreModel` subclasses, and checkpoints rebuild only registered classes),
and every stage takes it without a change to the library.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from musicgenre.audio.transforms import FeatureConfig

__all__ = ["GenreModel", "InputSpec", "ModelInput", "log_mel_front_end"]

ModelT = TypeVar("ModelT", bound="GenreModel")


class ModelInput(Protocol):
    """What a model's configuration says of its input windows ``(batch, 1, n_mels, n_frames)``."""

    @property
    def n_mels(self) -> int:
        """Frequency bands of a window."""

    @property
    def n_frames(self) -> int:
        """Frames of a window (any length when :attr:`global_pool`)."""

    @property
    def global_pool(self) -> bool:
        """Whether the model pools over time, so it takes windows of any length."""


def log_mel_front_end(features: FeatureConfig) -> dict[str, Any]:
    """The dB log-mel front end of *features*, as :attr:`InputSpec.front_end` describes it (plain values).

    It is what :class:`~musicgenre.audio.windowing.LogMelFrontEnd` computes: a centred
    STFT (Hann window, reflect padding), the power spectrum through an HTK-scale mel filter
    bank (filters peaking at 1, 0 Hz to Nyquist), ``10 log10(max(power, 1e-10))``, then
    each window's values more than ``top_db`` below its own maximum raised to that floor.

    Examples
    --------
    >>> log_mel_front_end(FeatureConfig())["formula"]
    '10 * log10(max(mel_power, 1e-10)), floored top_db below each window maximum'
    """
    return {
        "kind": "log_mel_db",
        "formula": "10 * log10(max(mel_power, 1e-10)), floored top_db below each window maximum",
        "sample_rate": features.sample_rate,
        "n_fft": features.n_fft,
        "hop_length": features.hop_length,
        "n_mels": features.n_mels,
        "mel_scale": "htk",
        "window": "hann",
        "center": True,
        "pad_mode": "reflect",
        "top_db": features.top_db,
        "window_samples": features.clip_samples,
    }


@dataclass(frozen=True)
class InputSpec:
    """What a model reads and how it is computed from audio: what an exported file must tell a deployment.

    Attributes
    ----------
    name
        The input's name (the ONNX input name): ``"log_mel"`` for the dB log-mel
        spectrograms of a :class:`~musicgenre.audio.FeatureConfig`, ``"musicnn_frames"``
        for musicnn's ``log10(10000 mel + 1)`` frames, ``"image"`` for pictures.
    channels, n_mels, n_frames
        One window is ``(channels, n_mels, n_frames)``: channels, bands (rows), frames (columns).
    any_frames
        Whether the model takes windows of any number of frames (*n_frames* is then the
        length it was trained on).
    front_end
        How to compute the input from audio, as JSON-ready plain values (``"kind"``, a
        ``"formula"`` and the settings), or ``None`` where the model cannot tell (a
        log-mel model given no :class:`~musicgenre.audio.FeatureConfig`).
    features
        The :class:`~musicgenre.audio.FeatureConfig` the input is computed with, where the
        front end is one (``None`` otherwise: musicnn's frames are not).

    Examples
    --------
    >>> spec = InputSpec("log_mel", 1, 64, 215, any_frames=True)
    >>> spec.shape, tuple(spec.example(2).shape)
    (('batch', 1, 64, 'frames'), (2, 1, 64, 215))
    """

    name: str
    channels: int
    n_mels: int
    n_frames: int
    any_frames: bool = False
    front_end: Mapping[str, Any] | None = field(default=None, hash=False)
    features: FeatureConfig | None = None

    @property
    def shape(self) -> tuple[int | str, ...]:
        """The input's shape, ``"batch"`` (and ``"frames"`` where :attr:`any_frames`) naming the free axes."""
        return ("batch", self.channels, self.n_mels, "frames" if self.any_frames else self.n_frames)

    def example(self, batch: int = 2) -> torch.Tensor:
        """A zero input of *batch* windows of ``n_frames`` frames (what export traces with)."""
        return torch.zeros(batch, self.channels, self.n_mels, self.n_frames)

    def to_dict(self) -> dict[str, Any]:
        """Plain values: ``name``, ``shape``, ``frames`` (the trained window length) and ``front_end``."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "frames": self.n_frames,
            "front_end": dict(self.front_end) if self.front_end is not None else None,
        }


class GenreModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class of the models every stage of the library takes: windows -> genre logits.

    A subclass sets :attr:`config` in its constructor and implements the abstract members;
    :meth:`forward` and :meth:`embed` follow from them. :meth:`input_spec` says the model
    reads dB log-mel spectrograms; a model that reads anything else overrides it.

    Attributes
    ----------
    config : ModelInput
        The model's configuration: at least the input it takes; :meth:`get_config` is its
        plain-value form, which checkpoints store.

    Examples
    --------
    >>> import torch
    >>> from musicgenre.models import GenreCNN
    >>> model = GenreCNN(seed=0)
    >>> isinstance(model, GenreModel), model.num_classes, model.config.n_mels
    (True, 10, 64)
    >>> type(model).from_config(model.get_config()).num_features
    128
    """

    config: ModelInput

    @property
    @abc.abstractmethod
    def num_classes(self) -> int:
        """Number of output logits."""

    @property
    @abc.abstractmethod
    def num_features(self) -> int:
        """Size of :meth:`embed`'s output (the head's input to its last layer)."""

    @abc.abstractmethod
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone: windows ``(batch, 1, n_mels, frames)`` -> what :meth:`forward_head` reads."""

    @abc.abstractmethod
    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The head: features -> logits ``(batch, num_classes)``, or with *pre_logits* the embedding."""

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The configuration as JSON-ready plain values; ``type(model).from_config(cfg)`` rebuilds the layers."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls: type[ModelT], config: dict[str, Any], *, seed: int | None = None) -> ModelT:
        """Build the layers (random weights, drawn from *seed* if given) from :meth:`get_config`'s output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` of windows ``(batch, 1, n_mels, frames)``."""
        return self.forward_head(self.forward_features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding ``(batch, num_features)``: the head's activations before its last layer."""
        return self.forward_head(self.forward_features(x), pre_logits=True)

    def input_spec(self, features: FeatureConfig | None = None) -> InputSpec:
        """What the model reads and how it is computed from audio (export's metadata).

        The default: one-channel dB log-mel windows ``(1, n_mels, n_frames)`` of *features*
        (the checkpoint's :attr:`~musicgenre.models.checkpoint.Checkpoint.features`), named
        ``"log_mel"``. A model with another front end overrides this.

        Parameters
        ----------
        features
            The feature settings the model was trained with; ``None``: unknown (the
            returned :attr:`InputSpec.front_end` is then ``None``).

        Returns
        -------
        InputSpec
        """
        cfg = self.config
        front = log_mel_front_end(features) if features is not None else None
        return InputSpec("log_mel", 1, cfg.n_mels, cfg.n_frames, cfg.global_pool, front, features)
