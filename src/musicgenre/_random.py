"""Seeded randomness shared by the models and the data: every random step takes a seed or generator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["item_generator", "seeded"]


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Draw from torch's global generator seeded with *seed*, restoring its state afterwards.

    ``None`` leaves the global generator as it is (and draws from it). Used where layers are
    built (their initial weights), so building a model with a seed never disturbs the
    caller's random stream.
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from ``(seed, epoch, index)`` alone, for one item's augmentation.

    Each item of each epoch gets its own stream, whichever process reads it: so loader
    workers never replay each other's draws, and the draws do not depend on
    ``num_workers``, on the start method (fork or spawn) or on the order of the items.

    Examples
    --------
    >>> a = torch.rand(2, generator=item_generator(0, 1, 5))
    >>> torch.equal(a, torch.rand(2, generator=item_generator(0, 1, 5)))
    True
    >>> torch.equal(a, torch.rand(2, generator=item_generator(0, 2, 5)))
    False
    """
    state = np.random.SeedSequence([seed % 2**63, epoch, index]).generate_state(1, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0]))
