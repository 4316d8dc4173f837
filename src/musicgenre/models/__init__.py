"""Models: :class:`GenreCNN`, the reference's log-mel CNN and its configurable variants, their registry and checkpoints.

The layers inside the package point one way: :mod:`~musicgenre.models.registry` (class
lookup by name) <- :mod:`~musicgenre.models.checkpoint` (save and load, rebuilding
through the registry) <- :mod:`~musicgenre.models.cnn` <- :mod:`~musicgenre.models.image_cnn`;
:mod:`~musicgenre.models.fast` (the inference copy of any model) depends on none of them.
"""

from musicgenre.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.fast import fold_batch_norm, optimize_for_inference
from musicgenre.models.image_cnn import IMAGE_CNN_CONFIG, SpectrogramImageCNN
from musicgenre.models.registry import get_model_class, register_model, registered_models

__all__ = [
    "IMAGE_CNN_CONFIG",
    "Checkpoint",
    "GenreCNN",
    "GenreCNNConfig",
    "SpectrogramImageCNN",
    "fold_batch_norm",
    "get_model_class",
    "load_checkpoint",
    "optimize_for_inference",
    "register_model",
    "registered_models",
    "save_checkpoint",
]
