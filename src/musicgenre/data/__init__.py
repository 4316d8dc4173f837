"""Datasets: GTZAN in its layouts, your own labelled folders, with skip reports and an optional download."""

from musicgenre.data.folder import AudioFolderDataset
from musicgenre.data.gtzan import (
    GENRES,
    GTZAN_SHA256,
    GTZAN_URL,
    GTZANDataset,
    SkippedFile,
    download_gtzan,
    parse_clip_name,
    scan_clips,
)
from musicgenre.data.images import (
    IMAGE_EXTENSIONS,
    IMAGE_LAYOUTS,
    IMAGE_SIZE,
    GTZANImageDataset,
    load_image,
    make_synthetic_gtzan_images,
    render_gtzan_images,
    render_spectrogram_image,
)

__all__ = [
    "GENRES",
    "GTZAN_SHA256",
    "GTZAN_URL",
    "IMAGE_EXTENSIONS",
    "IMAGE_LAYOUTS",
    "IMAGE_SIZE",
    "AudioFolderDataset",
    "GTZANDataset",
    "GTZANImageDataset",
    "SkippedFile",
    "download_gtzan",
    "load_image",
    "make_synthetic_gtzan_images",
    "parse_clip_name",
    "render_gtzan_images",
    "render_spectrogram_image",
    "scan_clips",
]
