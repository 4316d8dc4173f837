"""Checkpoints: the weights plus everything needed to use them, loaded without unpickling code.

It sits in the models layer below the model classes: it rebuilds a model by the class name
the file records, through :mod:`musicgenre.models.registry`, so it imports no model class
and the classes can offer ``from_checkpoint`` without an import cycle.

A checkpoint is a ``torch.save`` file holding only plain containers, strings, numbers and
tensors, so :func:`load_checkpoint` reads it with ``torch.load(weights_only=True)``: a
tampered file cannot run code. It records the model class and config, the class labels in
order, the feature settings, the library version and any metrics; a training run adds the
windows its recipe is evaluated with (:attr:`Checkpoint.windowing`) and the tracks of each
part of its split (:attr:`Checkpoint.parts`: ids, content hashes and labels), so evaluation
and prediction later use exactly those.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicgenre._files import atomic_write
from musicgenre._version import __version__
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.audio.windowing import Windowing
from musicgenre.errors import CheckpointError, ConfigurationError
from musicgenre.models.protocol import GenreModel
from musicgenre.models.registry import get_model_class

__all__ = ["Checkpoint", "PartRecord", "load_checkpoint", "save_checkpoint"]

FORMAT = "musicgenre.checkpoint"
FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    """Convert numpy values and paths to what ``torch.load(weights_only=True)`` accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


