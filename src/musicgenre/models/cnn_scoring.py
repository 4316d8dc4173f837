"""Scoring a :class:`~musicgenre.models.GenreCNN`'s overlapping windows with their convolutions shared.

:func:`score_overlapping` gives the logits that
:func:`~musicgenre.models.scoring.score_windows` gives for the overlapping windows of one
track, while computing the convolutions over each frame once rather than once per window
that holds it (see its notes). It reads the CNN's blocks, so it works for a plain
:class:`~musicgenre.models.GenreCNN` in eval mode only (:func:`shares_windows` says
which); prediction's :class:`~musicgenre.predict.pipeline.Scorer` is the one place that
calls it, and scores the windows one by one otherwise.

>>> import torch
>>> from musicgenre.models import GenreCNN
>>> model = GenreCNN(n_mels=16, n_frames=32, channels=(4, 8), seed=0).eval()
>>> frames, starts = torch.randn(1, 16, 100), torch.tensor([0, 16, 32, 48, 64])
>>> shared = score_overlapping(model, frames, starts, 32, pad_value=-100.0)
>>> windows = torch.stack([frames[..., s : s + 32] for s in starts.tolist()])
>>> shares_windows(model), torch.allclose(shared, model(windows), atol=1e-5)
(True, True)
"""

from __future__ import annotations

import torch
from torch import nn

from musicgenre.audio import functional as F
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.fast import Conv2dReLU, MaxPool2x2, is_max_pool_2x2

__all__ = ["score_overlapping", "shares_windows"]


_POINTWISE = (nn.Identity, nn.BatchNorm2d, nn.ReLU)


def _plain_blocks(model: nn.Module) -> list[nn.Sequential] | None:
    """The conv blocks of a :class:`GenreCNN` whose windows can share their convolutions, or ``None``.

    Each block must be ``Conv2d(3x3, stride 1, zero padding 1)`` (or its
    :class:`~musicgenre.models.fast.Conv2dReLU`), then only pointwise layers (batch-norm
    in eval mode, ReLU, identity), then ``MaxPool2d(2)``; the input norm must be
    pointwise, and ``forward`` and ``forward_features`` must be :class:`GenreCNN`'s own.
    """
    if not isinstance(model, GenreCNN) or model.training:
        return None
    kind = type(model)
    if kind.forward is not GenreCNN.forward or kind.forward_features is not GenreCNN.forward_features:
        return None
    if not isinstance(model.input_norm, nn.Identity | nn.BatchNorm2d):
        return None
    blocks: list[nn.Sequential] = []
    for block in model.blocks:
        if not isinstance(block, nn.Sequential) or len(block) < 2:
            return None
        conv, *middle, pool = list(block)
        if not (
            type(conv) in (nn.Conv2d, Conv2dReLU)
            and conv.kernel_size == (3, 3)
            and conv.stride == (1, 1)
            and conv.padding == (1, 1)
            and conv.dilation == (1, 1)
            and conv.padding_mode == "zeros"
            and all(type(layer) in _POINTWISE for layer in middle)
            and (type(pool) is MaxPool2x2 or is_max_pool_2x2(pool))
        ):
            return None
        blocks.append(block)
    return blocks


def shares_windows(model: nn.Module) -> bool:
    """Whether :func:`score_overlapping` can score *model*'s windows (a plain :class:`GenreCNN` in eval mode)."""
    return _plain_blocks(model) is not None


