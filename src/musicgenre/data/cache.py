"""The feature store, one import away: :mod:`musicgenre.data.features` and :mod:`musicgenre.data.embeddings`.

Feature extraction (:func:`extract_features`, :class:`FeatureSet`) lives in
:mod:`musicgenre.data.features`, window encodings (:func:`embed_features`,
:class:`WindowEncoder`) in :mod:`musicgenre.data.embeddings`, and the disk format in a
private module beside them; this module re-exports their public names, so
``musicgenre.data.cache.X`` keeps working.
"""

from __future__ import annotations

from musicgenre._random import item_generator
from musicgenre.data.embeddings import WindowEmbeddings, WindowEncoder, embed_features
from musicgenre.data.features import (
    CacheMode,
    ClipSource,
    FeatureSet,
    RandomView,
    View,
    content_hash,
    extract_features,
    feature_key,
)

__all__ = [
    "CacheMode",
    "ClipSource",
    "FeatureSet",
    "RandomView",
    "View",
    "WindowEmbeddings",
    "WindowEncoder",
    "content_hash",
    "embed_features",
    "extract_features",
    "feature_key",
    "item_generator",
]
