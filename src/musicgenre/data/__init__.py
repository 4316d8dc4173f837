"""Datasets: GTZAN in its layouts, with skip reports and an optional download."""

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

__all__ = [
    "GENRES",
    "GTZAN_SHA256",
    "GTZAN_URL",
    "GTZANDataset",
    "SkippedFile",
    "download_gtzan",
    "parse_clip_name",
    "scan_clips",
]
