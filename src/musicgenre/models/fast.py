"""A faster copy of a model for prediction: batch-norm folded into convolutions, channels-last.

:func:`optimize_for_inference` is the one place where prediction and export make a model
fast; :class:`~musicgenre.predict.GenreClassifier` and :mod:`musicgenre.export` call it.
What it does (the Performance page gives what each step saves):

- **Batch-norm folding.** In eval mode a ``BatchNorm`` after a convolution is a fixed
  per-channel scale and shift, so it can be folded into the convolution's weights and bias
  (``torch.nn.utils.fusion.fuse_conv_bn_eval``): one pass over the feature map instead
  of two, exact up to float rounding. Only a convolution *immediately* followed by a
  batch-norm inside a plain ``nn.Sequential`` is folded, because only there is
  it certain that the convolution's output goes nowhere else. A batch-norm *before* a
  convolution (``GenreCNNConfig.input_norm``) is left alone: folding it into the next
  convolution would be wrong at the borders, where the convolution pads with zeros after
  the normalisation.
- **Channels-last.** 4-d weights are stored ``(out, kh, kw, in)`` in memory
  (``torch.channels_last``), so convolution, max-pooling and what is left of batch-norm
  run on contiguous channel vectors (oneDNN's preferred layout on CPU). Outputs are the
  same values; a one-channel input needs no conversion. By default only where a 2-d
  convolution reads the many channels of another's output
  (:func:`prefers_channels_last`): a model whose 2-d convolutions all read one channel
  (musicnn's front end, whose outputs are reduced and reshaped at once) runs slower
  channels-last, as every later operation converts the layout back.
- **Max-pooling as two maximums.** A 2x2 max-pool with stride 2 (``nn.MaxPool2d(2)``) is
  replaced by :class:`MaxPool2x2`: the maximum of the even and odd rows, then of the even
  and odd columns, over strided views. The same values, bit for bit; PyTorch's CPU
  max-pooling kernel also computes the indices it does not return.
- **Convolution and ReLU in one pass.** A ``Conv2d`` followed by a ``ReLU`` (with only
  identities between, as batch-norm folding leaves them) becomes a :class:`Conv2dReLU`:
  on the CPU oneDNN applies the ReLU as it writes the convolution's output, instead of a
  second pass over the feature map (``torch.ops.mkldnn._convolution_pointwise``, the
  kernel ``torch.compile`` uses for this pattern on CPU). The same values up to float
  rounding (bit for bit on the improved model's channels-last layers). Only on x86-64
  (where it was measured) and only while oneDNN is enabled (``torch.backends.mkldnn.enabled``,
  read at each call, so ``torch.backends.mkldnn.enabled = False`` turns it off);
  elsewhere (another architecture, oneDNN disabled, a GPU, autograd, a torch without the
  kernel) it runs the convolution and then the ReLU (:func:`fused_conv_relu_active`
  says which).
- **No autograd.** The copy's parameters do not require gradients; call it under
  ``torch.inference_mode`` as well.
"""

from __future__ import annotations

import copy
import platform
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from musicgenre.errors import ConfigurationError

__all__ = [
    "Conv2dReLU",
    "MaxPool2x2",
    "fold_batch_norm",
    "fuse_conv_relu",
    "fused_conv_relu_active",
    "is_max_pool_2x2",
    "optimize_for_inference",
    "prefers_channels_last",
    "replace_max_pooling",
]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

_PAIRS: tuple[tuple[type[nn.Module], type[nn.Module]], ...] = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
)


_Conv = nn.Conv1d | nn.Conv2d | nn.Conv3d
_Norm = nn.BatchNorm1d | nn.BatchNorm2d | nn.BatchNorm3d


def _foldable(conv: _Conv, norm: _Norm) -> bool:
    return (
        any(type(conv) is c and type(norm) is n for c, n in _PAIRS)  # exact types: Conv2d with BatchNorm2d...
        and norm.track_running_stats
        and norm.running_mean is not None
        and norm.running_var is not None
        and conv.out_channels == norm.num_features
    )


