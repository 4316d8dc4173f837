"""``SpectrogramImageCNN``: the reference's 3-block CNN over Kaggle's spectrogram pictures.

The reference's image script trains, on the ``(3, 128, 128)`` RGB pictures, three blocks of
3x3 convolution (padding 1), ReLU and 2x2 max-pooling with 3 -> 32 -> 64 -> 128 channels
(``128 x 16 x 16`` out), a linear layer to 256 units with ReLU, and a linear layer to 10
logits: 8,484,682 parameters, 99 % of them in the first linear layer.

It is the same family as :class:`~musicgenre.models.GenreCNN` (conv blocks, embedding,
classifier), so it *is* one, configured rather than rewritten: :data:`IMAGE_CNN_CONFIG`
sets ``in_channels=3`` (``n_mels`` and ``n_frames`` are the picture's height and width).
The subclass only gives that configuration as its default, words its input errors
for pictures and describes its input as pictures (:meth:`SpectrogramImageCNN.input_spec`);
``embed``, ``reset_classifier``, ``get_config``/``from_config`` and checkpoint support
are :class:`~musicgenre.models.GenreCNN`'s.
"""

from __future__ import annotations

from typing import Any

import torch

from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import ConfigurationError
from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.protocol import InputSpec
from musicgenre.models.registry import register_model

__all__ = ["IMAGE_CNN_CONFIG", "SpectrogramImageCNN"]

#: The reference image model (128 x 128 RGB input, blocks of 32, 64 and 128 channels, a
#: 256-unit embedding, no dropout, 10 classes).
IMAGE_CNN_CONFIG = GenreCNNConfig(
    n_classes=10,
    n_mels=128,
    n_frames=128,
    in_channels=3,
    channels=(32, 64, 128),
    embedding_dim=256,
    dropout=0.0,
)


@register_model
class SpectrogramImageCNN(GenreCNN):
    """A CNN over RGB spectrogram pictures, the reference's image model by default.

    Input ``(batch, 3, height, width)`` floats in [0, 1], as
    :class:`~musicgenre.data.images.GTZANImageDataset` delivers them; output
    ``(batch, num_classes)`` logits. :meth:`embed` gives the 256-d activations of the
    first linear layer (after ReLU), used for the t-SNE plot.

    Parameters
    ----------
    config
        Layer settings; ``None`` is :data:`IMAGE_CNN_CONFIG`, the reference model.
        ``n_mels`` and ``n_frames`` are the picture's height and width.
    seed
        If given, the initial weights are drawn from this seed without touching torch's
        global generator.
    **overrides
        Fields of :class:`~musicgenre.models.GenreCNNConfig` to change, e.g. ``n_classes=3``.

    Examples
    --------
    >>> model = SpectrogramImageCNN(seed=0)
    >>> sum(p.numel() for p in model.parameters())
    8484682
    >>> x = torch.rand(2, 3, 128, 128)
    >>> tuple(model(x).shape), tuple(model.embed(x).shape)
    ((2, 10), (2, 256))
    """

    def __init__(self, config: GenreCNNConfig | None = None, *, seed: int | None = None, **overrides: Any) -> None:
        super().__init__(config or IMAGE_CNN_CONFIG, seed=seed, **overrides)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of the pictures the model was built for."""
        return self.config.n_mels, self.config.n_frames

    def _check_input(self, x: torch.Tensor) -> None:
        height, width = self.image_size
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ConfigurationError(
                f"{type(self).__name__} expects input (batch, {self.config.in_channels}, {height}, {width}), "
                f"got {tuple(x.shape)}"
            )
        if not self.config.global_pool and tuple(x.shape[2:]) != (height, width):
            raise ConfigurationError(
                f"{type(self).__name__} was built for {height} x {width} pictures but got "
                f"{x.shape[2]} x {x.shape[3]}; resize them (GTZANImageDataset(size=...)) or build "
                "the model with global_pool=True"
            )

    def input_spec(self, features: FeatureConfig | None = None) -> InputSpec:
        """RGB pictures in [0, 1], ``(3, height, width)``, named ``"image"``; *features* does not apply.

        The pictures are :class:`~musicgenre.data.images.GTZANImageDataset`'s: the PNG's
        colour channels (alpha dropped) scaled to [0, 1], resized (bilinear) to the model's size.
        """
        cfg = self.config
        height, width = self.image_size
        front = {
            "kind": "image",
            "formula": "the picture's RGB channels (alpha dropped) / 255, resized (bilinear) to height x width",
            "height": height,
            "width": width,
        }
        return InputSpec("image", cfg.in_channels, height, width, cfg.global_pool, front, None)
