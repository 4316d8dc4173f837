"""Decoding: audio files into float32 tensors, whole or block by block, with typed errors that name the file.

Decoding goes through :mod:`soundfile` (libsndfile: WAV, AU, FLAC, OGG/Vorbis/Opus, MP3,
AIFF); resampling uses :mod:`soxr`. :func:`load_audio` decodes a whole file;
:func:`iter_audio_blocks` decodes it block by block, so memory stays bounded for any
length. Both go through one implementation of mixing and resampling (``_convert``), so
the blocks of a file, concatenated, equal :func:`load_audio`'s waveform (exactly, or within
1e-6 for MP3; see :func:`iter_audio_blocks`). This module imports PyTorch only where it
makes tensors, so that decoding can start while PyTorch loads.

The other jobs around decoding live beside it, in private modules: ``_convert`` (16-bit
reads, channel mixing, resampling), ``_headers`` (a WAV, AIFF or AU header against the
bytes present: a truncated file) and ``_mpg123`` (libmpg123's messages on standard error:
a damaged MP3).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from musicgenre._config import StrPath
from musicgenre.errors import AudioDecodeError, ConfigurationError
from musicgenre.io._convert import Converter, Samples, read_samples
from musicgenre.io._headers import no_samples, truncation, truncation_warning
from musicgenre.io._mpg123 import decoder_detail, decoder_stderr, decoder_warning, is_mpeg
from musicgenre.io.files import AUDIO_EXTENSIONS

if TYPE_CHECKING:  # imported where tensors are made: decoding can start while PyTorch loads
    import torch

__all__ = ["AudioInfo", "audio_info", "iter_audio_blocks", "load_audio", "load_mono", "waveform_to_mono"]


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says about its audio.

    Attributes
    ----------
    path
        The file.
    sample_rate
        Samples per second per channel.
    channels
        Number of channels.
    frames
        Number of samples per channel.
    format
        libsndfile's name of the container, e.g. ``"WAV"`` or ``"FLAC"``.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate > 0 else 0.0


def _check_file(path: Path) -> None:
    """Raise :class:`AudioDecodeError` if *path* is no readable, non-empty regular file."""
    if not path.exists():
        raise AudioDecodeError("file not found; check the path", path=path)
    if path.is_dir():
        raise AudioDecodeError("is a directory, not an audio file; pass the audio files inside it", path=path)
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise AudioDecodeError("cannot be read: permission denied; check the file's permissions", path=path) from None
    except OSError as exc:
        raise AudioDecodeError(
            f"cannot be opened: {exc.strerror or exc}; check that it is a regular, readable file", path=path
        ) from None
    if path.stat().st_size == 0:
        raise AudioDecodeError(
            "is empty (0 bytes); the file was not written completely: copy or export it again", path=path
        )


def _decode_failure(path: Path, exc: Exception, decoder_lines: list[str]) -> AudioDecodeError:
    suffix = path.suffix.lower()
    detail = str(exc).split(":", 1)[-1].strip() if ":" in str(exc) else str(exc)
    if "does not exist" in detail:  # libsndfile's wording when no decoder accepts the bytes
        detail = "no decoder recognised its contents"
    detail = decoder_detail(decoder_lines) or detail  # libmpg123's own words beat "Unspecified internal error"
    if suffix not in AUDIO_EXTENSIONS:
        supported = ", ".join(AUDIO_EXTENSIONS)
        return AudioDecodeError(
            f"unsupported format {suffix or '(no extension)'!r}; supported: {supported}. "
            "If it is audio, convert it (e.g. with ffmpeg) to WAV or FLAC; if not, leave it out",
            path=path,
        )
    kind = suffix.lstrip(".").upper()
    return AudioDecodeError(
        f"not a valid {kind} file, or it is corrupt ({detail}); re-encode or remove it",
        path=path,
    )


_DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)


def _check_rate(sample_rate: int | None) -> None:
    if sample_rate is not None and sample_rate <= 0:
        raise ConfigurationError(f"sample_rate must be positive, got {sample_rate}")


# -- public functions -----------------------------------------------------------------------


def waveform_to_mono(
    waveform: torch.Tensor | NDArray[np.floating[Any]], *, sample_rate: int, target_rate: int
) -> torch.Tensor:
    """Mix an in-memory waveform to mono at *target_rate*: what :func:`load_audio` does to files.

    The same channel mix-down and soxr resampling as decoding a file with
    ``load_audio(path, sample_rate=target_rate, mono=True)``, for audio you already hold.

    Parameters
    ----------
    waveform
        ``(time,)`` or ``(channels, time)`` samples (tensor or array).
    sample_rate
        Rate of *waveform*.
    target_rate
        Rate of the result.

    Returns
    -------
    torch.Tensor
        ``(time,)`` float32 samples at *target_rate* (at least one).

    Raises
    ------
    ConfigurationError
        If *waveform* is empty, not 1-D or 2-D, or holds NaN or infinite samples, or a rate
        is not positive.

    Examples
    --------
    >>> import torch
    >>> stereo = torch.stack([torch.ones(4410), torch.zeros(4410)])
    >>> mono = waveform_to_mono(stereo, sample_rate=44100, target_rate=22050)
    >>> tuple(mono.shape), round(float(mono[1000]), 3)
    ((2205,), 0.5)
    """
    import torch

    data = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    if data.ndim not in (1, 2) or data.size == 0:
        raise ConfigurationError(f"waveform must be (time,) or (channels, time) and non-empty, got {data.shape}")
    if not np.isfinite(data).all():
        raise ConfigurationError("waveform holds NaN or infinite samples")
    for name, rate in (("sample_rate", sample_rate), ("target_rate", target_rate)):
        if rate <= 0:
            raise ConfigurationError(f"{name} must be positive, got {rate}")
    frames = np.ascontiguousarray(data.astype(np.float32, copy=False).reshape(-1, data.shape[-1]).T)
    # The mixing and resampling of a decoded file (one block: the whole waveform).
    convert = Converter(Path("<waveform>"), sample_rate, frames.shape[1], sample_rate=target_rate, mono=True)
    wave = convert(frames, last=True)
    assert wave is not None  # a non-empty block always converts to at least one sample
    return wave[0]


def audio_info(path: StrPath) -> AudioInfo:
    """Read a file's header without decoding its samples.

    Parameters
    ----------
    path
        An audio file.

    Returns
    -------
    AudioInfo
        Sample rate, channels, frames and container format.

    Raises
    ------
    AudioDecodeError
        If the file is missing, a directory, unreadable, empty, not audio, or holds no samples.

    Warns
    -----
    TruncatedAudioWarning
        If a WAV, AU or AIFF header declares more audio than the file holds; ``frames``
        counts the samples present.
    DecoderWarning
        If the MP3 decoder reported damaged frames while reading the header.
        Captured only where the decoding thread is the process's only Python thread
        (see :mod:`musicgenre.io`); elsewhere the decoder's notes go to standard error.
    """
    p = Path(path)
    _check_file(p)
    lines: list[str] = []
    try:
        with decoder_stderr(lines, is_mpeg(p)):
            info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _decode_failure(p, exc, lines) from None
    truncated = truncation(p)
    if info.frames <= 0:
        raise no_samples(p, truncated)
    if truncated is not None:
        warnings.warn(truncation_warning(p, truncated[1], truncated[0], "bytes"), stacklevel=2)
    damage = decoder_warning(p, lines)
    if damage is not None:
        warnings.warn(damage, stacklevel=2)
    return AudioInfo(p, int(info.samplerate), int(info.channels), int(info.frames), info.format)


def load_audio(path: StrPath, *, sample_rate: int | None = None, mono: bool = False) -> tuple[torch.Tensor, int]:
    """Decode an audio file into a float32 tensor.

    Parameters
    ----------
    path
        A WAV, AU, FLAC, OGG, MP3 or AIFF file.
    sample_rate
        If given, resample to this rate (with soxr, high quality); else keep the file's rate.
    mono
        If true, average the channels into one (the reference's ``rechannel``), before
        resampling; if false (the default, as in soundfile and torchaudio), keep the
        file's channels.

    Returns
    -------
    waveform : torch.Tensor
        Shape ``(channels, time)``, dtype float32, samples in [-1, 1] for integer files.
    sample_rate : int
        The rate of the returned waveform.

    Raises
    ------
    AudioDecodeError
        If the file is missing, a directory, unreadable, empty, not audio (or in an
        unsupported format), holds no samples, or holds NaN or infinite samples. The
        message names the file.
    ConfigurationError
        If *sample_rate* is not positive.

    Warns
    -----
    TruncatedAudioWarning
        If the file holds less audio than its header declares (a WAV, AU or AIFF whose
        data stops early, or an MP3 that decodes to fewer samples than it announces). The
        samples present are returned.
    DecoderWarning
        If the MP3 decoder reported damaged frames and skipped them.
        Captured only where the decoding thread is the process's only Python thread
        (see :mod:`musicgenre.io`); elsewhere the decoder's notes go to standard error.

    See Also
    --------
    iter_audio_blocks : The same waveform, block by block, in bounded memory.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "blues.00000.wav")
    >>> sf.write(path, np.zeros((44100, 2), dtype="float32"), 44100)
    >>> wave, sr = load_audio(path, sample_rate=22050, mono=True)
    >>> tuple(wave.shape), sr
    ((1, 22050), 22050)
    """
    p = Path(path)
    _check_file(p)
    _check_rate(sample_rate)
    decoded = _decode(p)
    for note in decoded.notes:
        warnings.warn(note, stacklevel=2)
    convert = Converter(p, decoded.file_rate, decoded.data.shape[1], sample_rate=sample_rate, mono=mono)
    wave = convert(decoded.data, last=True)
    assert wave is not None  # a non-empty block always converts to at least one sample
    return wave, convert.rate


@dataclass(frozen=True)
class _Decoded:
    """A whole file's samples as libsndfile decodes them, and the warnings it calls for."""

    data: Samples  # (frames, channels)
    file_rate: int
    notes: tuple[Warning, ...]


