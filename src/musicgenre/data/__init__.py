"""Datasets: GTZAN in its layouts, your own labelled folders, Kaggle's spectrogram pictures, cached features.

The package re-exports the public names of its modules: :mod:`~musicgenre.data.base`
(what every dataset shares), :mod:`~musicgenre.data.gtzan`, :mod:`~musicgenre.data.folder`,
:mod:`~musicgenre.data.images`, :mod:`~musicgenre.data.render` (drawing pictures),
:mod:`~musicgenre.data.layout` (which kind of folder a root holds) and
:mod:`~musicgenre.data.cache` (feature extraction and the feature store).
"""

from musicgenre.data.base import (
    OTHER_AUDIO_EXTENSIONS,
    AudioFileDataset,
    LabelledFileDataset,
    SkippedFile,
    keep_readable,
    walk_files,
    warn_skipped,
)
from musicgenre.data.cache import CacheMode, ClipSource, FeatureSet, extract_features, feature_key
from musicgenre.data.folder import AudioFolderDataset
from musicgenre.data.gtzan import (
    GTZAN_SHA256,
    GTZANDataset,
    download_gtzan,
    parse_clip_name,
    scan_clips,
    track_id,
)
from musicgenre.data.images import IMAGE_EXTENSIONS, IMAGE_SIZE, GTZANImageDataset, load_image
from musicgenre.data.layout import LAYOUTS, Layout, detect_layout, open_dataset
from musicgenre.data.render import IMAGE_LAYOUTS, render_gtzan_images, render_spectrogram_image

__all__ = [
    "GTZAN_SHA256",
    "IMAGE_EXTENSIONS",
    "IMAGE_LAYOUTS",
    "IMAGE_SIZE",
    "LAYOUTS",
    "OTHER_AUDIO_EXTENSIONS",
    "AudioFileDataset",
    "AudioFolderDataset",
    "CacheMode",
    "ClipSource",
    "FeatureSet",
    "GTZANDataset",
    "GTZANImageDataset",
    "LabelledFileDataset",
    "Layout",
    "SkippedFile",
    "detect_layout",
    "download_gtzan",
    "extract_features",
    "feature_key",
    "keep_readable",
    "load_image",
    "open_dataset",
    "parse_clip_name",
    "render_gtzan_images",
    "render_spectrogram_image",
    "scan_clips",
    "track_id",
    "walk_files",
    "warn_skipped",
]
