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
from musicgenre.data import GENRES, AudioFolderDataset, GTZANDataset, GTZANImageDataset, SkippedFile, download_gtzan
from musicgenre.data.cache import FeatureSet, extract_features
from musicgenre.data.images import make_synthetic_gtzan_images, render_spectrogram_image
from musicgenre.errors import (
    AudioDecodeError,
    CheckpointError,
    ConfigurationError,
    DatasetError,
    MissingDependencyError,
    MusicGenreError,
    MusicGenreWarning,
    TruncatedAudioWarning,
)
from musicgenre.evaluation import ClassificationMetrics, Predictions, classification_metrics, predict_batches
from musicgenre.experiment import ExperimentResult, evaluate_checkpoint, results_table, run_experiment
from musicgenre.export import export_onnx, export_torchscript
from musicgenre.inference import FailedPrediction, GenreClassifier, Prediction, SegmentPrediction, find_audio_files
from musicgenre.io import AudioInfo, audio_info, load_audio
from musicgenre.models import GenreCNN, GenreCNNConfig, SpectrogramImageCNN
from musicgenre.recipes import IMPROVED, REFERENCE, Recipe, get_recipe, register_recipe
from musicgenre.splits import filtered_split, split_indices, stratified_split
from musicgenre.synthetic import make_synthetic_gtzan
from musicgenre.training import (
    Callback,
    EarlyStopping,
    EpochMetrics,
    History,
    ModelCheckpoint,
    Trainer,
    TrainerConfig,
)

__all__ = [
    "GENRES",
    "IMPROVED",
    "REFERENCE",
    "AudioDecodeError",
    "AudioFolderDataset",
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
    "ExperimentResult",
    "FailedPrediction",
    "FeatureConfig",
    "FeatureSet",
    "GTZANDataset",
    "GTZANImageDataset",
    "GenreCNN",
    "GenreCNNConfig",
    "GenreClassifier",
    "History",
    "LogMelSpectrogram",
    "MissingDependencyError",
    "ModelCheckpoint",
    "MusicGenreError",
    "MusicGenreWarning",
    "PadTrunc",
    "Prediction",
    "Predictions",
    "Recipe",
    "Resample",
    "SegmentPrediction",
    "SkippedFile",
    "SpecAugment",
    "SpectrogramImageCNN",
    "ToMono",
    "Trainer",
    "TrainerConfig",
    "TruncatedAudioWarning",
    "__version__",
    "audio_info",
    "classification_metrics",
    "download_gtzan",
    "evaluate_checkpoint",
    "export_onnx",
    "export_torchscript",
    "extract_features",
    "filtered_split",
    "find_audio_files",
    "get_recipe",
    "load_audio",
    "load_checkpoint",
    "make_synthetic_gtzan",
    "make_synthetic_gtzan_images",
    "predict_batches",
    "register_recipe",
    "render_spectrogram_image",
    "results_table",
    "run_experiment",
    "save_checkpoint",
    "split_indices",
    "stratified_split",
]