def _decode(p: Path) -> _Decoded:
    """Decode the whole of *p* (checked by :func:`_check_file`).

    Issues no warning itself: they are returned, in the order :func:`load_audio` issues them.
    """
    lines: list[str] = []
    try:
        with decoder_stderr(lines, is_mpeg(p)), sf.SoundFile(str(p)) as fh:
            announced, file_rate = fh.frames, int(fh.samplerate)
            data = read_samples(fh)
    except _DECODE_ERRORS as exc:
        raise _decode_failure(p, exc, lines) from None
    truncated = truncation(p)
    if data.shape[0] == 0:
        raise no_samples(p, truncated)
    damage = decoder_warning(p, lines, data.shape[0], announced)
    notes: list[Warning] = []
    if truncated is not None:
        notes.append(truncation_warning(p, truncated[1], truncated[0], "bytes"))
    elif damage is None and data.shape[0] < 0.99 * announced:  # e.g. an MP3 whose frame count is in its Xing header
        notes.append(truncation_warning(p, data.shape[0], announced, "samples"))
    if damage is not None:
        notes.append(damage)
    return _Decoded(data, file_rate, tuple(notes))


def iter_audio_blocks(
    path: StrPath, *, sample_rate: int | None = None, mono: bool = False, block_seconds: float = 30.0
) -> Iterator[torch.Tensor]:
    """Decode an audio file block by block, in memory bounded by the block size.

    The blocks, concatenated along time, equal :func:`load_audio`'s waveform for the same
    *sample_rate* and *mono*: exactly for WAV, FLAC, AIFF, AU and OGG (the channel
    mixing and soxr's stream resampler give the same samples whichever way the file is
    cut), and within 1e-6 for MP3, whose decoder in libsndfile rounds the samples after a
    read boundary one float32 step differently (measured: at most 6e-8 before resampling,
    2e-7 after; a 16-bit step is 3e-5).

    Parameters
    ----------
    path
        A WAV, AU, FLAC, OGG, MP3 or AIFF file.
    sample_rate
        If given, resample to this rate (with soxr, high quality); else keep the file's rate.
    mono
        If true, average the channels into one before resampling; if false (the default,
        as for :func:`load_audio`), keep the file's channels.
    block_seconds
        Seconds of the file decoded per step. Decoding holds about ``block_seconds x
        rate x channels x 4`` bytes at a time (10.6 MB for 30 s of 44.1 kHz stereo).

    Returns
    -------
    Iterator[torch.Tensor]
        float32 blocks of shape ``(channels, time)`` at *sample_rate*. Their lengths are
        about ``block_seconds`` of audio but aligned to nothing: the resampler's delay
        makes the first shorter and the last longer, and the file's end makes the last
        one whatever remains.

    Raises
    ------
    AudioDecodeError
        At the call if the file is missing, a directory, unreadable, empty or not audio;
        while iterating if it holds no samples, NaN or infinite samples (the block that
        holds them), or fails to decode part-way (the blocks before it were yielded).
    ConfigurationError
        If *sample_rate* or *block_seconds* is not positive.

    Warns
    -----
    TruncatedAudioWarning
        If a WAV, AU or AIFF header declares more audio than the file holds (before the
        first block), or an MP3 decodes to fewer samples than it announces (after the last).
    DecoderWarning
        After the last block, if the MP3 decoder reported damaged frames and skipped them.
        Captured only where the decoding thread is the process's only Python thread
        (see :mod:`musicgenre.io`); elsewhere the decoder's notes go to standard error.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "long.wav")
    >>> sf.write(path, np.zeros((10 * 44100, 2), dtype="float32"), 44100)
    >>> blocks = list(iter_audio_blocks(path, sample_rate=22050, mono=True, block_seconds=4.0))
    >>> torch.cat(blocks, dim=-1).shape
    torch.Size([1, 220500])
    """
    p = Path(path)
    _check_file(p)
    _check_rate(sample_rate)
    if not block_seconds > 0:
        raise ConfigurationError(f"block_seconds must be positive, got {block_seconds}")
    lines: list[str] = []
    try:
        with decoder_stderr(lines, is_mpeg(p)):
            fh = sf.SoundFile(str(p))
    except _DECODE_ERRORS as exc:
        raise _decode_failure(p, exc, lines) from None
    return _blocks(p, fh, lines, sample_rate=sample_rate, mono=mono, block_seconds=block_seconds)