@dataclass(frozen=True)
class PartRecord:
    """The tracks of one part of a split (train, validation or test), as a checkpoint stores them.

    Attributes
    ----------
    ids
        Track ids (:attr:`FeatureSet.track_ids <musicgenre.data.cache.FeatureSet.track_ids>`).
    hashes
        Each file's content hash (:func:`musicgenre.data.cache.content_hash`).
    labels
        Each track's class name.
    """

    ids: tuple[str, ...]
    hashes: tuple[str, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not len(self.ids) == len(self.hashes) == len(self.labels):
            raise ConfigurationError(
                f"a part needs one hash and label per id; got {len(self.ids)} ids, "
                f"{len(self.hashes)} hashes, {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict[str, list[str]]:
        """Plain lists (what the checkpoint holds)."""
        return {"ids": list(self.ids), "hashes": list(self.hashes), "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartRecord:
        """Rebuild from :meth:`to_dict`'s output."""
        try:
            return cls(
                tuple(str(x) for x in data["ids"]),
                tuple(str(x) for x in data["hashes"]),
                tuple(str(x) for x in data["labels"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(f"a stored part needs ids, hashes and labels ({exc})") from None


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes
    ----------
    model
        The rebuilt model with its weights, in eval mode.
    classes
        Label names, in the order of the model's outputs.
    features
        Feature settings the model was trained with.
    metrics
        Training/evaluation metrics recorded at save time (may be empty).
    extra
        Anything else stored at save time (plain values and tensors only).
    version
        musicgenre version that wrote the file.
    """

    model: GenreModel
    classes: list[str]
    features: FeatureConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    version: str = __version__

    @property
    def windowing(self) -> Windowing:
        """The windows the model's recipe is evaluated with, as stored in :attr:`extra`.

        ``extra["windowing"]`` (written by :func:`~musicgenre.experiment.run_experiment`);
        else, for older files, ``extra["eval_hop"]`` (``None``: the first window; a
        fraction: all windows every ``round(eval_hop * n_frames)`` frames); else all
        windows, back to back.

        Raises
        ------
        ConfigurationError
            If the stored value is not a valid windowing.
        """
        stored = self.extra.get("windowing")
        if isinstance(stored, Mapping):
            return Windowing.from_dict(dict(stored))
        if "eval_hop" in self.extra:
            hop = self.extra["eval_hop"]
            if hop is None:
                return Windowing("first")
            if isinstance(hop, int | float) and 0 < hop <= 1:
                return Windowing("all", max(1, round(self.features.n_frames * float(hop))))
            raise ConfigurationError(f"eval_hop must be None or in (0, 1], got {hop!r}")
        return Windowing()

    @property
    def parts(self) -> dict[str, PartRecord] | None:
        """The tracks of each part of the training run's split (``"train"``, ``"validation"``, ``"test"``).

        ``None`` for a checkpoint that stores none (written by :func:`save_checkpoint`
        without *parts*, or by musicgenre 0.1.0).
        """
        stored = self.extra.get("parts")
        if not isinstance(stored, Mapping):
            return None
        return {str(name): PartRecord.from_dict(part) for name, part in stored.items()}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: GenreModel,
    *,
    classes: Sequence[str],
    features: FeatureConfig | None = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    windowing: Windowing | None = None,
    parts: Mapping[str, PartRecord] | None = None,
) -> Path:
    """Write *model* and its context to *path* atomically (temp file, then rename).

    The file gets the permissions the umask gives any new file, as the other outputs do.

    Parameters
    ----------
    path
        Destination file (conventionally ``.ckpt``).
    model
        A registered :class:`~musicgenre.models.protocol.GenreModel`: a
        :class:`~musicgenre.models.GenreCNN`, a
        :class:`~musicgenre.models.MusicnnClassifier`, or your own subclass
        registered with :func:`~musicgenre.models.register_model`.
    classes
        Label names in output order; their count must equal ``model.num_classes``.
    features
        Feature settings of the training data (default: the reference's).
    metrics
        JSON-like metrics to keep with the weights.
    extra
        Other plain values or tensors (e.g. trainer state for resuming).
    windowing
        The windows the model is evaluated with (read back as :attr:`Checkpoint.windowing`).
    parts
        The tracks of each part of the split (read back as :attr:`Checkpoint.parts`).

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    ConfigurationError
        If *model* is not a registered :class:`~musicgenre.models.protocol.GenreModel`
        (:func:`load_checkpoint` could not rebuild it), or the class count is wrong.
    CheckpointError
        If *path* cannot be written (a parent that is a file, a read-only folder).
    """
    _check_registered(model)
    if len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_class": type(model).__name__,
        "model_config": model.get_config(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "classes": list(classes),
        "features": (features or FeatureConfig()).to_dict(),
        "metrics": _plain(dict(metrics or {})),
        "extra": _plain(
            {
                **dict(extra or {}),
                **({"windowing": windowing.to_dict()} if windowing is not None else {}),
                **({"parts": {name: part.to_dict() for name, part in parts.items()}} if parts is not None else {}),
            }
        ),
    }
    target = Path(path)
    with atomic_write(target, error=CheckpointError, what="checkpoint") as fh:
        torch.save(payload, fh)
    return target


def _check_registered(model: object) -> None:
    """Refuse what :func:`load_checkpoint` could not rebuild: a non-GenreModel, or an unregistered class."""
    if not isinstance(model, GenreModel):
        raise ConfigurationError(
            f"checkpoints hold genre models (musicgenre.models.GenreModel subclasses), not {type(model).__name__}"
        )
    name = type(model).__name__
    try:
        registered = get_model_class(name)
    except ConfigurationError:
        registered = None
    if registered is not type(model):
        problem = "is not registered" if registered is None else f"is not the registered {name} class"
        raise ConfigurationError(
            f"model class {type(model).__module__}.{name} {problem}, so load_checkpoint could not rebuild it; "
            "register it with musicgenre.models.register_model"
        )


def _release(version: str) -> tuple[int, ...] | None:
    """The release numbers of a version string (``"0.3.0rc1"`` -> ``(0, 3, 0)``); ``None`` if it has none."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def _newer(version: object) -> bool:
    """Whether *version* (a checkpoint's ``library_version``) is newer than this musicgenre."""
    theirs, ours = _release(str(version)), _release(__version__)
    return theirs is not None and ours is not None and theirs > ours


def _upgrade(payload: Mapping[str, Any], problem: str) -> str:
    return (
        f"written by musicgenre {payload.get('library_version', 'unknown')}, newer than this "
        f"musicgenre {__version__} ({problem}); upgrade musicgenre to load it"
    )


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError("checkpoint not found (or not a file)", path=path)
    if not zipfile.is_zipfile(path):  # save_checkpoint always writes torch's zip format
        raise CheckpointError("not a musicgenre checkpoint (not a torch zip archive); truncated or corrupt?", path=path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refused to load: it holds objects other than plain values and tensors ({exc}); "
            "only load checkpoints you trust, and re-save them with musicgenre",
            path=path,
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"not a readable checkpoint; truncated or corrupt? ({exc})", path=path) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            "not a musicgenre checkpoint (no musicgenre header); was it saved with save_checkpoint?", path=path
        )
    stored = payload.get("format_version")
    if stored != FORMAT_VERSION:
        problem = f"checkpoint format {stored!r}, this one reads format {FORMAT_VERSION}"
        if (isinstance(stored, int) and stored > FORMAT_VERSION) or _newer(payload.get("library_version")):
            raise CheckpointError(_upgrade(payload, problem), path=path)
        raise CheckpointError(f"{problem}; not supported by musicgenre {__version__}", path=path)
    for key, kind in (("metrics", Mapping), ("extra", Mapping), ("classes", list | tuple)):
        if key in payload and not isinstance(payload[key], kind):
            raise CheckpointError(
                f"its {key!r} entry is a {type(payload[key]).__name__}, not a "
                f"{'dict' if kind is Mapping else 'list'}; tampered or corrupt?",
                path=path,
            )
    return payload


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` and rebuild its model.

    Parameters
    ----------
    path
        The checkpoint file.
    map_location
        Device for the model's weights.

    Returns
    -------
    Checkpoint
        The model (eval mode) with its labels, feature settings and metrics.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, corrupt, holds objects other than plain values
        (tampered, or an entry of the wrong kind), is not a musicgenre checkpoint, names a
        model class that is not registered, was written by a newer musicgenre that this one
        cannot read (the message names both versions), or its config does not match its
        weights. The message names the file.
    """
    p = Path(path)
    payload = _read(p)
    name = payload.get("model_class")
    try:
        cls = get_model_class(str(name))
    except ConfigurationError:
        problem = f"unknown model class {name!r}"
        if _newer(payload.get("library_version")):
            raise CheckpointError(_upgrade(payload, problem), path=p) from None
        raise CheckpointError(
            f"{problem}; register it (a GenreModel subclass) with musicgenre.models.register_model", path=p
        ) from None
    try:
        features = FeatureConfig.from_dict(payload["features"])
        model = cls.from_config(payload["model_config"])
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigurationError, RuntimeError) as exc:
        if _newer(payload.get("library_version")):
            raise CheckpointError(_upgrade(payload, str(exc)), path=p) from None
        raise CheckpointError(f"config does not match the stored weights ({exc})", path=p) from None
    classes = [str(c) for c in payload.get("classes", [])]
    if len(classes) != model.num_classes:
        raise CheckpointError(f"{len(classes)} class names for a model with {model.num_classes} outputs", path=p)
    model.to(map_location).eval()
    return Checkpoint(
        model=model,
        classes=classes,
        features=features,
        metrics=dict(payload.get("metrics", {})),
        extra=dict(payload.get("extra", {})),
        version=str(payload.get("library_version", "unknown")),
    )
