"""``Musicnn``: Pons & Serra's musicnn (ISMIR-LBD 2019) in PyTorch, faithful to musicnn 0.1.0's TF graph.

The network reads a ``(batch, frames, 96)`` log-mel patch (time first, as musicnn's own
placeholder and :func:`musicgenre.audio.frontends.musicnn_patches` lay it out; 187
frames = 3 s at 16 kHz) and has three parts:

* **front end** -- an input batch-norm, then musically motivated convolutions on the
  one-channel spectrogram: two *timbral* blocks (204 filters of 7 x 38 and 7 x 67,
  time x frequency; the time axis padded by 3 on each side, frequency "valid") and three
  *temporal* blocks (51 filters of 128 x 1, 64 x 1 and 32 x 1 with TensorFlow's uneven
  "same" padding: ``(k - 1) // 2`` frames before, ``k // 2`` after, so 63/64 for 128).
  Each block is conv, **ReLU, then batch-norm** (in that order), then a max over
  frequency; the five outputs are concatenated: 204 + 204 + 3 x 51 = 561 features per frame.
* **mid end** -- three 1-D convolutions over time (64 filters, width 7, padding 3),
  each ReLU then batch-norm, the second and third with residual connections; the front
  end's 561 features and the three 64-d outputs are concatenated densely: 753 per frame.
* **back end** -- max and mean over time of the 753 features, *interleaved*
  (``[max_0, mean_0, max_1, mean_1, ...]``, as TF flattens ``concat([max, mean], 2)``):
  the 1,506-d pooled features (:meth:`Musicnn.pooled`); batch-norm, dropout 0.5,
  dense 200 + ReLU, batch-norm: the 200-d penultimate embedding (:meth:`Musicnn.embed`);
  dropout 0.5 and a dense layer to the tag logits. Tag probabilities are
  ``sigmoid(logits)`` (:meth:`Musicnn.predict_proba`), as in the original.

Every batch-norm uses TensorFlow's epsilon 1e-3 and momentum 0.99 (PyTorch 0.01).
:func:`musicgenre.models.pretrained.load_pretrained` loads the converted weights.

In eval mode the front end takes an exact shortcut: batch-norm after ReLU is a
per-channel affine map ``a * r + b``, so its maximum over frequency is ``a * relu(max
conv) + b`` where ``a >= 0`` and ``a * relu(min conv) + b`` where ``a < 0``; the model
reduces the convolution output over frequency first and applies ReLU and batch-norm to
the ``(batch, filters, frames)`` result only. The timbral convolutions (most of the
cost) run as 1-D convolutions over frequency with the 7 time taps as input channels,
the temporal ones as matrix products of a banded matrix of their taps with blocks of
frames (see ``benchmarks/musicnn.py`` for the comparison of the alternatives). Filters
that cannot move their block's output for the input at hand are skipped
(:attr:`Musicnn.skip_dead_filters`), and the constant features they leave are folded into
the first mid-end layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from musicgenre._config import from_plain
from musicgenre._random import seeded
from musicgenre.errors import ConfigurationError

__all__ = ["ConvBlock", "Musicnn", "MusicnnConfig", "TemporalAlgorithm", "TimbralAlgorithm"]

ModelT = TypeVar("ModelT", bound="Musicnn")
TimbralAlgorithm = Literal["conv2d", "conv1d", "matmul"]
"""The ways to compute the timbral convolutions in eval mode; all give the same values (to float rounding)."""
TemporalAlgorithm = Literal["conv2d", "banded"]
"""The ways to compute the temporal convolutions in eval mode; both give the same values (to float rounding)."""

#: Output frames per block of the banded temporal product (see :func:`_banded_temporal`).
_BAND_FRAMES = 4

_TF_EPS, _TF_MOMENTUM = 1e-3, 0.01  # TF's batch-norm epsilon; momentum 0.99 in TF's convention


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_TF_EPS, momentum=_TF_MOMENTUM)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=_TF_EPS, momentum=_TF_MOMENTUM)


_NEGLIGIBLE = 1e-7
"""A front-end filter whose largest possible effect on its block's output is below this is skipped.

