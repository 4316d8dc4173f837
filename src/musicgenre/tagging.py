"""Deprecated: tags and embeddings moved to :mod:`musicgenre.predict`.

``musicgenre.tagging.Tagger``, ``TagResult`` and ``EmbeddingLayer`` still work for one
release, with a :class:`DeprecationWarning`: import them from :mod:`musicgenre.predict`
(or the top level, ``musicgenre.Tagger``).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__: list[str] = []

#: The names that moved, and the module that now holds them.
_MOVED = {name: "musicgenre.predict" for name in ("EmbeddingLayer", "FailedPrediction", "SegmentPrediction", "TagResult", "Tagger")}


def __getattr__(name: str) -> Any:
    """A moved name, from its new module, with a :class:`DeprecationWarning`."""
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"musicgenre.tagging.{name} is deprecated: import it from {home}; the old name will be removed in the "
        "next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
