"""Deprecated: tags and embeddings moved to :mod:`musicgenre.predict`.

``musicgenre.tagging.Tagger``, ``TagResult`` and ``EmbeddingLayer`` still work for one
release, with a :class:`DeprecationWarning`: import them from :mod:`musicgenre.predict`
(or the top level, ``musicgenre.Tagger``).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the moved names' types, for type checkers; at run time __getattr__ warns and returns them
    from musicgenre.predict import EmbeddingLayer as EmbeddingLayer
    from musicgenre.predict import FailedPrediction as FailedPrediction
    from musicgenre.predict import SegmentPrediction as SegmentPrediction
    from musicgenre.predict import Tagger as Tagger
    from musicgenre.predict import TagResult as TagResult

__all__: list[str] = []

#: The names that moved, and the module that now holds them.
_MOVED = dict.fromkeys(
    ("EmbeddingLayer", "FailedPrediction", "SegmentPrediction", "TagResult", "Tagger"), "musicgenre.predict"
)


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
