"""The exceptions musicgenre raises.

Every error the library raises on purpose derives from :class:`MusicGenreError`, so
``except MusicGenreError`` catches all of them. Each message names the file (or the
argument) at fault and says what to do about it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AudioDecodeError",
    "CheckpointError",
    "ConfigurationError",
    "DatasetError",
    "MissingDependencyError",
    "MusicGenreError",
]


class MusicGenreError(Exception):
    """Base class of every error raised by musicgenre.

    Parameters
    ----------
    message
        What went wrong and what to do about it.
    path
        The file or folder the error is about, if any. It is kept as :attr:`path`
        and prefixed to the message.
    """

    path: Path | None

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class AudioDecodeError(MusicGenreError):
    """An audio file cannot be used: missing, empty, corrupt, unsupported, or holding NaN/Inf."""


class DatasetError(MusicGenreError):
    """A dataset root is missing, empty or holds no usable clip, or a download failed."""


class CheckpointError(MusicGenreError):
    """A checkpoint file is truncated, tampered with, foreign, or does not fit its model."""


class ConfigurationError(MusicGenreError, ValueError):
    """An argument or a configuration value is invalid (also a :class:`ValueError`)."""


class MissingDependencyError(MusicGenreError, ImportError):  # type: ignore[misc]
    """A feature needs an optional extra that is not installed (also an :class:`ImportError`).

    The message names the ``pip install`` command that brings it.
    """
