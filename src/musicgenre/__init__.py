"""musicgenre: classify music audio into genres with PyTorch.

The public API is this module's ``__all__``: audio loading and transforms
(:func:`load_audio`, :class:`AudioUtil`, :class:`ClipFeatures`...), the GTZAN dataset
(:class:`GTZANDataset`), splitting (:func:`stratified_split`), the model
(:class:`GenreCNN`), training (:class:`Trainer`), checkpoints and evaluation.
"""

from musicgenre._version import __version__
from musicgenre.audio import (
    AudioUtil,
    ClipFeatures,
    FeatureConfig,
    LogMelSpectrogram,
    PadTrunc,
    Resample,
    SpecAugment,
    ToMono,
)
from musicgenre.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from musicgenre.data import GENRES, GTZANDataset, SkippedFile, download_gtzan
from musicgenre.errors import (
    AudioDecodeError,
    CheckpointError,
    ConfigurationError,
    DatasetError,
    MissingDependencyError,
    MusicGenreError,
)
from musicgenre.evaluation import ClassificationMetrics, Predictions, classification_metrics, predict_batches
from musicgenre.io import AudioInfo, audio_info, load_audio
from musicgenre.models import GenreCNN, GenreCNNConfig
from musicgenre.splits import stratified_split
from musicgenre.synthetic import make_synthetic_gtzan
from musicgenre.training import Callback, EarlyStopping, EpochMetrics, History, Trainer, TrainerConfig

__all__ = [
    "GENRES",
    "AudioDecodeError",
    "AudioInfo",
    "AudioUtil",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "ClassificationMetrics",
    "ClipFeatures",
    "ConfigurationError",
    "DatasetError",
    "EarlyStopping",
    "EpochMetrics",
    "FeatureConfig",
    "GTZANDataset",
    "GenreCNN",
    "GenreCNNConfig",
    "History",
    "LogMelSpectrogram",
    "MissingDependencyError",
    "MusicGenreError",
    "PadTrunc",
    "Predictions",
    "Resample",
    "SkippedFile",
    "SpecAugment",
    "ToMono",
    "Trainer",
    "TrainerConfig",
    "__version__",
    "audio_info",
    "classification_metrics",
    "download_gtzan",
    "load_audio",
    "load_checkpoint",
    "make_synthetic_gtzan",
    "predict_batches",
    "save_checkpoint",
    "stratified_split",
]