def _columns(maps: torch.Tensor, starts: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` columns of ``(1, C, H, T)`` from each start: ``(starts, C, H, count)``, a view if evenly spaced."""
    if len(starts) > 1:
        step = int(starts[1] - starts[0])
        if step > 0 and bool((starts[1:] - starts[:-1] == step).all()):
            first = int(starts[0])
            span = maps[..., first : first + step * (len(starts) - 1) + count]
            return span.unfold(-1, count, step)[0].permute(2, 0, 1, 3)
    index = starts[:, None] + torch.arange(count, device=maps.device)[None]
    return maps[0][:, :, index].permute(2, 0, 1, 3)


class _Window:
    """One level's window maps: a left edge column, the inner columns (in the track's map), a right edge column."""

    def __init__(
        self,
        track: torch.Tensor,
        starts: torch.Tensor,
        width: int,
        left: torch.Tensor | None,
        right: torch.Tensor | None,
    ) -> None:
        self.track, self.starts, self.width, self.left, self.right = track, starts, width, left, right

    def columns(self, first: int, stop: int) -> torch.Tensor:
        """Columns ``[first, stop)`` of every window's map, ``(windows, C, H, stop - first)``."""
        parts: list[torch.Tensor] = []
        if first == 0 and self.left is not None:
            parts.append(self.left)
            first = 1
        end = stop - 1 if self.right is not None and stop == self.width else stop
        if end > first:
            parts.append(_columns(self.track, self.starts + first, end - first))
        if end < stop:
            assert self.right is not None
            parts.append(self.right)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def score_overlapping(
    model: nn.Module, frames: torch.Tensor, starts: torch.Tensor, window_frames: int, *, pad_value: float
) -> torch.Tensor | None:
    """The logits of a track's windows, each frame's convolutions computed once.

    Equal, within float rounding, to ``model`` applied to the windows
    ``frames[..., s : s + window_frames]`` (the track padded at its end with *pad_value*)
    one by one, as :func:`~musicgenre.models.scoring.score_windows` does.

    Parameters
    ----------
    model
        A plain :class:`GenreCNN` in eval mode (:func:`shares_windows`).
    frames
        The track's frames, ``(1, bands, frames)``, with no per-window step to apply (e.g.
        no ``top_db`` floor below each window's peak).
    starts
        Each window's first frame, ``(windows,)``: multiples of ``2 ** len(model.blocks)``.
    window_frames
        Frames per window.
    pad_value
        The frames after the track's end (the dB of silence).

    Returns
    -------
    torch.Tensor or None
        ``(windows, classes)``, or ``None`` where the model or the windows do not allow it
        (then score the windows one by one).

    Notes
    -----
    Windows that overlap (the improved recipe's half-overlap) make a model applied to
    each window convolve most frames twice. A 3x3 convolution with zero padding, pointwise
    layers and a 2x2 max-pool give, at a window's column *j* of each level, what the same
    layers give on the whole track at column ``start / 2**level + j``, except near the
    window's two edges, where the window sees zero padding and the track sees its
    neighbours. So each level is computed once over the whole track (the window's inner
    columns), and for every window only its edge columns (one or two per level, from the
    few columns they depend on); the head then reads each window's map. With 20
    half-overlapping windows of 129 frames per 30 s the whole-track levels are half the
    work of scoring the windows one by one and the edge columns add about a sixth.
    """
    blocks = _plain_blocks(model)
    if blocks is None or frames.dim() != 3 or len(starts) == 0:
        return None
    if bool((starts % 2 ** len(blocks) != 0).any()) or bool((starts < 0).any()):
        return None
    # Each level's window map is its left column (the window's own), the inner columns
    # (equal to the track's map at start / 2**level + j) and, when the window's right
    # border reaches it, its last column (the window's own). A block's output column j
    # reads input columns 2j-1 .. 2j+2, so one edge column in gives one edge column out.
    widths = [window_frames]
    for _ in blocks:
        widths.append(widths[-1] // 2)
    if min(widths) < 3:
        return None
    assert isinstance(model, GenreCNN)
    starts = starts.to(torch.long)
    total = int(starts[-1]) + window_frames
    x = F.fit_length(frames, total, pad_value=pad_value).unsqueeze(0)  # (1, 1, bands, total)
    count = len(starts)
    with torch.no_grad():
        inputs = model.input_norm(x).contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout
        level = _Window(inputs, starts, window_frames, None, None)
        for block, width, width2 in zip(blocks, widths, widths[1:], strict=False):
            conv, rest = block[0], block[1:]
            assert isinstance(conv, nn.Conv2d)
            # Right edge: output column j0 = width2 - 1 reads conv columns 2 j0, 2 j0 + 1;
            # it differs from the track's when those read the window's zero padding or its
            # own right edge column.
            j0 = width2 - 1
            reaches = 2 * j0 + 2 >= width - (1 if level.right is not None else 0)
            zero = level.track.new_zeros(count, conv.in_channels, level.track.shape[2], 1)
            pieces = [torch.cat([zero, level.columns(0, 3)], dim=-1)]  # conv columns 0, 1 of each window
            if reaches:
                tail = level.columns(2 * j0 - 1, min(2 * j0 + 3, width))
                pad = [zero] * (4 - tail.shape[-1])
                pieces.append(torch.cat([tail, *pad], dim=-1))  # conv columns 2 j0, 2 j0 + 1
            edges = rest(_conv_rows_padded(conv, torch.cat(pieces)))
            # Channels-last for the pooling: a one-channel input leaves the convolution's output
            # in the default layout, where max-pooling is several times slower on CPU.
            track = rest(conv(level.track).contiguous(memory_format=torch.channels_last))
            level = _Window(track, level.starts // 2, width2, edges[:count], edges[count:] if reaches else None)
        return model.forward_head(level.columns(0, level.width)).float().cpu()


def _conv_rows_padded(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """*conv* without padding along the last axis: every output column reads three input columns."""
    if isinstance(conv, Conv2dReLU):
        return conv.with_padding(x, (1, 0))
    return torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=(1, 0))
