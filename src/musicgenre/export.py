"""Export a trained model for deployment without musicgenre: TorchScript and ONNX.

Both exports take the model's input windows, ``(batch, channels, n_mels, n_frames)``
float32, and return logits, ``(batch, n_classes)``; the batch dimension is dynamic (and,
for models that pool over time, such as those built with ``global_pool=True``, so is the
number of frames). Apply a softmax for probabilities. The exported model is
:func:`~musicgenre.models.fast.optimize_for_inference`'s copy: batch-norm after a
convolution is folded into it (same outputs up to float rounding, one layer fewer to run).

What the input is comes from the model (:meth:`GenreModel.input_spec
<musicgenre.models.protocol.GenreModel.input_spec>`): dB log-mel spectrograms of the
checkpoint's :class:`~musicgenre.audio.FeatureConfig` (input ``log_mel``) for a
:class:`~musicgenre.models.GenreCNN`, musicnn's ``log10(10000 mel + 1)`` frames at
16 kHz (input ``musicnn_frames``) for the ``pretrained`` recipe's
:class:`~musicgenre.models.MusicnnClassifier`, RGB pictures (input ``image``) for
:class:`~musicgenre.models.SpectrogramImageCNN`. The files carry a ``musicgenre``
metadata entry (JSON: class names, model config, library version, and ``input``: its
name, shape and ``front_end``, the settings and formula that compute it from audio) so
a deployment can rebuild the input; ``features`` holds the
:class:`~musicgenre.audio.FeatureConfig` only where the input is computed with one
(``null`` for musicnn's frames and pictures). In TorchScript the entry is the extra file
``musicgenre.json``, in ONNX the model's ``musicgenre`` metadata property.

ONNX export needs the ``onnx`` extra: ``pip install 'musicgenre[onnx]'``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from musicgenre._files import atomic_write
from musicgenre._version import __version__
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.models.fast import optimize_for_inference
from musicgenre.models.protocol import GenreModel, InputSpec

__all__ = ["METADATA_KEY", "export_onnx", "export_torchscript"]

#: Name of the metadata entry (TorchScript extra file ``musicgenre.json``; ONNX metadata property).
METADATA_KEY = "musicgenre"
# Documented as torch.jit.TracerWarning, but torch's stubs do not re-export it.
_TRACER_WARNING: type[Warning] = torch.jit.TracerWarning  # type: ignore[attr-defined]
OUTPUT_NAME = "logits"
_DEPRECATED = {"INPUT_NAME": "model.input_spec().name", "Exportable": "musicgenre.models.GenreModel"}


def __getattr__(name: str) -> Any:
    """The names export had before its input came from the model: deprecated, with a warning."""
    if name in _DEPRECATED:
        warnings.warn(
            f"musicgenre.export.{name} is deprecated; use {_DEPRECATED[name]} (the input depends on the model)",
            DeprecationWarning,
            stacklevel=2,
        )
        return "log_mel" if name == "INPUT_NAME" else GenreModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _prepare(model: GenreModel, features: FeatureConfig | None, *, channels_last: bool) -> tuple[GenreModel, InputSpec]:
    """An optimised CPU copy in eval mode (the caller's model is left as it is) and what it reads."""
    if not isinstance(model, GenreModel):
        raise ConfigurationError(
            f"export takes a genre model (a musicgenre.models.GenreModel subclass), not {type(model).__name__}"
        )
    frozen = optimize_for_inference(model, channels_last=channels_last, pooling=False, fuse_relu=False).cpu()
    return frozen, frozen.input_spec(features)


def _metadata(model: GenreModel, spec: InputSpec, classes: Sequence[str] | None) -> str:
    if classes is not None and len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    data: dict[str, Any] = {
        "library_version": __version__,
        "model_class": type(model).__name__,
        "model_config": model.get_config(),
        "classes": list(classes) if classes is not None else None,
        "features": spec.features.to_dict() if spec.features is not None else None,
        "input": spec.to_dict(),
        "output": {"name": OUTPUT_NAME, "shape": ["batch", model.num_classes]},
    }
    return json.dumps(data)


def export_torchscript(
    model: GenreModel,
    path: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    features: FeatureConfig | None = None,
) -> Path:
    """Trace *model* (in eval mode) to a TorchScript file that ``torch.jit.load`` runs.

    Parameters
    ----------
    model
        The model; it is copied, so its mode and device stay as they are.
    path
        Destination, conventionally ``.pt``; written atomically (a hidden temporary file
        beside it, then renamed), with the permissions the umask gives new files.
    classes, features
        Stored in the file's ``musicgenre.json`` metadata (recommended); *features* (the
        checkpoint's) describes the input where the model's front end uses it.

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    ConfigurationError
        If *model* is not a :class:`~musicgenre.models.protocol.GenreModel`, *classes*
        does not fit it, or *path* cannot be written (a parent that is a file, a
        read-only folder); the message names the path.

    Notes
    -----
    PyTorch deprecates TorchScript in favour of ``torch.export``; recent versions warn
    (``FutureWarning``) when tracing and saving. ONNX is the longer-lived format.
    """
    frozen, spec = _prepare(model, features, channels_last=True)
    metadata = _metadata(frozen, spec, classes)
    with warnings.catch_warnings():
        # The model's input-shape check is plain Python; tracing keeps it out of the graph
        # on purpose (the exported model accepts any batch size), so its warnings are noise.
        warnings.filterwarnings("ignore", category=_TRACER_WARNING, module=r"musicgenre\.models")
        traced = torch.jit.trace(frozen, spec.example())  # type: ignore[no-untyped-call]
    target = Path(path)
    with atomic_write(target, error=ConfigurationError, what="export") as fh:
        torch.jit.save(traced, fh, _extra_files={f"{METADATA_KEY}.json": metadata})
    return target


def export_onnx(
    model: GenreModel,
    path: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    features: FeatureConfig | None = None,
    opset_version: int = 17,
) -> Path:
    """Export *model* (in eval mode) to an ONNX file, e.g. for onnxruntime.

    Parameters
    ----------
    model
        The model; it is copied, so its mode and device stay as they are.
    path
        Destination, conventionally ``.onnx``; written atomically (a hidden temporary file
        beside it, then renamed), with the permissions the umask gives new files.
    classes, features
        Stored in the model's ``musicgenre`` metadata property (recommended); *features*
        (the checkpoint's) describes the input where the model's front end uses it.
    opset_version
        ONNX operator set.

    Returns
    -------
    pathlib.Path
        *path*.

    Raises
    ------
    MissingDependencyError
        If the ``onnx`` package is not installed; install it with ``pip install 'musicgenre[onnx]'``.
    ConfigurationError
        If *model* is not a :class:`~musicgenre.models.protocol.GenreModel`, *classes*
        does not fit it, or *path* cannot be written; the message names the path.
    """
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "exporting to ONNX needs the onnx package; install it with: pip install 'musicgenre[onnx]'"
        ) from None
    # ONNX has one layout (NCHW); the runtime chooses its own, so the weights stay as they are.
    frozen, spec = _prepare(model, features, channels_last=False)
    metadata = _metadata(frozen, spec, classes)
    axes = {0: "batch", 3: "frames"} if spec.any_frames else {0: "batch"}
    with tempfile.TemporaryDirectory(prefix="musicgenre-onnx-") as work, warnings.catch_warnings():
        graph = Path(work) / "model.onnx"  # written here first: the metadata is added before the real write
        warnings.filterwarnings("ignore", category=_TRACER_WARNING, module=r"musicgenre\.models")
        # A strided slice (musicnn's) that the exporter keeps as it is instead of folding: noise.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
        # The TorchScript-based exporter: the newer dynamo one needs onnxscript, which the
        # onnx extra does not bring.
        torch.onnx.export(
            frozen,
            (spec.example(),),
            str(graph),
            input_names=[spec.name],
            output_names=[OUTPUT_NAME],
            dynamic_axes={spec.name: axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset_version,
            dynamo=False,
        )
        proto = onnx.load(str(graph))
    onnx.helper.set_model_props(proto, {METADATA_KEY: metadata})
    target = Path(path)
    with atomic_write(target, error=ConfigurationError, what="export") as fh:
        fh.write(proto.SerializeToString())
    return target
