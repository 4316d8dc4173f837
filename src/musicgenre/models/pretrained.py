"""Pretrained models shipped inside musicgenre's wheel, and :func:`load_pretrained`.

Each :class:`PretrainedModel` entry of :data:`PRETRAINED` keeps together what must never
drift apart: the weight file (and its sha256), the architecture and its configuration,
the front-end settings the weights were trained with, the tag labels, the licence and
where the weights came from (timm's ``pretrained_cfg`` idea).

The weights are musicnn 0.1.0's ``MSD_musicnn`` and ``MTT_musicnn`` (Pons & Serra 2019;
ISC licence, copyright Music Technology Group, Universitat Pompeu Fabra 2019), converted
from the TF1 checkpoints in the ISC-licensed ``musicnn`` wheel on PyPI by
``scripts/convert_musicnn.py`` into ``musicgenre/models/weights/*.safetensors``; the
licence text and a provenance record (``PROVENANCE.json``: source wheel and file
hashes, script, date, tag lists) sit beside them. MTG also distributes other exports of
these models (Essentia's) under a non-commercial licence; those are not the source here.

Weights are stored as safetensors: a JSON header plus raw float32 bytes, loaded without
unpickling (a tampered file cannot run code) and checked against the registry's sha256
before use.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar, overload

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from musicgenre.audio.frontends import MUSICNN_PATCH_FRAMES, MusicnnFrontEnd
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.models.musicnn import Musicnn, MusicnnConfig

__all__ = ["PRETRAINED", "PretrainedModel", "list_pretrained", "load_pretrained", "pretrained_info", "weights_path"]

MusicnnT = TypeVar("MusicnnT", bound=Musicnn)

_MUSICNN_LICENCE = "ISC (copyright Music Technology Group, Universitat Pompeu Fabra 2019); see LICENSE-musicnn.md"
_MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
    "indie pop", "sad", "House", "happy",
)  # fmt: skip
_MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo",
    "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


@dataclass(frozen=True)
class PretrainedModel:
    """One pretrained model: weights, architecture, front end, labels, licence and provenance.

    Attributes
    ----------
    name
        Registry name, e.g. ``"MSD_musicnn"``.
    weights
        File name of the safetensors weights in ``musicgenre/models/weights``.
    sha256
        Hex digest the weight file must have.
    config
        Architecture settings (:class:`~musicgenre.models.musicnn.MusicnnConfig`).
    labels
        Tag names, in logit order.
    trained_on
        The training data, in words.
    licence
        Licence of the weights.
    source
        Where the weights came from (package, version, checkpoint).
    sample_rate, n_fft, hop_length, n_mels, patch_frames
        Front-end settings the weights were trained with (mono audio at *sample_rate*).
    """

    name: str
    weights: str
    sha256: str
    config: MusicnnConfig
    labels: tuple[str, ...]
    trained_on: str
    licence: str = _MUSICNN_LICENCE
    source: str = ""
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    patch_frames: int = MUSICNN_PATCH_FRAMES
    extra: Mapping[str, str] = field(default_factory=dict)

    def make_front_end(self) -> MusicnnFrontEnd:
        """The front end these weights expect: waveform at ``sample_rate`` -> ``(..., frames, n_mels)``.

        Its windows are ``patch_frames`` frames (a :class:`~musicgenre.audio.windowing.FrontEnd`).

        >>> pretrained_info("MSD_musicnn").make_front_end().window_frames
        187
        """
        return MusicnnFrontEnd(
            self.sample_rate, self.n_fft, self.hop_length, self.n_mels, window_frames=self.patch_frames
        )

    def make_frontend(self) -> MusicnnFrontEnd:
        """Deprecated spelling of :meth:`make_front_end`."""
        warnings.warn(
            "PretrainedModel.make_frontend is deprecated: use make_front_end; the old name will be removed in the "
            "next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.make_front_end()

    @property
    def patch_seconds(self) -> float:
        """Seconds of audio per patch (about 3)."""
        return (self.patch_frames - 1) * self.hop_length / self.sample_rate


PRETRAINED: Mapping[str, PretrainedModel] = MappingProxyType(
    {
        "MSD_musicnn": PretrainedModel(
            name="MSD_musicnn",
            weights="MSD_musicnn.safetensors",
            sha256="e30e34ea517d8d3d77226e30ec49f2990daa925e15e7318cbc2a44d3a80effd8",
            config=MusicnnConfig(n_classes=50),
            labels=_MSD_TAGS,
            trained_on="Million Song Dataset previews with the 50 most frequent last.fm tags",
            source="musicnn==0.1.0 (PyPI wheel), checkpoint musicnn/MSD_musicnn",
        ),
        "MTT_musicnn": PretrainedModel(
            name="MTT_musicnn",
            weights="MTT_musicnn.safetensors",
            sha256="c165877d1a99ca4f1a814449fc97f235a0195d48fe8d4c770705786f405909b8",
            config=MusicnnConfig(n_classes=50),
            labels=_MTT_TAGS,
            trained_on="MagnaTagATune with its 50 most frequent tags",
            source="musicnn==0.1.0 (PyPI wheel), checkpoint musicnn/MTT_musicnn",
        ),
    }
)
"""The pretrained models, by name."""


def list_pretrained() -> list[str]:
    """Names accepted by :func:`load_pretrained`."""
    return sorted(PRETRAINED)


def pretrained_info(name: str) -> PretrainedModel:
    """The registry entry of *name*; an unknown name raises :class:`~musicgenre.errors.ConfigurationError`."""
    try:
        return PRETRAINED[name]
    except KeyError:
        raise ConfigurationError(f"unknown pretrained model {name!r}; known: {', '.join(list_pretrained())}") from None


def weights_path(name: str) -> Path:
    """Where the packaged weight file of *name* is (it may be missing from a broken install)."""
    entry = pretrained_info(name)
    return Path(str(importlib.resources.files("musicgenre.models") / "weights" / entry.weights))


@overload
def load_pretrained(
    name: str, *, weights: str | os.PathLike[str] | None = None, verify: bool = True
) -> Musicnn: ...  # pragma: no cover


@overload
def load_pretrained(
    name: str, *, model_cls: type[MusicnnT], weights: str | os.PathLike[str] | None = None, verify: bool = True
) -> MusicnnT: ...  # pragma: no cover


def load_pretrained(
    name: str,
    *,
    model_cls: type[Musicnn] = Musicnn,
    weights: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> Musicnn:
    """Build the pretrained model *name* with its packaged weights, in eval mode.

    Parameters
    ----------
    name
        One of :func:`list_pretrained` (``"MSD_musicnn"``, ``"MTT_musicnn"``).
    model_cls
        :class:`~musicgenre.models.musicnn.Musicnn` or a subclass to instantiate.
    weights
        A safetensors file to read instead of the packaged one (for tests and mirrors).
    verify
        Check the file's sha256 against the registry entry (leave on).

    Returns
    -------
    Musicnn
        An ordinary module (eval mode, float32, CPU): freeze, fine-tune or export it as any other.

    Raises
    ------
    ConfigurationError
        *name* is not a known pretrained model (the message lists the known ones).
    CheckpointError
        The weight file is missing, unreadable, altered (sha256 mismatch), not
        safetensors, or holds tensors that do not fit the architecture.

    Examples
    --------
    >>> model = load_pretrained("MSD_musicnn")
    >>> model.num_classes, model.num_features, model.num_pooled_features
    (50, 200, 1506)
    """
    entry = pretrained_info(name)
    path = Path(weights) if weights is not None else weights_path(name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"weight file of pretrained model {name!r} is missing; reinstall musicgenre", path=path
        ) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read the weight file of {name!r}: {exc}", path=path) from None
    if verify:
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise CheckpointError(
                f"weight file of {name!r} was altered or damaged (sha256 {digest[:12]}..., expected "
                f"{entry.sha256[:12]}...); reinstall musicgenre",
                path=path,
            )
    try:
        state = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"not a readable safetensors file: {exc}", path=path) from None
    model = model_cls(entry.config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"weights do not fit {model_cls.__name__}({name}): {' '.join(s.strip() for s in first[1:4])}", path=path
        ) from None
    if any(t.dtype != torch.float32 for t in state.values()):
        raise CheckpointError("weights are not float32", path=path)
    return model.eval()
