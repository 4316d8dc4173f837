"""Models: :class:`GenreCNN`, the reference's log-mel CNN and its configurable variants."""

from musicgenre.models.cnn import GenreCNN, GenreCNNConfig

__all__ = ["GenreCNN", "GenreCNNConfig"]