def _blocks(
    path: Path, fh: sf.SoundFile, lines: list[str], *, sample_rate: int | None, mono: bool, block_seconds: float
) -> Iterator[torch.Tensor]:
    """The generator behind :func:`iter_audio_blocks`; closes *fh* when done or closed."""
    with fh:
        announced, file_rate = fh.frames, int(fh.samplerate)
        block_frames = max(1, round(block_seconds * file_rate))
        convert = Converter(path, file_rate, fh.channels, sample_rate=sample_rate, mono=mono)
        truncated = truncation(path)
        decoded = 0
        while True:
            try:
                with decoder_stderr(lines, is_mpeg(path)):  # per read: never held across a yield
                    block = read_samples(fh, block_frames)
            except _DECODE_ERRORS as exc:
                raise _decode_failure(path, exc, lines) from None
            last = block.shape[0] == 0  # a short read may still be followed by more
            if decoded == 0:
                if last:
                    raise no_samples(path, truncated)
                if truncated is not None:
                    warnings.warn(truncation_warning(path, truncated[1], truncated[0], "bytes"), stacklevel=2)
            decoded += block.shape[0]
            if last:
                damage = decoder_warning(path, lines, decoded, announced)
                if truncated is None and damage is None and decoded < 0.99 * announced:
                    warnings.warn(truncation_warning(path, decoded, announced, "samples"), stacklevel=2)
                if damage is not None:
                    warnings.warn(damage, stacklevel=2)
            wave = convert(block, last=last)
            if wave is not None:
                yield wave
            if last:
                return


def load_mono(path: StrPath, *, sample_rate: int) -> torch.Tensor:
    """A file's ``(time,)`` mono samples at *sample_rate*.

    ``load_audio(path, sample_rate=sample_rate, mono=True)[0][0]``.

    Parameters
    ----------
    path
        A WAV, AU, FLAC, OGG, MP3 or AIFF file.
    sample_rate
        The rate of the result.

    Returns
    -------
    torch.Tensor
        ``(time,)`` float32 samples.

    Raises
    ------
    AudioDecodeError
        As :func:`load_audio`.
    ConfigurationError
        If *sample_rate* is not positive.
    """
    return load_audio(path, sample_rate=sample_rate, mono=True)[0][0]
