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
:mod:`~musicgenre.evaluation`, :mod:`~musicgenre.experiment`, :mod:`~musicgenre.inference`,
:mod:`~musicgenre.tagging`, :mod:`~musicgenre.export` and :mod:`~musicgenre.synthetic`.
"""

from musicgenre._version import __version__
from musicgenre.audio import AudioUtil, ClipFeatures, FeatureConfig
from musicgenre.data import AudioFolderDataset, GTZANDataset, extract_features
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
from musicgenre.evaluation import classification_metrics
from musicgenre.experiment import run_experiment
from musicgenre.genres import GENRES
from musicgenre.inference import FailedPrediction, GenreClassifier, Prediction
from musicgenre.io import load_audio
from musicgenre.models import GenreCNN, GenreCNNConfig, load_checkpoint, load_pretrained, save_checkpoint
from musicgenre.splits import stratified_split
from musicgenre.tagging import Tagger
from musicgenre.training import Trainer, TrainerConfig

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
