"""Small helpers shared by every layer: the path type and configuration (de)serialisation.

Private to the package (no public name here); everything public re-exports what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from musicgenre.errors import ConfigurationError

__all__ = ["StrPath", "check_keys", "from_plain"]

#: A filesystem path as users pass it: ``str`` or any :class:`os.PathLike`.
StrPath = str | os.PathLike[str]

T = TypeVar("T")


def check_keys(cls: type[Any], data: Mapping[str, Any]) -> None:
    """Raise :class:`~musicgenre.errors.ConfigurationError` naming the keys of *data* that *cls* (a dataclass) lacks."""
    unknown = set(data) - set(cls.__dataclass_fields__)
    if unknown:
        raise ConfigurationError(f"unknown {cls.__name__} keys: {sorted(unknown)}")


def from_plain(cls: Callable[..., T], data: Mapping[str, Any], **convert: Callable[[Any], Any]) -> T:
    """Rebuild dataclass *cls* from its ``to_dict`` output, converting the fields named in *convert*.

    Unknown keys raise :class:`~musicgenre.errors.ConfigurationError` (see :func:`check_keys`).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     sizes: tuple[int, ...] = (1,)
    >>> from_plain(Example, {"sizes": [2, 3]}, sizes=tuple)
    Example(sizes=(2, 3))
    """
    check_keys(cls, data)  # type: ignore[arg-type]
    values = dict(data)
    for name, conv in convert.items():
        if name in values:
            values[name] = conv(values[name])
    return cls(**values)
