"""The model contract: what checkpoints, export, evaluation and prediction need of a model.

Every genre model the library trains, saves, evaluates, exports or predicts with is a
:class:`GenreModel`: an ``nn.Module`` with a configuration that rebuilds it
(:meth:`~GenreModel.get_config` / :meth:`~GenreModel.from_config`), a backbone
(:meth:`~GenreModel.forward_features`) and a head (:meth:`~GenreModel.forward_head`),
and a :attr:`~GenreModel.config` that says what input it takes (:class:`ModelInput`).
:class:`~musicgenre.models.GenreCNN` and :class:`~musicgenre.models.MusicnnClassifier`
are two; a downstream project subclasses :class:`GenreModel` (or either of them),
registers the class with :func:`~musicgenre.models.register_model`, and every stage takes
it without a change to the library.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

__all__ = ["GenreModel", "ModelInput"]

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


class GenreModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class of the models every stage of the library takes: windows -> genre logits.

    A subclass sets :attr:`config` in its constructor and implements the abstract members;
    :meth:`forward` and :meth:`embed` follow from them.

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
