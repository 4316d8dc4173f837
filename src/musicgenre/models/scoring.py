"""A model over a track's windows, averaged into the track's probabilities: shared by evaluation and prediction.

:func:`score_windows` runs the model over windows cut by
:func:`~musicgenre.audio.windowing.cut_windows` (in forward passes of at most
*batch_size* windows) and :func:`average_tracks` turns the window logits of one or more
tracks into one probability vector per track, by the
:class:`~musicgenre.audio.windowing.Windowing`'s ``average`` rule. Both
:func:`~musicgenre.evaluation.tracks.evaluate_tracks` and
:class:`~musicgenre.inference.GenreClassifier` call them, so the accuracy a checkpoint
reports is computed by the arithmetic that prediction serves.

>>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
>>> average_tracks(logits, torch.tensor([1.0, 1.0, 0.5]), [3], "probabilities")
tensor([[0.4238, 0.5762]])

:func:`score_overlapping` gives the logits :func:`score_windows` gives, for the
overlapping windows of one track, while computing the convolutions over each frame once
rather than once per window that holds it (see its notes); prediction uses it where the
model and the windows allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from musicgenre.audio import functional as F
from musicgenre.audio.windowing import Averaging
from musicgenre.errors import ConfigurationError
from musicgenre.models.cnn import GenreCNN
from musicgenre.models.fast import Conv2dReLU, MaxPool2x2, is_max_pool_2x2

__all__ = ["EmbeddingModel", "WindowScores", "average_tracks", "score_overlapping", "score_windows", "shares_windows"]


@runtime_checkable
class EmbeddingModel(Protocol):
    """A model split as :class:`~musicgenre.models.GenreCNN` is: features, head (with pre-logits) and classifier.

    :class:`~musicgenre.models.transfer.MusicnnClassifier` is one too.
    """

    classifier: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-window features."""
        ...

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features -> logits, or the classifier's input with ``pre_logits=True``."""
        ...


@dataclass(frozen=True)
class WindowScores:
    """A model's outputs for a stack of windows.

    Attributes
    ----------
    logits
        ``(windows, classes)``, on the CPU.
    embeddings
        ``(windows, features)`` (the model's pre-logit embedding), if asked for; else ``None``.
    """

    logits: torch.Tensor
    embeddings: torch.Tensor | None = None


def score_windows(
    model: nn.Module,
    windows: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    embeddings: bool = False,
) -> WindowScores:
    """Run *model* (in eval mode) over *windows* ``(n, 1, bands, frames)``.

    Parameters
    ----------
    model
        Returns logits for a batch of windows. With *embeddings*, a
        :class:`~musicgenre.models.GenreCNN` (its logits are then computed from the same
        embedding, which is what its ``forward`` does in eval mode).
    windows
        The windows of one or more tracks.
    batch_size
        Windows per forward pass (``None``: all at once).
    device
        Where the model runs (``None``: where the windows are).
    embeddings
        Also return each window's embedding.

    Returns
    -------
    WindowScores
    """
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    if embeddings and not isinstance(model, EmbeddingModel):
        raise ConfigurationError(f"embeddings need a GenreCNN or a model like it, not a {type(model).__name__}")
    model.eval()
    parts = torch.split(windows, batch_size) if batch_size is not None and len(windows) else (windows,)
    logits: list[torch.Tensor] = []
    embs: list[torch.Tensor] = []
    with torch.no_grad():
        for part in parts:
            x = part if device is None else part.to(device)
            if embeddings and isinstance(model, EmbeddingModel):
                emb = model.forward_head(model.forward_features(x), pre_logits=True)
                logits.append(model.classifier(emb).float().cpu())
                embs.append(emb.float().cpu())
            else:
                logits.append(model(x).float().cpu())
    return WindowScores(torch.cat(logits), torch.cat(embs) if embeddings else None)


def average_tracks(
    logits: torch.Tensor, weights: torch.Tensor, counts: Sequence[int], average: Averaging = "probabilities"
) -> torch.Tensor:
    """Per-track probabilities from the window logits of consecutive tracks.

    Parameters
    ----------
    logits
        ``(windows, classes)``: the windows of every track, one track after another.
    weights
        ``(windows,)``: each window's weight (the share of it that holds audio).
    counts
        Windows per track, summing to ``len(logits)``.
    average
        ``"probabilities"``: ``sum_i w_i softmax(l_i) / sum_i w_i``; ``"logits"``:
        ``softmax(sum_i w_i l_i / sum_i w_i)``.

    Returns
    -------
    torch.Tensor
        ``(tracks, classes)``, each row summing to 1.
    """
    if sum(counts) != len(logits) or len(weights) != len(logits):
        raise ConfigurationError(
            f"{len(logits)} window logits, {len(weights)} weights and {sum(counts)} windows counted per track"
        )
    if average not in ("probabilities", "logits"):
        raise ConfigurationError(f"average must be 'probabilities' or 'logits', got {average!r}")
    w = weights.to(logits.dtype)
    values = torch.softmax(logits, dim=1) if average == "probabilities" else logits
    rows = [
        (v * ww[:, None]).sum(0) / ww.sum()
        for v, ww in zip(torch.split(values, list(counts)), torch.split(w, list(counts)), strict=True)
    ]
    out = torch.stack(rows) if rows else values.new_zeros((0, logits.shape[1]))
    return out if average == "probabilities" else torch.softmax(out, dim=1)


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
    one by one, as :func:`score_windows` does.

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
    work of scoring the windows one by one and the edge columns add about a sixth (the
    improved model's forward: 33.5 ms instead of 40.0 on one thread,
    ``benchmarks/real_path.py --parts model``).
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