The effect is bounded by ``|batch-norm scale| * sum(|weights|) * max(|input|)`` (ReLU and the
maximum over frequency are 1-Lipschitz), computed at each call from the input it gets; the
output of such a filter is taken as its bias's, ``relu(bias) * scale + shift``, within 1e-7
(float32 rounding of the features). Weight decay drove most of musicnn's MSD filters to weights of
1e-31 to 1e-9 with batch-norm scales of 1e-6 or less: on a real clip, 371 of its 408 timbral filters
and 126 of its 153 temporal ones are skipped (MTT_musicnn: 203 and 27)."""


@dataclass(frozen=True)
class MusicnnConfig:
    """Everything that decides :class:`Musicnn`'s layers (and so its weights' shapes).

    The defaults are musicnn 0.1.0's ``MSD_musicnn`` / ``MTT_musicnn`` (50 tags).

    Attributes
    ----------
    n_classes
        Output logits (tags).
    n_mels
        Mel bands of the input; the timbral filters' heights are ``int(0.4 * n_mels)``
        and ``int(0.7 * n_mels)`` (38 and 67 for 96 bands) unless *timbral_heights* is set.
    timbral_filters, timbral_width
        Filters per timbral block (``int(1.6 * 128) = 204``) and their extent in frames (7).
    timbral_heights
        Frequency extent of each timbral block's filters; ``()`` derives them from *n_mels*.
    temporal_filters, temporal_widths
        Filters per temporal block (``int(1.6 * 32) = 51``) and each block's extent in frames.
    midend_filters, midend_layers, midend_width
        Mid-end 1-D convolutions: filters (64), count (3) and width in frames (7).
    dense_units
        Size of the penultimate layer (the :meth:`Musicnn.embed` embedding).
    dropout
        Dropout before each dense layer (training only).
    """

    n_classes: int = 50
    n_mels: int = 96
    timbral_filters: int = 204
    timbral_width: int = 7
    timbral_heights: tuple[int, ...] = field(default=())
    temporal_filters: int = 51
    temporal_widths: tuple[int, ...] = field(default=(128, 64, 32))
    midend_filters: int = 64
    midend_layers: int = 3
    midend_width: int = 7
    dense_units: int = 200
    dropout: float = 0.5

    def __post_init__(self) -> None:
        heights = self.timbral_heights or (int(0.4 * self.n_mels), int(0.7 * self.n_mels))
        object.__setattr__(self, "timbral_heights", tuple(int(h) for h in heights))
        object.__setattr__(self, "temporal_widths", tuple(int(w) for w in self.temporal_widths))
        sizes: tuple[int, ...] = (
            self.n_classes,
            self.n_mels,
            self.timbral_filters,
            self.timbral_width,
            self.temporal_filters,
        )
        sizes += (self.midend_filters, self.midend_layers, self.midend_width, self.dense_units)
        if min(sizes) < 1 or min(self.timbral_heights, default=1) < 1 or min(self.temporal_widths, default=1) < 1:
            raise ConfigurationError(f"invalid MusicnnConfig: {self}")
        if max(self.timbral_heights, default=0) > self.n_mels:
            raise ConfigurationError(f"timbral filters {self.timbral_heights} are taller than {self.n_mels} mel bands")
        if self.timbral_width % 2 == 0 or self.midend_width % 2 == 0:
            raise ConfigurationError("timbral_width and midend_width must be odd (centred 'same' padding)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigurationError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def frontend_features(self) -> int:
        """Features per frame out of the front end (561 by default)."""
        return len(self.timbral_heights) * self.timbral_filters + len(self.temporal_widths) * self.temporal_filters

    @property
    def midend_features(self) -> int:
        """Features per frame out of the mid end, front end included (753 by default)."""
        return self.frontend_features + self.midend_layers * self.midend_filters

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready plain values."""
        data = asdict(self)
        data["timbral_heights"] = list(self.timbral_heights)
        data["temporal_widths"] = list(self.temporal_widths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MusicnnConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys raise :class:`ConfigurationError`."""
        return from_plain(cls, data, timbral_heights=tuple, temporal_widths=tuple)


def _tracing() -> bool:
    """Exporting/compiling/tracing: keep the graph free of weight-dependent shapes."""
    tracing = torch._C._get_tracing_state() is not None
    exporting = getattr(torch.compiler, "is_exporting", None)  # torch >= 2.7; torch.export is newer than our floor
    return bool(tracing or torch.compiler.is_compiling() or (exporting is not None and exporting()))


def _bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch-norm as ``(scale, shift)``: ``bn(x) = scale * x + shift`` per channel."""
    assert bn.running_var is not None
    assert bn.running_mean is not None
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _banded_temporal(x: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor, frames: int) -> torch.Tensor:
    """A temporal (``k x 1``) convolution's maximum over frequency, as matrix products over blocks of frames.

    ``y[b, c, t, f] = bias[c] + sum_j taps[c, j] x[b, t + j, f]``. For a block of ``s``
    consecutive output frames starting at ``t0``, the outputs are one product
    ``W (s C, s + k - 1) @ x[b, t0 : t0 + s + k - 1, :]``, where ``W`` holds the taps on
    ``s`` shifted diagonals (a banded Toeplitz matrix) and the right-hand side is a
    contiguous slice of the input: the blocks are strided views of *x* (no copy, unlike
    an im2col), and the products are large enough to run near the machine's matrix-
    multiply rate, where a convolution with one input channel and a tall kernel does
    not. It costs ``(s + k - 1) / k`` of the convolution's multiply-adds.

    Parameters
    ----------
    x
        ``(batch, frames + k - 1, bands)``, padded on the time axis.
    taps
        ``(filters, k)``.
    bias
        ``(filters,)``.
    frames
        Output frames.

    Returns
    -------
    torch.Tensor
        ``(batch, filters, frames)``: the maximum over bands of the convolution plus bias.
    """
    s = _BAND_FRAMES
    filters, k = taps.shape
    blocks = -(-frames // s)
    need = blocks * s + k - 1
    if x.shape[1] < need:  # the last block reads past the padded input: zeros, outputs dropped
        x = F.pad(x, (0, 0, 0, need - x.shape[1]))
    x = x.contiguous()
    band = taps.new_zeros(s, filters, s + k - 1)
    for i in range(s):
        band[i, :, i : i + k] = taps
    band = band.view(s * filters, s + k - 1)
    bands = x.shape[2]
    out = []
    for item in x:  # (rows, bands): its blocks as overlapping views, one batched product
        views = item.as_strided((blocks, s + k - 1, bands), (s * bands, bands, 1))
        out.append(torch.matmul(band, views).amax(dim=2).view(blocks * s, filters)[:frames])
    return torch.stack(out).transpose(1, 2) + bias[:, None]


class ConvBlock(nn.Module):
    """A musicnn front-end block: convolution, ReLU, batch-norm, max over frequency.

    Parameters
    ----------
    conv
        The convolution, over a ``(batch, 1, frames + padding, mels)`` input.
    pad
        Frames of zero padding ``(before, after)`` applied on the time axis.
    """

    def __init__(self, conv: torch.nn.Conv2d, pad: tuple[int, int]) -> None:
        super().__init__()
        self.conv = conv
        self.bn = _bn2d(conv.out_channels)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, frames, mels)`` -> ``(batch, filters, frames)`` (the literal TF order)."""
        y: torch.Tensor = self.bn(torch.relu(self.conv(F.pad(x, (0, 0, *self.pad)))))
        return y.amax(dim=3)


class _MidBlock(nn.Module):
    def __init__(self, in_features: int, filters: int, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_features, filters, width, padding=width // 2)
        self.bn = _bn1d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.bn(torch.relu(self.conv(x)))
        return out


class _Front(nn.Module):
    def __init__(self, cfg: MusicnnConfig) -> None:
        super().__init__()
        pad = cfg.timbral_width // 2
        self.timbral = nn.ModuleList(
            ConvBlock(nn.Conv2d(1, cfg.timbral_filters, (cfg.timbral_width, h)), (pad, pad))
            for h in cfg.timbral_heights
        )
        self.temporal = nn.ModuleList(
            ConvBlock(nn.Conv2d(1, cfg.temporal_filters, (w, 1)), ((w - 1) // 2, w // 2)) for w in cfg.temporal_widths
        )


class _Back(nn.Module):
    def __init__(self, cfg: MusicnnConfig) -> None:
        super().__init__()
        pooled = 2 * cfg.midend_features
        self.pool_bn = _bn1d(pooled)
        self.dense = nn.Linear(pooled, cfg.dense_units)
        self.dense_bn = _bn1d(cfg.dense_units)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.dense_units, cfg.n_classes)


class Musicnn(nn.Module):
    """musicnn: a musically motivated CNN tagger over ``(batch, frames, mels)`` log-mel patches.

    A tagger and a backbone, not a genre model: it is not in the model registry, so
    checkpoints do not hold it. For genres, :class:`~musicgenre.models.MusicnnClassifier`
    puts a head on it (and fine-tunes it, with ``freeze_backbone("all")``); that is what
    checkpoints, export and prediction take.

    The model is split the timm way: :meth:`forward_features` (front and mid end, the
    per-frame feature map), :meth:`pool` (the 1,506-d pooled features),
    :meth:`forward_head` (penultimate embedding and tag logits). Subclasses can override
    any of them, or replace ``model.front.timbral[i]`` / ``model.mid[i]``.

    Parameters
    ----------
    config
        Layer settings; ``None`` is musicnn's (50 tags).
    seed
        If given, the initial weights are drawn from this seed without touching torch's
        global generator.
    **overrides
        Fields of :class:`MusicnnConfig` to change, e.g. ``n_classes=10``.

    Attributes
    ----------
    timbral_algorithm : TimbralAlgorithm
        ``"conv1d"``, ``"conv2d"`` or ``"matmul"``: how the eval-mode fast path computes
        the timbral convolutions (same values to float rounding; ``"conv1d"`` by default).
    temporal_algorithm : TemporalAlgorithm
        ``"banded"`` or ``"conv2d"``: how the eval-mode fast path computes the temporal
        convolutions (same values to float rounding; ``"banded"`` by default: the taps
        on shifted diagonals of one matrix, times blocks of 4 frames).
    skip_dead_filters : bool
        In the eval fast path, skip front-end filters that cannot move their block's
        output by 1e-7 for the input at hand (``|batch-norm scale| * sum(|weights|) *
        max(|input|)``): their output is their bias's to within that. Most of the
        pretrained MSD model's front-end filters are such (weight decay drove them to
        nothing). Their features are then the same at every frame, and the mid end's
        first layer reads them as a per-frame bias instead of convolving them (its cost
        falls with the number of filters computed). Training always computes every filter.

    Examples
    --------
    >>> model = Musicnn(seed=0).eval()
    >>> x = torch.zeros(2, 187, 96)
    >>> tuple(model(x).shape), tuple(model.embed(x).shape), tuple(model.pooled(x).shape)
    ((2, 50), (2, 200), (2, 1506))
    """

    timbral_algorithm: TimbralAlgorithm = "conv1d"
    temporal_algorithm: TemporalAlgorithm = "banded"
    skip_dead_filters: bool = True

    def __init__(self, config: MusicnnConfig | None = None, *, seed: int | None = None, **overrides: Any) -> None:
        super().__init__()
        base = config or MusicnnConfig()
        self.config = MusicnnConfig.from_dict({**base.to_dict(), **overrides}) if overrides else base
        cfg = self.config
        with seeded(seed):
            self.input_bn = _bn2d(1)
            self.front = _Front(cfg)
            widths = [cfg.frontend_features] + [cfg.midend_filters] * (cfg.midend_layers - 1)
            self.mid = nn.ModuleList(_MidBlock(w, cfg.midend_filters, cfg.midend_width) for w in widths)
            self.back = _Back(cfg)

    # ------------------------------------------------------------------ properties
    @property
    def num_classes(self) -> int:
        """Number of output logits (tags)."""
        return self.back.classifier.out_features

    @property
    def num_features(self) -> int:
        """Size of the penultimate embedding returned by :meth:`embed` (200)."""
        return self.back.dense.out_features

    @property
    def num_pooled_features(self) -> int:
        """Size of the pooled mid-level features returned by :meth:`pooled` (1,506)."""
        return self.back.dense.in_features

    # ------------------------------------------------------------------ front end
    def _check_input(self, x: torch.Tensor) -> None:
        if _tracing():
            return
        if x.dim() != 3 or x.shape[2] != self.config.n_mels or x.shape[1] < 1:
            raise ConfigurationError(
                f"Musicnn expects log-mel patches (batch, frames, {self.config.n_mels}), got {tuple(x.shape)}"
            )

    def _block_fast(
        self, block: ConvBlock, x: torch.Tensor, timbral: bool, reach_of_input: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Eval-mode :class:`ConvBlock`: reduce over frequency first, then ReLU and batch-norm.

        ``bn(relu(y))`` is monotonic in ``y`` per filter (increasing where the batch-norm's
        scale is positive, decreasing where it is negative), so its maximum over frequency
        is taken at ``max(y)`` or at ``min(y)``. Filters with a negative scale are computed
        with negated weights and bias (exact), so one maximum gives ``-min(y)`` for them.

        Returns the block's ``(batch, filters, frames)`` output and the indices of the
        filters computed, or ``None`` when every filter was (the others' outputs are
        constants: their bias's). *reach_of_input* is ``max(|x|)``, or ``None`` to skip no filter.
        """
        scale, shift = _bn_affine(block.bn)
        sign = torch.where(scale >= 0, 1.0, -1.0).to(scale.dtype)
        weight, bias = block.conv.weight, block.conv.bias
        assert bias is not None
        live: torch.Tensor | None = None
        if reach_of_input is not None:
            reach = weight.flatten(1).abs().sum(dim=1) * scale.abs() * reach_of_input
            alive = ~(reach < _NEGLIGIBLE)  # NaN in the input: every filter computed, NaN kept
            if not bool(alive.any()):  # (an all-zero input): every output is its bias's
                const = bias[None, :, None].expand(x.shape[0], -1, x.shape[2])
                return torch.relu(const) * scale[:, None] + shift[:, None], alive.nonzero().squeeze(1)
            if not bool(alive.all()):
                live = alive.nonzero().squeeze(1)
                full_bias = bias
                weight, bias = weight[live], bias[live]
        xp = F.pad(x, (0, 0, *block.pad))  # (B, 1, T + pad, F)
        live_sign = sign if live is None else sign[live]
        weight, bias = weight * live_sign[:, None, None, None], bias * live_sign
        if timbral and self.timbral_algorithm != "conv2d" and not _tracing():  # export: plain conv2d
            kt, kf = weight.shape[2], weight.shape[3]
            batch, frames = x.shape[0], x.shape[2]
            taps = xp[:, 0].unfold(1, kt, 1)  # (B, T, F, kt)
            if self.timbral_algorithm == "conv1d":
                taps = taps.transpose(2, 3).reshape(batch * frames, kt, -1)  # (B*T, kt, F)
                top = F.conv1d(taps, weight[:, 0], bias).amax(dim=2)  # (B*T, C)
                top = top.view(batch, frames, -1).transpose(1, 2)
            else:  # matmul over an im2col of the (time, freq) patches
                cols = taps.unfold(2, kf, 1)  # (B, T, F', kt, kf)
                y = cols.reshape(batch, frames, cols.shape[2], kt * kf) @ weight.view(weight.shape[0], -1).T + bias
                top = y.amax(dim=2).transpose(1, 2)
        elif not timbral and self.temporal_algorithm == "banded" and not _tracing() and weight.shape[3] == 1:
            top = _banded_temporal(xp[:, 0], weight[:, 0, :, 0], bias, x.shape[2])
        else:
            top = F.conv2d(xp, weight, bias).amax(dim=3)  # (B, C, T)
        pick = top * live_sign[:, None]  # max(y) where the scale is >= 0, min(y) where it is negative
        if live is not None:  # skipped filters: conv output = bias (their effect is below _NEGLIGIBLE)
            const = full_bias[None, :, None].expand(x.shape[0], -1, x.shape[2])
            pick = const.index_copy(1, live, pick)
        return torch.relu(pick) * scale[:, None] + shift[:, None], live

    def _frontend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`forward_frontend`'s output and the features computed (``None``: all of them).

        The features not computed (their filters skipped in the eval fast path) are the same
        constant at every frame and in every item of the batch.
        """
        self._check_input(x)
        h = self.input_bn(x.unsqueeze(1))  # (B, 1, T, F): time is the conv "height", as in TF
        if self.training:
            return torch.cat([block(h) for block in (*self.front.timbral, *self.front.temporal)], dim=1), None
        outs: list[torch.Tensor] = []
        reach = h.abs().amax() if self.skip_dead_filters and not _tracing() else None
        lives: list[torch.Tensor] = []
        skipped, offset = False, 0
        for blocks, timbral in ((self.front.timbral, True), (self.front.temporal, False)):
            for block in blocks:
                assert isinstance(block, ConvBlock)
                out, live = self._block_fast(block, h, timbral, reach)
                outs.append(out)
                skipped |= live is not None
                computed = torch.arange(out.shape[1], device=out.device) if live is None else live
                lives.append(computed + offset)
                offset += out.shape[1]
        return torch.cat(outs, dim=1), torch.cat(lives) if skipped else None

    def forward_frontend(self, x: torch.Tensor) -> torch.Tensor:
        """Front end: ``(batch, frames, mels)`` -> ``(batch, 561, frames)`` (timbral, then temporal)."""
        return self._frontend(x)[0]

    def _first_mid(self, front: torch.Tensor, live: torch.Tensor | None) -> torch.Tensor:
        """The mid end's first layer, reading only the front end's *live* features where it can.

        A feature that is the constant ``c`` at every frame adds ``c * sum_j w[o, j]`` to the
        convolution's output, the sum over the taps that fall inside the track (all of them
        but at the edges, where the padding is zeros): a per-output-channel term computed
        once, as the convolution of a row of ones with ``sum_i c_i w[o, i, :]``. In the
        pretrained MSD model 497 of the 561 front-end features are such on real audio, so
        the layer, ~15 % of the network's time, shrinks to an eighth (MTT_musicnn: 230 of 561).
        """
        first = self.mid[0]
        if live is None or _tracing() or not (type(first) is _MidBlock and type(first.conv) is nn.Conv1d):
            out: torch.Tensor = first(front)  # a replaced layer is called as it is
            return out
        assert isinstance(first, _MidBlock)
        weight, bias = first.conv.weight, first.conv.bias
        assert bias is not None
        constants = front[0, :, 0].clone()  # a skipped feature is the same at every frame and item
        constants[live] = 0.0
        folded = torch.einsum("i,oij->oj", constants, weight)  # (out, taps): the skipped features' sum
        pad = first.conv.padding[0]
        assert isinstance(pad, int)
        ones = front.new_ones(1, 1, front.shape[2])
        edge = F.conv1d(ones, folded[:, None, :], bias, padding=pad)  # (1, out, frames)
        if len(live):
            y = F.conv1d(front.index_select(1, live), weight.index_select(1, live), None, padding=pad) + edge
        else:  # every feature a constant (an all-zero input)
            y = edge.expand(front.shape[0], -1, -1)
        out = first.bn(torch.relu(y))
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Front and mid end: ``(batch, frames, mels)`` -> ``(batch, 753, frames)``.

        The 753 features per frame are the front end's 561, then the three mid-end
        layers' 64 (the second and third with their residual sums), densely concatenated.
        """
        if type(self).forward_frontend is Musicnn.forward_frontend:
            front, live = self._frontend(x)
        else:  # a subclass's own front end: every feature is read
            front, live = self.forward_frontend(x), None
        feats = [front]
        h = self._first_mid(front, live)
        feats.append(h)
        for block in self.mid[1:]:
            h = block(h) + h
            feats.append(h)
        return torch.cat(feats, dim=1)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        """Max and mean over time, interleaved: ``(batch, C, frames)`` -> ``(batch, 2 C)``."""
        return torch.stack((features.amax(dim=2), features.mean(dim=2)), dim=2).flatten(1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The 1,506-d pooled mid-level features of each patch (before the back end's batch-norm)."""
        return self.pool(self.forward_features(x))

    def forward_head(self, pooled: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooled features -> penultimate embedding (``pre_logits=True``) or tag logits."""
        back = self.back
        h: torch.Tensor = back.dense_bn(torch.relu(back.dense(back.dropout(back.pool_bn(pooled)))))
        if pre_logits:
            return h
        out: torch.Tensor = back.classifier(back.dropout(h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tag logits, ``(batch, num_classes)``, of ``(batch, frames, mels)`` patches."""
        return self.forward_head(self.pooled(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 200-d penultimate embedding (musicnn's ``penultimate``: dense, ReLU, batch-norm)."""
        return self.forward_head(self.pooled(x), pre_logits=True)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Tag probabilities, ``sigmoid(logits)`` (independent tags, as musicnn's taggram)."""
        return torch.sigmoid(self(x))

    def reset_classifier(self, num_classes: int, *, seed: int | None = None) -> None:
        """Replace the tag layer with a fresh one of *num_classes* outputs (for transfer learning)."""
        if num_classes < 1:
            raise ConfigurationError(f"num_classes must be >= 1, got {num_classes}")
        with seeded(seed):
            self.back.classifier = nn.Linear(self.num_features, num_classes)
        self.config = MusicnnConfig.from_dict({**self.config.to_dict(), "n_classes": num_classes})

    def get_config(self) -> dict[str, Any]:
        """The configuration as plain values; ``type(model).from_config(cfg)`` rebuilds the layers."""
        return self.config.to_dict()

    @classmethod
    def from_config(cls: type[ModelT], config: dict[str, Any] | MusicnnConfig, *, seed: int | None = None) -> ModelT:
        """Build a model from :meth:`get_config`'s output (or a :class:`MusicnnConfig`)."""
        cfg = config if isinstance(config, MusicnnConfig) else MusicnnConfig.from_dict(config)
        return cls(cfg, seed=seed)