def fold_batch_norm(model: nn.Module) -> int:
    """Fold every batch-norm that directly follows a convolution into it, in place.

    *model* must be in eval mode (a batch-norm in training mode normalises with the
    batch's statistics, which no weights can hold). In every plain
    ``nn.Sequential`` inside *model*, a ``ConvNd`` immediately followed by a
    ``BatchNormNd`` with running statistics becomes one convolution with folded weights,
    and the batch-norm becomes ``nn.Identity`` (so indices and state-dict
    prefixes keep their positions).

    Parameters
    ----------
    model
        The model, in eval mode; changed in place.

    Returns
    -------
    int
        How many batch-norms were folded.

    Raises
    ------
    ConfigurationError
        If *model* is in training mode.
    """
    if model.training:
        raise ConfigurationError("fold_batch_norm needs a model in eval mode: call model.eval() first")
    folded = 0
    for module in model.modules():
        if type(module) is not nn.Sequential:
            continue
        for i in range(len(module) - 1):
            conv, norm = module[i], module[i + 1]
            if isinstance(conv, _Conv) and isinstance(norm, _Norm) and _foldable(conv, norm):
                module[i] = fuse_conv_bn_eval(conv, norm)
                module[i + 1] = nn.Identity()
                folded += 1
    return folded


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)`` as two maximums of strided views: the same values, without indices.

    A trailing odd row or column is dropped, as ``MaxPool2d(2)`` drops it. NaN propagates.

    Examples
    --------
    >>> x = torch.randn(2, 3, 9, 10)
    >>> torch.equal(MaxPool2x2()(x), nn.MaxPool2d(2)(x))
    True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., H, W)`` -> ``(..., H // 2, W // 2)``."""
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        rows = torch.maximum(x[..., 0:h:2, :w], x[..., 1:h:2, :w])
        return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def is_max_pool_2x2(module: nn.Module) -> bool:
    """Whether *module* is exactly ``nn.MaxPool2d(2)``: kernel and stride 2, no padding, dilation or indices."""
    return (
        type(module) is nn.MaxPool2d
        and module.kernel_size in (2, (2, 2))
        and module.stride in (2, (2, 2))
        and module.padding in (0, (0, 0))
        and module.dilation in (1, (1, 1))
        and not module.ceil_mode
        and not module.return_indices
    )


def replace_max_pooling(model: nn.Module) -> int:
    """Replace every ``nn.MaxPool2d(2)`` (stride 2, no padding) in *model* by :class:`MaxPool2x2`, in place.

    Returns
    -------
    int
        How many were replaced.
    """
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if is_max_pool_2x2(child):
                setattr(module, name, MaxPool2x2())
                replaced += 1
    return replaced


def _conv_pointwise() -> Any:
    """The fused convolution + activation of oneDNN, if this torch build has it with the arguments used here."""
    op = getattr(getattr(torch.ops, "mkldnn", None), "_convolution_pointwise", None)
    try:
        names = [argument.name for argument in op.default._schema.arguments]  # type: ignore[union-attr]
    except (AttributeError, RuntimeError):
        return None
    expected = ["X", "W", "B", "padding", "stride", "dilation", "groups", "attr", "scalars", "algorithm"]
    return op if names == expected else None


#: The fused kernel (PyTorch's own operator, private, whose signature is checked above), or ``None``.
_CONV_POINTWISE = _conv_pointwise()
#: ``platform.machine()`` of the architectures the fusion was measured on (x86-64).
_X86_64 = frozenset({"x86_64", "amd64", "x64"})


def fused_conv_relu_active() -> bool:
    """Whether :class:`Conv2dReLU` runs oneDNN's fused kernel now (for CPU float32 input without autograd).

    True on x86-64 (``platform.machine()``), with a torch whose oneDNN has the fused
    convolution, while oneDNN is available and enabled (``torch.backends.mkldnn.enabled``):
    read at each call, so disabling oneDNN turns the fusion off at once.

    Examples
    --------
    >>> torch.backends.mkldnn.enabled = False
    >>> fused_conv_relu_active()
    False
    >>> torch.backends.mkldnn.enabled = True
    """
    return (
        _CONV_POINTWISE is not None
        and platform.machine().lower() in _X86_64
        and bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
        and bool(torch.backends.mkldnn.enabled)
    )


class Conv2dReLU(nn.Conv2d):
    """``ReLU(Conv2d(x))`` in one pass over the output where oneDNN can fuse them, else in two.

    A :class:`torch.nn.Conv2d` (same parameters, same state-dict keys) whose forward
    applies a ReLU. On the CPU, for float32 input without autograd, where
    :func:`fused_conv_relu_active` (x86-64, oneDNN enabled), oneDNN applies the ReLU
    while it writes the convolution's output; otherwise the convolution runs and then
    ``torch.relu``. Both give the same values up to float rounding: bit for bit
    where PyTorch's own convolution runs oneDNN too (channels-last, or large enough maps;
    tested on the models' layers), else within a few float32 steps. Build one with
    :meth:`from_conv` or :func:`fuse_conv_relu`.

    Examples
    --------
    >>> conv = nn.Conv2d(2, 4, 3, padding=1)
    >>> fused = Conv2dReLU.from_conv(conv)
    >>> x = torch.randn(1, 2, 8, 8)
    >>> with torch.inference_mode():
    ...     torch.allclose(fused(x), torch.relu(conv(x)), atol=1e-6)
    True
    """

    @staticmethod
    def accepts(conv: nn.Conv2d) -> bool:
        """Whether *conv* pads with zeros by a number of samples, as :meth:`from_conv` needs."""
        return conv.padding_mode == "zeros" and not isinstance(conv.padding, str)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> Conv2dReLU:
        """A :class:`Conv2dReLU` sharing *conv*'s weight and bias (zero padding only)."""
        if not cls.accepts(conv):
            raise ConfigurationError(
                f"Conv2dReLU needs numeric zero padding, got padding={conv.padding!r}, mode {conv.padding_mode!r}"
            )
        fused = cls(  # built on the meta device: no memory, no draw from torch's random generator
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            stride=conv.stride,  # type: ignore[arg-type]
            padding=conv.padding,  # type: ignore[arg-type]
            dilation=conv.dilation,  # type: ignore[arg-type]
            groups=conv.groups,
            bias=conv.bias is not None,
            device="meta",
        )
        fused.weight = conv.weight
        fused.bias = conv.bias
        fused.train(conv.training)
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x))``."""
        return self.with_padding(x, self.padding)

    def with_padding(self, x: torch.Tensor, padding: tuple[int, ...] | str) -> torch.Tensor:
        """``relu(conv(x))`` with *padding* (zeros) instead of the layer's own."""
        pad = tuple(padding) if not isinstance(padding, str) else padding
        if not isinstance(pad, str) and self._fusable(x):
            geometry = (list(pad), list(self.stride), list(self.dilation), self.groups)
            x = _one_channel_last(x, self.weight)
            return _CONV_POINTWISE(x, self.weight, self.bias, *geometry, "relu", [None], "")  # type: ignore[no-any-return]
        out = torch.nn.functional.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)
        return torch.relu_(out)

    def _fusable(self, x: torch.Tensor) -> bool:
        return (
            x.device.type == "cpu"
            and x.dim() == 4
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
            and fused_conv_relu_active()
        )


