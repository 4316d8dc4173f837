"""Models: :class:`GenreCNN`, the reference's log-mel CNN and its configurable variants, their registry and checkpoints.

The layers inside the package point one way: :mod:`~musicgenre.models.protocol` (the
:class:`GenreModel` contract) <- :mod:`~musicgenre.models.registry` (class
lookup by name) <- :mod:`~musicgenre.models.checkpoint` (save and load, rebuilding
through the registry) <- :mod:`~musicgenre.models.cnn` <- :mod:`~musicgenre.models.image_cnn`;
:mod:`~musicgenre.models.fast` (the inference copy of any model) depends on none of them.
The pretrained tagger :mod:`~musicgenre.models.musicnn` sits beside ``cnn`` (it needs none
of them: a tagger, not a genre model, so not in the registry), and
:mod:`~musicgenre.models.pretrained` loads its packaged weights;
:mod:`~musicgenre.models.musicnn_classifier` puts a genre head on a pretrained backbone
(the ``"pretrained"`` recipe's model).

``TransferConfig``, ``TransferHead`` and ``MusicnnFrames`` are deprecated names (with a
:class:`DeprecationWarning`) of :class:`MusicnnClassifierConfig`, :class:`FeatureHead` and
:class:`~musicgenre.audio.frontends.MusicnnFrontEnd` (see :mod:`musicgenre.models.transfer`).
"""

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from musicgenre.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.fast import fold_batch_norm, optimize_for_inference
from musicgenre.models.image_cnn import IMAGE_CNN_CONFIG, SpectrogramImageCNN
from musicgenre.models.musicnn import ConvBlock, Musicnn, MusicnnConfig, TimbralAlgorithm
from musicgenre.models.musicnn_classifier import FeatureHead, MusicnnClassifier, MusicnnClassifierConfig
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

if TYPE_CHECKING:  # the old names' types, for type checkers; at run time __getattr__ warns and returns them
    from musicgenre.models.transfer import MusicnnFrames as MusicnnFrames
    from musicgenre.models.transfer import TransferConfig as TransferConfig
    from musicgenre.models.transfer import TransferHead as TransferHead

__all__ = [
    "IMAGE_CNN_CONFIG",
    "PRETRAINED",
    "Checkpoint",
    "ConvBlock",
    "FeatureHead",
    "GenreCNN",
    "GenreCNNConfig",
    "GenreModel",
    "InputSpec",
    "ModelInput",
    "Musicnn",
    "MusicnnClassifier",
    "MusicnnClassifierConfig",
    "MusicnnConfig",
    "PretrainedModel",
    "SpectrogramImageCNN",
    "TimbralAlgorithm",
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

#: The old names, and what they are now.
_RENAMED = {
    "TransferConfig": "musicgenre.models.MusicnnClassifierConfig",
    "TransferHead": "musicgenre.models.FeatureHead",
    "MusicnnFrames": "musicgenre.audio.frontends.MusicnnFrontEnd (MusicnnClassifier.front_end() builds a backbone's)",
}


def __getattr__(name: str) -> Any:
    """The old names (``TransferConfig``, ``TransferHead``, ``MusicnnFrames``), with a :class:`DeprecationWarning`."""
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"musicgenre.models.{name} is deprecated: use {new}; the old name will be removed in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return importlib.import_module("musicgenre.models.transfer")._MOVED[name][1]  # without that module's warning
