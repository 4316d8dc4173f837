"""The exceptions and warnings musicgenre raises.

Every error the library raises on purpose derives from :class:`MusicGenreError`, so
``except MusicGenreError`` catches all of them. Each message names the file (or the
argument) at fault and says what to do about it. Problems that still leave usable
output (a truncated file whose samples present are returned) are warnings instead,
derived from :class:`MusicGenreWarning`, so ``warnings.simplefilter("error",
MusicGenreWarning)`` turns all of them into exceptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "AudioDecodeError",
    "CheckpointError",
    "ConfigurationError",
    "DatasetError",
    "DecoderWarning",
    "MissingDependencyError",
    "MusicGenreError",
    "MusicGenreWarning",
    "NonFiniteLossError",
    "SplitMismatchError",
    "TooFewFilesError",
    "TruncatedAudioWarning",
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

    Attributes
    ----------
    path : pathlib.Path or None
        The file or folder the error is about.
    reason : str
        *message* alone, without the path.
    """

    path: Path | None

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """Unpickle an error or warning without calling ``__init__`` again (its arguments are keyword-only).

    So they cross process boundaries intact, e.g. from prediction's loader workers.
    """
    obj = cls.__new__(cls, *args)
    obj.args = args
    obj.__dict__.update(state)
    return obj


class AudioDecodeError(MusicGenreError):
    """An audio file cannot be used: missing, empty, corrupt, unsupported, or holding NaN/Inf."""


class DatasetError(MusicGenreError):
    """A dataset root is missing, empty or holds no usable clip, or a download failed."""


class CheckpointError(MusicGenreError):
    """A checkpoint file is truncated, tampered with, foreign, or does not fit its model."""


class ConfigurationError(MusicGenreError, ValueError):
    """An argument or a configuration value is invalid (also a :class:`ValueError`)."""


class TooFewFilesError(DatasetError):
    """A label has fewer files than the evaluation can work with.

    Raised by :func:`~musicgenre.splits.plan_evaluation` (and ``musicgenre train``, which
    exits with status 2); the message names the label, its count and the minimum.

    Attributes
    ----------
    label : str
        The label that is too small.
    count : int
        Its files.
    minimum : int
        The files a label needs.
    """

    def __init__(self, message: str, *, label: str, count: int, minimum: int, path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.label = label
        self.count = count
        self.minimum = minimum


class SplitMismatchError(DatasetError):
    """The tracks a checkpoint was trained and tested on are not all in the data given, unchanged.

    Raised by :func:`~musicgenre.experiment.evaluate_checkpoint` (and ``musicgenre
    evaluate``) when tracks of the part to score are missing from the dataset, or their
    file content or label changed since training; the message says how many and names a
    few. ``allow_missing=True`` (``--allow-missing``) scores the tracks that match instead.

    Parameters
    ----------
    message
        What is wrong and what to do.
    path
        The dataset folder.
    missing, changed
        Ids of the tracks not found, and of those whose content or label changed.

    Attributes
    ----------
    missing, changed : tuple of str
        Ids of the tracks not found, and of those whose content or label changed.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        missing: tuple[str, ...] = (),
        changed: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, path=path)
        self.missing = missing
        self.changed = changed


class MissingDependencyError(MusicGenreError, ImportError):  # type: ignore[misc]
    """A feature needs an optional extra that is not installed (also an :class:`ImportError`).

    The message names the ``pip install`` command that brings it.
    """


class NonFiniteLossError(MusicGenreError):
    """Training diverged: the training or validation loss became NaN or infinite.

    Parameters
    ----------
    message
        What happened, naming the epoch (and the step), and what to try.
    epoch
        The 1-based epoch.
    step
        The 1-based batch of that epoch (training), or ``None`` (validation).

    Attributes
    ----------
    epoch : int
        The 1-based epoch.
    step : int or None
        The 1-based batch of that epoch, or ``None`` for the validation loss.
    """

    def __init__(self, message: str, *, epoch: int, step: int | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


class MusicGenreWarning(UserWarning):
    """Base class of every warning issued by musicgenre (also a :class:`UserWarning`).

    Parameters
    ----------
    message
        What is wrong, what musicgenre did about it, and what to do.
    path
        The file the warning is about, if any; kept as :attr:`path` and prefixed to the
        message.

    Attributes
    ----------
    path : pathlib.Path or None
        The file the warning is about.
    reason : str
        *message* alone, without the path.
    """

    path: Path | None

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)


class TruncatedAudioWarning(MusicGenreWarning):
    """An audio file holds fewer samples than its header declares; the samples present are used.

    A download or copy that stopped early leaves such a file. libsndfile decodes what is
    there without complaint; :func:`musicgenre.io.load_audio` and
    :func:`musicgenre.io.audio_info` compare the header's declared size with the bytes
    present (WAV, AU and AIFF) or with the samples decoded (MP3), and warn.

    Parameters
    ----------
    message
        What is wrong and what to do.
    path
        The file.
    fraction
        Share of the declared audio that is present, in ``[0, 1)``.

    Attributes
    ----------
    fraction : float
        Share of the declared audio that is present.
    """

    def __init__(self, message: str, *, path: str | Path, fraction: float) -> None:
        super().__init__(message, path=path)
        self.fraction = fraction


class DecoderWarning(MusicGenreWarning):
    """The decoder reported damage in a file it still decoded; the samples it produced are used.

    libmpg123 (MP3) skips frames it cannot parse and resynchronises on the next good one,
    printing notes such as ``Illegal Audio-MPEG-Header ... at offset ...``; the audio can
    then have gaps or clicks. :mod:`musicgenre.io` captures those notes instead of letting
    them reach standard error and issues this warning once per read of the file. It
    captures them only while the decoding thread is the process's only Python thread
    (standard error belongs to the whole process, and another thread's output must never be
    taken); with other threads alive the notes reach standard error as they are, and a file
    that decoded short still gets a :class:`TruncatedAudioWarning`.

    Parameters
    ----------
    message
        What is wrong and what to do.
    path
        The file.
    messages
        The decoder's own lines, as it printed them.

    Attributes
    ----------
    messages : tuple of str
        The decoder's own lines, as it printed them.
    """

    def __init__(self, message: str, *, path: str | Path, messages: tuple[str, ...]) -> None:
        super().__init__(message, path=path)
        self.messages = messages
