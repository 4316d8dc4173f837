"""Deprecated: genre prediction moved to :mod:`musicgenre.predict`.

``musicgenre.inference.GenreClassifier``, ``Prediction``, ``FailedPrediction`` and
``SegmentPrediction`` still work for one release, with a :class:`DeprecationWarning`:
import them from :mod:`musicgenre.predict` (or the top level, ``musicgenre.GenreClassifier``).
:func:`~musicgenre.io.find_audio_files` and :func:`~musicgenre.io.walk_files` live in
:mod:`musicgenre.io` and are re-exported here.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from musicgenre.io import find_audio_files, walk_files

if TYPE_CHECKING:  # the moved names' types, for type checkers; at run time __getattr__ warns and returns them
    from musicgenre.predict import FailedPrediction as FailedPrediction
    from musicgenre.predict import GenreClassifier as GenreClassifier
    from musicgenre.predict import Prediction as Prediction
    from musicgenre.predict import SegmentPrediction as SegmentPrediction

__all__ = ["find_audio_files", "walk_files"]

#: The names that moved, and the module that now holds them.
_MOVED = dict.fromkeys(("FailedPrediction", "GenreClassifier", "Prediction", "SegmentPrediction"), "musicgenre.predict")


def __getattr__(name: str) -> Any:
    """A moved name, from its new module, with a :class:`DeprecationWarning`."""
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"musicgenre.inference.{name} is deprecated: import it from {home}; the old name will be removed in the "
        "next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
