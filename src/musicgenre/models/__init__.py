"""Models: :class:`GenreCNN`, the reference's log-mel CNN and its configurable variants, their registry and checkpoints.

The layers inside the package point one way: :mod:`~musicgenre.models.protocol` (the
:class:`GenreModel` contract) <- :mod:`~musicgenre.models.registry` (class
lookup by name) <- :mod:`~musicgenre.models.checkpoint` (save and load, rebuilding
through the registry) <- :mod:`~musicgenre.models.cnn` <- :mod:`~musicgenre.models.image_cnn`;
:mod:`~musicgenre.models.fast` (the inference copy of any model) depends on none of them.
The pretrained tagger :mod:`~musicgenre.models.musicnn` sits beside ``cnn`` (it needs none
of them: a tagger, not a genre model, so not in the registry), and
:mod:`~musicgenre.models.pretrained` loads its packaged weights;
:mod:`~musicgenre.models.transfer` puts a genre head on a pretrained backbone (the
``"pretrained"`` recipe's model).
"""

from musicgenre.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.fast import fold_batch_norm, optimize_for_inference
from musicgenre.models.image_cnn import IMAGE_CNN_CONFIG, SpectrogramImageCNN
from musicgenre.models.musicnn import ConvBlock, Musicnn, MusicnnConfig, TimbralAlgorithm
from musicgenre.models.pretrained import (
    PRETRAINED,
    PretrainedModel,
    list_pretrained,
    load_pretrained,
    pretrained_info,
    weights_path,
)
from musicgenre.models.protocol import GenreModel, InputSpec, ModelInput
from musicgenre.models.registry import get_model_class, register_model, registered_models
from musicgenre.models.transfer import MusicnnClassifier, MusicnnFrames, TransferConfig, TransferHead

__all__ = [
    "IMAGE_CNN_CONFIG",
    "PRETRAINED",
    "Checkpoint",
    "ConvBlock",
    "GenreCNN",
    "GenreCNNConfig",
    "GenreModel",
    "InputSpec",
    "ModelInput",
    "Musicnn",
    "MusicnnClassifier",
    "MusicnnConfig",
    "MusicnnFrames",
    "PretrainedModel",
    "SpectrogramImageCNN",
    "TimbralAlgorithm",
    "TransferConfig",
    "TransferHead",
    "fold_batch_norm",
    "get_model_class",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "optimize_for_inference",
    "pretrained_info",
    "register_model",
    "registered_models",
    "save_checkpoint",
    "weights_path",
]
