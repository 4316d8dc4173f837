"""Deprecated: the pretrained recipe's model is in :mod:`musicgenre.models.musicnn_classifier`.

Every name this module had still resolves, with a :class:`DeprecationWarning` naming the
new one:

- ``MusicnnClassifier`` -> :class:`musicgenre.models.musicnn_classifier.MusicnnClassifier`
  (the same class: checkpoints name it as before);
- ``TransferConfig`` -> :class:`~musicgenre.models.musicnn_classifier.MusicnnClassifierConfig`;
- ``TransferHead`` -> :class:`~musicgenre.models.musicnn_classifier.FeatureHead`;
- ``TransferLayer`` -> :data:`~musicgenre.models.musicnn_classifier.BackboneLayer`;
- ``MusicnnFrames`` -> :class:`musicgenre.audio.frontends.MusicnnFrontEnd`, which is a
  :class:`~musicgenre.audio.windowing.FrontEnd` itself: ``MusicnnFrames(backbone)`` still
  builds the front end of the named backbone (as
  ``pretrained_info(backbone).make_front_end()`` or ``MusicnnClassifier.front_end()``
  does), with its ``key`` (the same string, so feature caches stay valid) and its old
  ``backbone``, ``module`` and ``n_bands`` attributes.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from musicgenre.audio.frontends import MusicnnFrontEnd
from musicgenre.models.musicnn_classifier import BackboneLayer as _BackboneLayer
from musicgenre.models.musicnn_classifier import FeatureHead as _FeatureHead
from musicgenre.models.musicnn_classifier import MusicnnClassifier as _MusicnnClassifier
from musicgenre.models.musicnn_classifier import MusicnnClassifierConfig as _MusicnnClassifierConfig
from musicgenre.models.pretrained import pretrained_info

__all__: list[str] = []


class _MusicnnFrames(MusicnnFrontEnd):
    """musicgenre 0.2.0's ``MusicnnFrames(backbone)``: the :class:`MusicnnFrontEnd` of a pretrained backbone.

    Parameters
    ----------
    backbone
        The pretrained model whose front-end settings to use (``"MSD_musicnn"``).
    """

    def __init__(self, backbone: str = "MSD_musicnn") -> None:
        entry = pretrained_info(backbone)
        super().__init__(
            entry.sample_rate, entry.n_fft, entry.hop_length, entry.n_mels, window_frames=entry.patch_frames
        )
        self.backbone = backbone

    @property
    def module(self) -> MusicnnFrontEnd:
        """The front end itself (0.2.0's ``MusicnnFrames`` wrapped one)."""
        return self

    @property
    def n_bands(self) -> int:
        """``n_mels``."""
        return self.n_mels


if TYPE_CHECKING:  # the old names' types, for type checkers; at run time __getattr__ warns and returns them
    MusicnnClassifier = _MusicnnClassifier
    TransferConfig = _MusicnnClassifierConfig
    TransferHead = _FeatureHead
    TransferLayer = _BackboneLayer
    MusicnnFrames = _MusicnnFrames

_MOVED: dict[str, tuple[str, object]] = {
    "MusicnnClassifier": ("musicgenre.models.MusicnnClassifier", _MusicnnClassifier),
    "TransferConfig": ("musicgenre.models.MusicnnClassifierConfig", _MusicnnClassifierConfig),
    "TransferHead": ("musicgenre.models.FeatureHead", _FeatureHead),
    "TransferLayer": ("musicgenre.models.musicnn_classifier.BackboneLayer", _BackboneLayer),
    "MusicnnFrames": (
        "musicgenre.audio.frontends.MusicnnFrontEnd (MusicnnClassifier.front_end() or "
        "musicgenre.models.pretrained_info(backbone).make_front_end() builds a backbone's)",
        _MusicnnFrames,
    ),
}


def __getattr__(name: str) -> Any:
    """The old names, each with a :class:`DeprecationWarning` naming the new one."""
    if name in _MOVED:
        new, value = _MOVED[name]
        warnings.warn(
            f"musicgenre.models.transfer.{name} is deprecated: use {new}; the old name will be removed in the next "
            "release",
            DeprecationWarning,
            stacklevel=2,
        )
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
