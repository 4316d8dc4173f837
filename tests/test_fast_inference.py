"""``musicgenre.models.fast``: the inference copy of a model (batch-norm folded, channels-last)."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import nn

from musicgenre.audio import functional as F
from musicgenre.errors import ConfigurationError
from musicgenre.models import GenreCNN, GenreCNNConfig
from musicgenre.models import fast as fast_module
from musicgenre.models.cnn_scoring import score_overlapping, shares_windows
from musicgenre.models.fast import (
    Conv2dReLU,
    fold_batch_norm,
    fuse_conv_relu,
    fused_conv_relu_active,
    optimize_for_inference,
)
from musicgenre.models.scoring import score_windows
from musicgenre.recipes import IMPROVED, REFERENCE


def trained_like(config: GenreCNNConfig, seed: int) -> GenreCNN:
    """A model whose batch-norms hold non-trivial statistics and affine weights, as after training."""
    model = GenreCNN(config, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean is not None
            assert m.running_var is not None
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen))
            m.running_var.copy_(torch.rand(n, generator=gen) * 2 + 0.1)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    return model.eval()


CONFIGS = {"reference": REFERENCE.model_config(10), "improved": IMPROVED.model_config(10)}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimized_copy_predicts_like_the_model(name: str) -> None:
    config = CONFIGS[name]
    model = trained_like(config, seed=3)
    fast = optimize_for_inference(model)
    x = torch.randn(6, 1, config.n_mels, config.n_frames, generator=torch.Generator().manual_seed(0)) * 20 - 40
    with torch.inference_mode():
        expected, got = model(x), fast(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
    assert torch.allclose(torch.softmax(got, 1), torch.softmax(expected, 1), atol=1e-5, rtol=0)
    assert type(fast) is type(model)
    assert fast.config == model.config
    norms = [m for m in fast.modules() if isinstance(m, nn.BatchNorm2d)]
    if config.batch_norm:
        # every block's batch-norm is folded; the input's BatchNorm2d(1) is not (it precedes a padded conv)
        assert norms == ([fast.input_norm] if config.input_norm else [])
    for p in fast.parameters():
        assert not p.requires_grad
        if p.dim() == 4:
            assert p.is_contiguous(memory_format=torch.channels_last)


def test_the_original_model_is_untouched() -> None:
    model = trained_like(IMPROVED.model_config(10), seed=1).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    assert model.training
    assert not fast.training
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 1 + len(model.config.channels)
    assert all(p.requires_grad and p.is_contiguous() for p in model.parameters())


def test_folding_needs_eval_mode_and_leaves_unrelated_layers() -> None:
    with pytest.raises(ConfigurationError, match="eval mode"):
        fold_batch_norm(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))
    norm_first = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 4, 3, padding=1)).eval()
    relu_between = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4)).eval()
    no_stats = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, track_running_stats=False)).eval()
    for model in (norm_first, relu_between, no_stats):
        assert fold_batch_norm(model) == 0
    norm = nn.BatchNorm1d(4)
    conv1d = nn.Sequential(nn.Conv1d(2, 4, 3), norm).eval()
    assert norm.running_mean is not None
    norm.running_mean.fill_(0.5)
    x = torch.randn(3, 2, 20)
    with torch.no_grad():
        expected = conv1d(x)
        assert fold_batch_norm(conv1d) == 1
        assert torch.allclose(conv1d(x), expected, atol=1e-6)


# -- convolution and ReLU in one pass (oneDNN's fused kernel on the CPU) -----------------------------


def test_conv_relu_fusion_takes_conv_then_relu_only() -> None:
    fusable = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Identity(), nn.ReLU(), nn.MaxPool2d(2))
    norm_between = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    relu_first = nn.Sequential(nn.ReLU(), nn.Conv2d(1, 4, 3))
    reflect = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU())
    assert fuse_conv_relu(fusable) == 1
    assert [type(m) for m in fusable] == [Conv2dReLU, nn.Identity, nn.Identity, nn.MaxPool2d]
    for model in (norm_between, relu_first, reflect):
        assert fuse_conv_relu(model) == 0
    assert [type(m) for m in norm_between] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]


X86_64 = platform.machine().lower() in {"x86_64", "amd64", "x64"}
ONEDNN = bool(torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
needs_fusion = pytest.mark.skipif(
    not (X86_64 and ONEDNN),
    reason=f"the fusion runs on x86-64 with oneDNN only; this is {platform.machine()}"
    + ("" if ONEDNN else " without oneDNN"),
)


@contextmanager
def onednn_disabled() -> Iterator[None]:
    """``torch.backends.mkldnn.enabled = False`` for the block, as a user switches oneDNN off."""
    before = bool(torch.backends.mkldnn.enabled)
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # a ContextProp in torch's stubs
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before  # type: ignore[assignment]


@pytest.fixture
def kernel_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the calls of oneDNN's fused kernel (a wrapper around the real operator, which still runs)."""
    calls: list[int] = []
    real = fast_module._CONV_POINTWISE

    def counting(*args: Any) -> Any:
        calls.append(1)
        assert real is not None
        return real(*args)

    monkeypatch.setattr(fast_module, "_CONV_POINTWISE", counting if real is not None else None)
    return calls


