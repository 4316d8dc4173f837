"""musicgenre: classify music audio into genres with PyTorch.

The top level holds what the README and the tutorials construct and call: audio loading
and features (:func:`load_audio`, :class:`AudioUtil`, :class:`FeatureConfig`,
:class:`ClipFeatures`), the datasets (:class:`GTZANDataset`, :class:`AudioFolderDataset`,
:func:`extract_features`), splitting (:func:`stratified_split`), the model
(:class:`GenreCNN`), training (:class:`Trainer`), checkpoints, prediction
(:class:`GenreClassifier`), pretrained tags and embeddings (:class:`Tagger`,
:func:`load_pretrained`), metrics, whole experiments (:func:`run_experiment`) and the
errors. Everything else lives in a named submodule with its own ``__all__``:
:mod:`musicgenre.audio`, :mod:`~musicgenre.data`, :mod:`~musicgenre.splits`,
:mod:`~musicgenre.models`, :mod:`~musicgenre.training`, :mod:`~musicgenre.recipes`,
:mod:`~musicgenre.evaluation`, :mod:`~musicgenre.experiment`, :mod:`~musicgenre.predict`
(genre prediction and tagging), :mod:`~musicgenre.export` and :mod:`~musicgenre.synthetic`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from musicgenre._version import __version__
from musicgenre.errors import (
    AudioDecodeError,
    CheckpointError,
    ConfigurationError,
    DatasetError,
    DecoderWarning,
    MissingDependencyError,
    MusicGenreError,
    MusicGenreWarning,
    TruncatedAudioWarning,
)
from musicgenre.genres import GENRES

if TYPE_CHECKING:  # what the names below are, for type checkers; at run time they load on first use
    from musicgenre.audio import AudioUtil, ClipFeatures, FeatureConfig
    from musicgenre.data import AudioFolderDataset, GTZANDataset, extract_features
    from musicgenre.evaluation import classification_metrics
    from musicgenre.experiment import run_experiment
    from musicgenre.io import load_audio
    from musicgenre.models import GenreCNN, GenreCNNConfig, load_checkpoint, load_pretrained, save_checkpoint
    from musicgenre.predict import FailedPrediction, GenreClassifier, Prediction, Tagger
    from musicgenre.splits import stratified_split
    from musicgenre.training import Trainer, TrainerConfig


#: Where each top-level name lives that needs PyTorch. ``import musicgenre`` imports none
#: of them (only the version, the errors and the genre names): the first use of one imports
#: its module, so ``musicgenre --version`` and
#: the command's argument parsing take milliseconds.
_HOMES: dict[str, tuple[str, ...]] = {
    "musicgenre.audio": ("AudioUtil", "ClipFeatures", "FeatureConfig"),
    "musicgenre.data": ("AudioFolderDataset", "GTZANDataset", "extract_features"),
    "musicgenre.evaluation": ("classification_metrics",),
    "musicgenre.experiment": ("run_experiment",),
    "musicgenre.io": ("load_audio",),
    "musicgenre.models": ("GenreCNN", "GenreCNNConfig", "load_checkpoint", "load_pretrained", "save_checkpoint"),
    "musicgenre.predict": ("FailedPrediction", "GenreClassifier", "Prediction", "Tagger"),
    "musicgenre.splits": ("stratified_split",),
    "musicgenre.training": ("Trainer", "TrainerConfig"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
_SUBMODULES = frozenset(
    {
        *("audio", "cli", "data", "device", "errors", "evaluation", "experiment", "export", "genres"),
        *("inference", "io", "models", "parallel", "predict", "recipes", "splits", "synthetic", "tagging"),
        "training",
    }
)


def __getattr__(name: str) -> Any:
    """Import a top-level name"s module on first use (:pep:`562`)."""
    module = _HOME.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)


__all__ = [
    "GENRES",
    "AudioDecodeError",
    "AudioFolderDataset",
    "AudioUtil",
    "CheckpointError",
    "ClipFeatures",
    "ConfigurationError",
    "DatasetError",
    "DecoderWarning",
    "FailedPrediction",
    "FeatureConfig",
    "GTZANDataset",
    "GenreCNN",
    "GenreCNNConfig",
    "GenreClassifier",
    "MissingDependencyError",
    "MusicGenreError",
    "MusicGenreWarning",
    "Prediction",
    "Tagger",
    "Trainer",
    "TrainerConfig",
    "TruncatedAudioWarning",
    "__version__",
    "classification_metrics",
    "extract_features",
    "load_audio",
    "load_checkpoint",
    "load_pretrained",
    "run_experiment",
    "save_checkpoint",
    "stratified_split",
]
