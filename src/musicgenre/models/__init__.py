"""Models: :class:`GenreCNN`, the reference's log-mel CNN and its configurable variants."""

from musicgenre.models.cnn import GenreCNN, GenreCNNConfig
from musicgenre.models.image_cnn import IMAGE_CNN_CONFIG, SpectrogramImageCNN

__all__ = ["IMAGE_CNN_CONFIG", "GenreCNN", "GenreCNNConfig", "SpectrogramImageCNN"]
