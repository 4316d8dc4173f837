"""Export a trained model for deployment without musicgenre: TorchScript and ONNX.

Both exports take log-mel spectrograms, ``(batch, 1, n_mels, n_frames)`` float32, and
return logits, ``(batch, n_classes)``; the batch dimension is dynamic (and, for models
built with ``global_pool=True``, so is the number of frames). Apply a softmax for
probabilities. The exported model is :func:`~musicgenre.models.fast.optimize_for_inference`'s
copy: batch-norm after a convolution is folded into it (same outputs up to float
rounding, one layer fewer to run). The files carry a ``musicgenre`` metadata entry (JSON: class names,
feature settings, model config, library version) so a deployment can rebuild the
features: in TorchScript as the extra file ``musicgenre.json``, in ONNX as the model's
``musicgenre`` metadata property.

ONNX export needs the ``onnx`` extra: ``pip install 'musicgenre[onnx]'``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from musicgenre._version import __version__
from musicgenre.audio.transforms import FeatureConfig
from musicgenre.errors import ConfigurationError, MissingDependencyError
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.fast import optimize_for_inference
from musicgenre.models.transfer import MusicnnClassifier

__all__ = ["METADATA_KEY", "export_onnx", "export_torchscript"]

#: Name of the metadata entry (TorchScript extra file ``musicgenre.json``; ONNX metadata property).
METADATA_KEY = "musicgenre"
INPUT_NAME = "log_mel"
# Documented as torch.jit.TracerWarning, but torch's stubs do not re-export it.
_TRACER_WARNING: type[Warning] = torch.jit.TracerWarning  # type: ignore[attr-defined]
OUTPUT_NAME = "logits"
#: What export takes: a GenreCNN, or a pretrained backbone with its head (the ``pretrained`` recipe's model).
Exportable = GenreCNN | MusicnnClassifier


def _prepare(model: Exportable, *, channels_last: bool) -> tuple[Exportable, torch.Tensor]:
    """An optimised CPU copy in eval mode (the caller's model is left as it is) and an example input."""
    if not isinstance(model, GenreCNN | MusicnnClassifier):
        raise ConfigurationError(f"export takes a GenreCNN or a MusicnnClassifier, not {type(model).__name__}")
    frozen = optimize_for_inference(model, channels_last=channels_last, pooling=False, fuse_relu=False).cpu()
    cfg = frozen.config
    return frozen, torch.zeros(2, 1, cfg.n_mels, cfg.n_frames)


def _metadata(model: Exportable, classes: Sequence[str] | None, features: FeatureConfig | None) -> str:
    if classes is not None and len(classes) != model.num_classes:
        raise ConfigurationError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    data: dict[str, Any] = {
        "library_version": __version__,
        "model_class": type(model).__name__,
        "model_config": model.get_config(),
        "classes": list(classes) if classes is not None else None,
        "features": features.to_dict() if features is not None else None,
        "input": {"name": INPUT_NAME, "shape": ["batch", 1, model.config.n_mels, model.config.n_frames]},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", model.num_classes]},
    }
    return json.dumps(data)


def export_torchscript(
    model: Exportable,
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
        Destination, conventionally ``.pt``.
    classes, features
        Stored in the file's ``musicgenre.json`` metadata (recommended).

    Returns
    -------
    pathlib.Path
        *path*.

    Notes
    -----
    PyTorch deprecates TorchScript in favour of ``torch.export``; recent versions warn
    (``FutureWarning``) when tracing and saving. ONNX is the longer-lived format.
    """
    frozen, example = _prepare(model, channels_last=True)
    metadata = _metadata(frozen, classes, features)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The model's input-shape check is plain Python; tracing keeps it out of the graph
        # on purpose (the exported model accepts any batch size), so its warnings are noise.
        warnings.filterwarnings("ignore", category=_TRACER_WARNING, module=r"musicgenre\.models")
        traced = torch.jit.trace(frozen, example)  # type: ignore[no-untyped-call]
    torch.jit.save(traced, str(target), _extra_files={f"{METADATA_KEY}.json": metadata})
    return target


def export_onnx(
    model: Exportable,
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
        Destination, conventionally ``.onnx``.
    classes, features
        Stored in the model's ``musicgenre`` metadata property (recommended).
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
    """
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "exporting to ONNX needs the onnx package; install it with: pip install 'musicgenre[onnx]'"
        ) from None
    # ONNX has one layout (NCHW); the runtime chooses its own, so the weights stay as they are.
    frozen, example = _prepare(model, channels_last=False)
    metadata = _metadata(frozen, classes, features)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    axes = {0: "batch", 3: "frames"} if frozen.config.global_pool else {0: "batch"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=_TRACER_WARNING, module=r"musicgenre\.models")
        # The TorchScript-based exporter: the newer dynamo one needs onnxscript, which the
        # onnx extra does not bring.
        torch.onnx.export(
            frozen,
            (example,),
            str(target),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset_version,
            dynamo=False,
        )
    proto = onnx.load(str(target))
    onnx.helper.set_model_props(proto, {METADATA_KEY: metadata})
    onnx.save(proto, str(target))
    return target