@needs_fusion
def test_the_fused_kernel_exists_where_the_fusion_is_meant_to_run() -> None:
    # A torch whose operator is missing or changed its signature would otherwise turn the
    # fusion off without a word: on x86-64 with oneDNN, that is a failure, not a skip.
    assert fast_module._CONV_POINTWISE is not None, "torch.ops.mkldnn._convolution_pointwise is gone or changed"
    assert fused_conv_relu_active()


@needs_fusion
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape", [(3, 1, 96, 130), (2, 16, 48, 65), (1, 2, 8, 8)], ids=["input", "block-2", "tiny"])
def test_fused_conv_relu_computes_relu_of_the_conv(
    shape: tuple[int, int, int, int], channels_last: bool, kernel_calls: list[int]
) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(shape[1], 8, 3, padding=1)
    fused = Conv2dReLU.from_conv(conv)
    assert fused.weight is conv.weight  # shared, not copied
    assert fused.bias is conv.bias
    x = torch.randn(*shape)
    if channels_last:
        conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected, got = torch.relu(conv(x)), fused(x)
        # the edge columns of overlapping windows: no padding along time
        edges = fused.with_padding(x, (1, 0))
        expected_edges = torch.relu(torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=(1, 0)))
    assert len(kernel_calls) == 2, "the fused kernel did not run: Conv2dReLU fell back to conv, then ReLU"
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(edges, expected_edges, rtol=0, atol=1e-6)
    if channels_last and shape[-1] > 8:  # the models' maps in their layout: oneDNN both ways, the same bits
        assert torch.equal(got, expected)


def _conv_and_input() -> tuple[nn.Conv2d, torch.Tensor]:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, padding=1).to(memory_format=torch.channels_last)
    return conv, torch.randn(2, 4, 24, 40).contiguous(memory_format=torch.channels_last)


def test_disabling_onednn_turns_the_fusion_off_at_the_next_call(kernel_calls: list[int]) -> None:
    # Issue 22, defect 6: the private operator ran even with oneDNN disabled by the user.
    conv, x = _conv_and_input()
    fused = Conv2dReLU.from_conv(conv)  # built while oneDNN is enabled: the switch is read at each call
    with torch.inference_mode():
        with onednn_disabled():
            assert not fused_conv_relu_active()
            got = fused(x)
            plain = torch.relu(torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1))
        assert kernel_calls == []
        assert torch.equal(got, plain)  # conv then ReLU: the same numbers
        again = fused(x)  # enabled again
    assert len(kernel_calls) == (1 if X86_64 and ONEDNN else 0)
    torch.testing.assert_close(again, got, rtol=0, atol=1e-6)


@pytest.mark.parametrize("machine", ["aarch64", "arm64", "ppc64le", "riscv64"])
def test_other_architectures_run_conv_then_relu(
    machine: str, monkeypatch: pytest.MonkeyPatch, kernel_calls: list[int]
) -> None:
    conv, x = _conv_and_input()
    monkeypatch.setattr(platform, "machine", lambda: machine)
    assert not fused_conv_relu_active()
    with torch.inference_mode():
        got = Conv2dReLU.from_conv(conv)(x)
    assert kernel_calls == []
    assert torch.equal(got, torch.relu(conv(x)))


def test_a_model_predicts_the_same_with_onednn_disabled(kernel_calls: list[int]) -> None:
    model = trained_like(CONFIGS["improved"], seed=2)
    fast = optimize_for_inference(model)
    cfg = model.config
    x = torch.randn(3, 1, cfg.n_mels, cfg.n_frames, generator=torch.Generator().manual_seed(1)) * 20 - 40
    with torch.inference_mode():
        fused = fast(x)
        calls = len(kernel_calls)
        with onednn_disabled():
            unfused = fast(x)
        expected = model(x)
    assert calls == (len(model.config.channels) if X86_64 and ONEDNN else 0)
    assert len(kernel_calls) == calls  # none while disabled
    torch.testing.assert_close(unfused, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-5)


