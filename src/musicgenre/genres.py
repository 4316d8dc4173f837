"""The ten GTZAN genre names, in label order: a leaf module every layer may import."""

from __future__ import annotations

__all__ = ["GENRES"]

#: The ten GTZAN genres, in label order (label ``i`` is ``GENRES[i]``).
GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
