"""GenreCNN: the reference architecture, its shapes, seeding, config round trip and extension points."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from musicgenre.errors import ConfigurationError
from musicgenre.models import GenreCNN, GenreCNNConfig


def _x(rng: np.random.Generator, batch: int = 2, frames: int = 215) -> torch.Tensor:
    return torch.from_numpy(rng.normal(-40.0, 15.0, size=(batch, 1, 64, frames)).astype(np.float32))


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# -- the reference model -------------------------------------------------------------------


def test_default_model_has_the_reference_parameter_count() -> None:
    # 3x3 convs 1->8->16->32->64 (+ biases), then 64*4*13 -> 128 -> 10.
    convs = sum(c_in * c_out * 9 + c_out for c_in, c_out in [(1, 8), (8, 16), (16, 32), (32, 64)])
    linear = (64 * 4 * 13) * 128 + 128 + 128 * 10 + 10
    assert convs + linear == 451_786
    assert _n_params(GenreCNN()) == 451_786


def test_shapes_through_the_network(rng: np.random.Generator) -> None:
    model = GenreCNN(seed=0).eval()
    x = _x(rng, batch=3)
    assert model.forward_features(x).shape == (3, 64, 4, 13)  # 64 // 16, 215 // 16
    assert model(x).shape == (3, 10)
    embedding = model.embed(x)
    assert embedding.shape == (3, 128)
    assert torch.all(embedding >= 0)  # post-ReLU activations
    assert (model.num_classes, model.num_features) == (10, 128)
    assert GenreCNNConfig().feature_shape == (64, 4, 13)


def test_forward_head_splits_like_timm(rng: np.random.Generator) -> None:
    model = GenreCNN(seed=0).eval()
    x = _x(rng)
    features = model.forward_features(x)
    torch.testing.assert_close(model.forward_head(features), model(x))
    torch.testing.assert_close(model.forward_head(features, pre_logits=True), model.embed(x))
    torch.testing.assert_close(model.classifier(model.embed(x)), model(x))  # eval: dropout is a no-op


def test_batched_forward_equals_per_item(rng: np.random.Generator) -> None:
    model = GenreCNN(seed=1).eval()
    x = _x(rng, batch=4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.cat([model(x[i : i + 1]) for i in range(4)]), atol=1e-5, rtol=1e-5)


def test_dropout_only_in_training_mode(rng: np.random.Generator) -> None:
    model = GenreCNN(seed=2)
    x = _x(rng, batch=4)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model(x), model(x))
        model.train()
        torch.manual_seed(0)
        first = model(x)
        assert not torch.equal(first, model(x))


# -- seeding -------------------------------------------------------------------------------


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    assert _same_weights(GenreCNN(seed=42), GenreCNN(seed=42))
    assert not _same_weights(GenreCNN(seed=42), GenreCNN(seed=43))


def test_seeding_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    GenreCNN(seed=0)
    assert torch.equal(torch.get_rng_state(), before)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    GenreCNN(seed=0)
    assert torch.equal(torch.rand(3), expected)


# -- configuration -------------------------------------------------------------------------


def test_config_round_trip_rebuilds_the_same_model() -> None:
    model = GenreCNN(n_classes=5, channels=(4, 8, 16), embedding_dim=32, dropout=0.1, batch_norm=True, seed=3)
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config  # plain JSON values

    rebuilt = GenreCNN.from_config(config, seed=3)

    assert rebuilt.get_config() == config
    assert rebuilt.config == model.config
    assert _same_weights(rebuilt, model)
    assert GenreCNN.from_config(GenreCNNConfig.from_dict(config)).config == model.config


def test_overrides_change_the_layers(rng: np.random.Generator) -> None:
    model = GenreCNN(n_classes=4, embedding_dim=16).eval()
    assert model(_x(rng)).shape == (2, 4)
    assert model.embed(_x(rng)).shape == (2, 16)


def test_reset_classifier_for_fine_tuning(rng: np.random.Generator) -> None:
    model = GenreCNN(seed=0)
    backbone = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("classifier")}

    model.reset_classifier(5, seed=1)

    model.eval()
    assert model(_x(rng)).shape == (2, 5)
    assert model.num_classes == 5
    assert model.get_config()["n_classes"] == 5
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in backbone.items())  # only the head changed
    assert GenreCNN.from_config(model.get_config()).num_classes == 5
    other = GenreCNN(seed=0)
    other.reset_classifier(5, seed=1)
    assert torch.equal(other.classifier.weight, model.classifier.weight)


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ((2, 64, 215), "(batch, 1, 64, frames)"),
        ((2, 2, 64, 215), "(batch, 1, 64, frames)"),
        ((2, 1, 32, 215), "(batch, 1, 64, frames)"),
        ((2, 1, 64, 100), "global_pool=True"),
    ],
)
def test_wrong_input_shape_raises_a_clear_error(shape: tuple[int, ...], words: str) -> None:
    model = GenreCNN()
    with pytest.raises(ConfigurationError) as info:
        model(torch.zeros(shape))
    message = str(info.value)
    assert words in message
    assert str(tuple(shape)) in message or str(shape[-1]) in message


@pytest.mark.parametrize("frames", [16, 100, 215, 431])
def test_global_pool_accepts_any_length(rng: np.random.Generator, frames: int) -> None:
    model = GenreCNN(global_pool=True, seed=0).eval()
    x = _x(rng, frames=frames)
    assert model(x).shape == (2, 10)
    assert model.embed(x).shape == (2, 128)
    assert model.forward_features(x).shape == (2, 64, 4, frames // 16)


@pytest.mark.parametrize(
    "overrides",
    [
        {"dropout": 1.0},
        {"n_classes": 0},
        {"channels": ()},
        {"n_frames": 8},  # too short for four 2x2 poolings
        {"channels": (8, 16, 32, 64, 128, 256, 512)},  # 64 mels cannot be halved seven times
    ],
)
def test_invalid_config_raises(overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        GenreCNN(**overrides)


def test_unknown_config_key_raises() -> None:
    with pytest.raises(ConfigurationError, match="unknown"):
        GenreCNN.from_config({**GenreCNN().get_config(), "kernel": 5})


# -- subclassing ---------------------------------------------------------------------------


class WideFirstBlock(GenreCNN):
    """A downstream model: the first block uses a 5x5 convolution."""

    def make_block(self, index: int, in_channels: int, out_channels: int) -> nn.Module:
        if index == 0:
            return nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2)
            )
        return super().make_block(index, in_channels, out_channels)


def test_subclass_overriding_make_block(rng: np.random.Generator) -> None:
    model = WideFirstBlock(seed=0).eval()
    x = _x(rng)

    assert model(x).shape == (2, 10)
    assert model.forward_features(x).shape == (2, 64, 4, 13)
    kernels = [m.kernel_size for m in model.blocks.modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(5, 5), (3, 3), (3, 3), (3, 3)]
    assert _n_params(model) == 451_786 + 8 * (25 - 9)  # only the first kernel grew

    rebuilt = WideFirstBlock.from_config(model.get_config(), seed=0)
    assert type(rebuilt) is WideFirstBlock
    assert _same_weights(rebuilt, model)


# -- the model contract (musicgenre.models.protocol) ---------------------------------------


def test_input_spec_says_what_each_model_reads() -> None:
    from musicgenre.audio import FeatureConfig
    from musicgenre.models import GenreModel, MusicnnClassifier, MusicnnClassifierConfig, SpectrogramImageCNN

    features = FeatureConfig()
    cnn = GenreCNN(seed=0).input_spec(features)
    assert (cnn.name, cnn.shape, cnn.features) == ("log_mel", ("batch", 1, 64, 215), features)
    assert cnn.front_end is not None
    assert cnn.front_end["kind"] == "log_mel_db"
    assert GenreCNN(seed=0, global_pool=True).input_spec().shape == ("batch", 1, 64, "frames")
    assert GenreCNN(seed=0).input_spec().front_end is None  # no FeatureConfig: unknown
    image = SpectrogramImageCNN(seed=0).input_spec(features)
    assert (image.name, image.shape, image.features) == ("image", ("batch", 3, 128, 128), None)
    musicnn = MusicnnClassifier(MusicnnClassifierConfig(n_classes=2), seed=0).input_spec(features)
    assert (musicnn.name, musicnn.shape, musicnn.features) == ("musicnn_frames", ("batch", 1, 96, "frames"), None)
    assert musicnn.front_end is not None
    assert (musicnn.front_end["formula"], musicnn.front_end["sample_rate"]) == ("log10(10000 * mel_power + 1)", 16000)
    assert tuple(musicnn.example(3).shape) == (3, 1, 96, 187)
    # forward and embed are the base class's: backbone, then head
    assert GenreCNN.forward is GenreModel.forward
    assert GenreCNN.embed is GenreModel.embed
    assert MusicnnClassifier.forward is GenreModel.forward