def _one_channel_last(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A contiguous one-channel ``x`` as a channels-last view, when *weight* is channels-last.

    With one channel the two layouts hold the same bytes, but PyTorch keeps the strides
    it was given, and oneDNN, reading them as the default layout, then reorders its
    channels-last weights for each call (the same output, more work).
    """
    if x.shape[1] != 1 or not x.is_contiguous() or not weight.is_contiguous(memory_format=torch.channels_last):
        return x
    h, w = x.shape[2], x.shape[3]
    return x.as_strided(x.shape, (h * w, 1, w, 1))


def fuse_conv_relu(model: nn.Module) -> int:
    """Make every ``Conv2d`` that a ``ReLU`` follows a :class:`Conv2dReLU`, in place.

    In every plain ``nn.Sequential`` inside *model*, a ``Conv2d`` (exactly that class,
    zero padding) followed by a ``ReLU`` with only ``nn.Identity`` between them becomes a
    :class:`Conv2dReLU` and the ``ReLU`` an ``nn.Identity`` (indices and state-dict
    prefixes keep their positions). Fold batch-norms first (:func:`fold_batch_norm`): a
    batch-norm between the two stops the fusion.

    Returns
    -------
    int
        How many were fused.
    """
    fused = 0
    for module in model.modules():
        if type(module) is not nn.Sequential:
            continue
        for i in range(len(module) - 1):
            conv = module[i]
            if type(conv) is not nn.Conv2d or not Conv2dReLU.accepts(conv):
                continue
            j = i + 1
            while j < len(module) and type(module[j]) is nn.Identity:
                j += 1
            if j < len(module) and type(module[j]) is nn.ReLU:
                module[i] = Conv2dReLU.from_conv(conv)
                module[j] = nn.Identity()
                fused += 1
    return fused


def prefers_channels_last(model: nn.Module) -> bool:
    """Whether a 2-d convolution of *model* reads more than one channel: where the channels-last layout pays.

    Examples
    --------
    >>> from musicgenre.models import GenreCNN
    >>> prefers_channels_last(GenreCNN())
    True
    >>> prefers_channels_last(nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU()))
    False
    """
    return any(isinstance(m, nn.Conv2d) and m.in_channels > 1 for m in model.modules())


def optimize_for_inference(
    model: ModuleT, *, channels_last: bool | None = None, pooling: bool = True, fuse_relu: bool = True
) -> ModuleT:
    """An eval-mode copy of *model* for prediction: batch-norm folded where exact, channels-last.

    The copy is of the same class, on the same device, with the same outputs up to float
    rounding (within about 1e-6 of the probabilities for :class:`~musicgenre.models.GenreCNN`);
    *model* itself is not changed. Use the copy under ``torch.inference_mode``; it is not
    for training (its batch-norms are gone and its parameters do not require gradients).

    Parameters
    ----------
    model
        Any model; conv + batch-norm pairs are folded as :func:`fold_batch_norm` describes.
    channels_last
        Store 4-d weights channels-last (``torch.channels_last``); ``None`` (default):
        where :func:`prefers_channels_last` says so.
    pooling
        Replace 2x2 max-pools by :class:`MaxPool2x2` (:func:`replace_max_pooling`). The
        exports keep ``nn.MaxPool2d`` (``MaxPool`` in ONNX), which their runtimes know.
    fuse_relu
        Fuse each ``Conv2d`` with the ``ReLU`` after it (:func:`fuse_conv_relu`). The
        exports keep them apart: oneDNN's fused kernel is no operator of theirs.

    Returns
    -------
    torch.nn.Module
        The optimised copy, in eval mode.

    Examples
    --------
    >>> from musicgenre.models import GenreCNN
    >>> model = GenreCNN(seed=0, batch_norm=True).eval()
    >>> fast = optimize_for_inference(model)
    >>> x = torch.randn(2, 1, 64, 215)
    >>> with torch.inference_mode():
    ...     bool(torch.allclose(fast(x), model(x), atol=1e-5))
    True
    >>> sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    0
    """
    fast = copy.deepcopy(model).eval()
    fold_batch_norm(fast)
    if fuse_relu:
        fuse_conv_relu(fast)
    if pooling:
        replace_max_pooling(fast)
    fast.requires_grad_(False)
    if channels_last is None:
        channels_last = prefers_channels_last(fast)
    if channels_last:
        fast.to(memory_format=torch.channels_last)  # 4-d parameters and buffers only
    return fast
