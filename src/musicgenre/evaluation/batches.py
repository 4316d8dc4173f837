"""A model's outputs over batches of ``(inputs, targets)``: :func:`predict_batches` and :class:`BatchOutputs`.

Use it for models that classify one input per item (a crop, a picture); whole tracks cut
into windows are :mod:`musicgenre.evaluation.tracks`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from musicgenre.errors import ConfigurationError

__all__ = ["BatchOutputs", "predict_batches"]


@dataclass(frozen=True)
class BatchOutputs:
    """A model's outputs over a dataset, one row per item (what :func:`predict_batches` returns).

    Attributes
    ----------
    targets
        True labels, shape ``(n,)``.
    probabilities
        Softmax outputs, shape ``(n, n_classes)``.
    embeddings
        The model's embeddings (``model.embed``), shape ``(n, d)``, or ``None``.
    """

    targets: NDArray[np.int64]
    probabilities: NDArray[np.float32]
    embeddings: NDArray[np.float32] | None

    @property
    def predicted(self) -> NDArray[np.int64]:
        """Arg-max class per item."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)


@torch.no_grad()
def predict_batches(
    model: nn.Module, batches: Iterable[Any], *, device: str | torch.device = "cpu", embeddings: bool = True
) -> BatchOutputs:
    """Run *model* over ``(inputs, targets)`` batches in eval mode.

    Parameters
    ----------
    model
        A classifier; its ``embed`` method (if any) supplies the embeddings.
    batches
        E.g. a ``DataLoader`` of ``(inputs, targets)``.
    device
        Where to run.
    embeddings
        Also collect ``model.embed(inputs)``.

    Returns
    -------
    BatchOutputs
    """
    model.eval().to(device)
    embed = getattr(model, "embed", None) if embeddings else None
    targets, probs, embs = [], [], []
    for inputs, target in batches:
        inputs = inputs.to(device)
        probs.append(torch.softmax(model(inputs), dim=1).cpu())
        if callable(embed):
            embs.append(embed(inputs).cpu())
        targets.append(torch.as_tensor(target).cpu())
    if not targets:
        raise ConfigurationError("no batches to evaluate")
    return BatchOutputs(
        targets=torch.cat(targets).numpy().astype(np.int64),
        probabilities=torch.cat(probs).numpy().astype(np.float32),
        embeddings=torch.cat(embs).numpy().astype(np.float32) if embs else None,
    )
