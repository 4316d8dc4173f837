"""Audio transforms: pure functions (:mod:`.functional`), modules (:mod:`.transforms`) and ``AudioUtil``."""

from musicgenre.audio import functional
from musicgenre.audio.transforms import (
    ClipFeatures,
    FeatureConfig,
    LogMelSpectrogram,
    PadTrunc,
    Resample,
    SpecAugment,
    ToMono,
)
from musicgenre.audio.util import AudioUtil

__all__ = [
    "AudioUtil",
    "ClipFeatures",
    "FeatureConfig",
    "LogMelSpectrogram",
    "PadTrunc",
    "Resample",
    "SpecAugment",
    "ToMono",
    "functional",
]
