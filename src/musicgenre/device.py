"""Choosing the torch device: one small helper that training and inference share."""

from __future__ import annotations

import torch

from musicgenre.errors import ConfigurationError

__all__ = ["resolve_device"]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is passed to :class:`torch.device`.

    Raises
    ------
    ConfigurationError
        If *device* is not a device torch knows.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ConfigurationError(f"invalid device {device!r}: {exc}") from None