def test_fused_conv_relu_still_trains() -> None:
    """With autograd on, the layer runs the convolution and then the ReLU: gradients as unfused."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, padding=1)
    x = torch.randn(2, 2, 10, 12)
    torch.relu(conv(x)).square().sum().backward()  # type: ignore[no-untyped-call]
    assert conv.weight.grad is not None
    expected = conv.weight.grad.clone()
    conv.weight.grad = None
    Conv2dReLU.from_conv(conv)(x).square().sum().backward()
    torch.testing.assert_close(conv.weight.grad, expected)


def test_exports_keep_conv_and_relu_apart() -> None:
    model = trained_like(CONFIGS["improved"], seed=0)
    assert sum(isinstance(m, Conv2dReLU) for m in optimize_for_inference(model).modules()) == 4
    assert not any(isinstance(m, Conv2dReLU) for m in optimize_for_inference(model, fuse_relu=False).modules())


# -- overlapping windows share their convolutions (models.scoring.score_overlapping) -----------------


def _windows_and_starts(frames: torch.Tensor, n: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    total = frames.shape[-1]
    count = 1 + max(0, -(-(total - n) // hop))
    return F.segments(frames, n, hop, pad_value=SILENCE), torch.arange(count) * hop


SILENCE = -100.0


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("optimized", [False, True])
@pytest.mark.parametrize(
    ("hop", "frames"),
    [(64, 1292), (64, 40), (16, 333), (128, 1000), (48, 700)],
    ids=["half-overlap-30s", "shorter-than-a-window", "hop-16", "hop-128", "hop-48"],
)
def test_shared_windows_score_like_windows_one_by_one(name: str, optimized: bool, hop: int, frames: int) -> None:
    model = trained_like(CONFIGS[name], seed=3)
    if optimized:
        model = optimize_for_inference(model)
    n = CONFIGS[name].n_frames
    track = torch.randn(1, CONFIGS[name].n_mels, frames, generator=torch.Generator().manual_seed(frames)) * 20 - 40
    windows, starts = _windows_and_starts(track, n, hop)
    expected = score_windows(model, windows).logits
    shared = score_overlapping(model, track, starts, n, pad_value=SILENCE)
    if hop % 16:  # the windows' starts must fall on the 2**4 grid of the four max-pools
        assert shared is None
        return
    assert shared is not None
    torch.testing.assert_close(shared, expected, rtol=0, atol=1e-5)


def test_shared_windows_refuse_what_they_cannot_reproduce() -> None:
    class Strided(GenreCNN):  # a subclass whose blocks pool with stride 1: edges are no longer local
        def make_block(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 1))

    class OwnForward(GenreCNN):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) * 2

    config = CONFIGS["improved"]
    track = torch.zeros(1, config.n_mels, 400)
    starts = torch.arange(5) * 64
    assert shares_windows(trained_like(config, 0))
    assert not shares_windows(Strided(config, seed=0).eval())
    assert not shares_windows(OwnForward(config, seed=0).eval())
    assert not shares_windows(GenreCNN(config, seed=0).train())  # batch-norm in training mode
    assert score_overlapping(OwnForward(config, seed=0).eval(), track, starts, config.n_frames, pad_value=0.0) is None


def test_channels_last_only_where_a_convolution_reads_many_channels() -> None:
    from musicgenre.models import MusicnnClassifier

    def outputs_channels_last(model: nn.Module) -> list[bool]:
        layouts = []
        with torch.inference_mode():
            for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
                y = conv(torch.randn(1, conv.in_channels, 140, 100))
                layouts.append(y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous())
        return layouts

    cnn = optimize_for_inference(GenreCNN(seed=0).eval())
    assert all(outputs_channels_last(cnn))  # the CNN's convolutions write channels-last maps
    # musicnn's 2-d convolutions all read the one-channel spectrogram: left in the default layout
    musicnn = optimize_for_inference(MusicnnClassifier(n_classes=3, seed=0).eval())
    assert outputs_channels_last(musicnn) == [False] * 5
    forced = outputs_channels_last(optimize_for_inference(GenreCNN(seed=0).eval(), channels_last=False))
    assert not any(forced[1:])  # (oneDNN's fused first layer picks its own layout for a one-channel input)
