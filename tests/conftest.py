"""Shared fixtures: a seeded random generator, test tones and small synthetic GTZAN sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from musicgenre.synthetic import make_synthetic_gtzan

SineFactory = Callable[..., NDArray[np.float32]]

# The tests use tiny tensors, where torch's intra-op threads only add overhead, and on a
# busy shared CPU their spinning makes every small op tens of times slower.
torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: tests draw their random data from it, never from global state."""
    return np.random.default_rng(20240607)


def _sine(
    freq: float = 440.0, *, seconds: float = 1.0, sample_rate: int = 22050, amplitude: float = 0.5
) -> NDArray[np.float32]:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def sine() -> SineFactory:
    """``sine(freq, seconds=..., sample_rate=..., amplitude=...)`` -> float32 samples."""
    return _sine


@pytest.fixture
def tiny_gtzan(tmp_path: Path) -> Path:
    """Ten genres x 2 clips of 1 s as WAV in the original layout (``genres/<genre>/<genre>.0000N.wav``)."""
    return make_synthetic_gtzan(tmp_path / "gtzan", clips_per_genre=2, duration=1.0)
