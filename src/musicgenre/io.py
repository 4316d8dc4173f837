"""Audio input: decode files into float32 tensors, with typed errors that name the file.

Decoding goes through :mod:`soundfile` (libsndfile: WAV, AU, FLAC, OGG/Vorbis/Opus, MP3,
AIFF); resampling uses :mod:`soxr`, which is about ten times faster than a windowed-sinc
resampler for the common 44.1 kHz -> 22.05 kHz case. :func:`load_audio` decodes a whole
file; :func:`iter_audio_blocks` decodes it block by block, so memory stays bounded for any
length. Both go through one implementation of mixing and resampling (``_Converter``),
so the blocks of a file, concatenated, equal :func:`load_audio`'s waveform (exactly, or
within 1e-6 for MP3; see :func:`iter_audio_blocks`). This module imports PyTorch only
where it makes tensors. :func:`find_audio_files` lists a folder's audio files.

Channels are mixed to mono *before* resampling (one resampler channel, not two) by a sum
of column views of soundfile's ``(frames, channels)`` array: numpy's ``mean(axis=1)`` over
a short last axis is a strided reduction, about 25 times slower for stereo, with the same
result to the bit.

Truncated files. libsndfile decodes a file whose audio was cut short (an interrupted
download or copy) without complaint: it shortens ``frames`` to the samples present, reads
them all and sets no error, so neither the frame count nor the error code tells a
truncated file from a complete one. Its only trace is the human-readable open log
(``SoundFile.extra_info``), whose wording differs by container (``data : 88200 (should be
29370)``, ``SSND : ... (should be ...)``, ``Data Size : ...``, or for RF64 ``*** Calculated
frame count ... does not match value from 'ds64' chunk``) and is no documented interface.
The sizes in a WAV, AU or AIFF header, on the other hand, are fixed by those formats'
specifications, so musicgenre reads them (the first 64 KiB of the file, a few
microseconds), compares what the header declares with what is there and issues a
:class:`~musicgenre.errors.TruncatedAudioWarning` naming the file and the share present.
For MP3, whose length lives in an optional Xing/Info frame, the decoder's own count is
the signal: fewer samples decoded than announced. A truncated FLAC or OGG fails to decode
and raises :class:`~musicgenre.errors.AudioDecodeError`.

Decoder messages. libmpg123, libsndfile's MP3 decoder, prints notes such as ``Note:
Illegal Audio-MPEG-Header 0x... at offset ...`` straight to the process's standard error
(file descriptor 2) when it meets damaged frames, and offers no switch through libsndfile
to silence them. While it decodes an MP3, musicgenre points descriptor 2 at a private
file (``os.dup2``, about 10 microseconds a read), then turns what the decoder wrote into
one :class:`~musicgenre.errors.DecoderWarning` naming the file (or into the detail of the
:class:`~musicgenre.errors.AudioDecodeError` when decoding fails). Lines that do not look
like the decoder's are written back to the real standard error. Descriptor 2 belongs to
the whole process, so the redirection is serialised by a lock: MP3 reads from several
threads of one process take turns (per block for :func:`iter_audio_blocks`); other
formats, and separate processes such as data-loader workers, are not affected.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

from musicgenre._config import StrPath
from musicgenre.errors import (
    AudioDecodeError,
    ConfigurationError,
    DecoderWarning,
    TruncatedAudioWarning,
)

if TYPE_CHECKING:  # imported where tensors are made: decoding can start while PyTorch loads
    import torch

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioInfo",
    "audio_info",
    "find_audio_files",
    "iter_audio_blocks",
    "load_audio",
    "load_mono",
    "walk_files",
    "waveform_to_mono",
]

#: File extensions (lower case) that :func:`load_audio` decodes and datasets look for.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")

Samples = NDArray[np.float32]


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


_UNSET_SIZES = (0, 0xFFFFFFFF)  # what streaming writers leave in a size field they cannot fill in


def _riff_data_chunk(head: bytes) -> tuple[int, int] | None:
    """``(declared size, offset)`` of a RIFF/RIFX/RF64 WAVE file's data chunk, if *head* reaches it."""
    order = ">" if head[:4] == b"RIFX" else "<"
    pos, ds64_size = 12, None
    while pos + 8 <= len(head):
        chunk = head[pos : pos + 4]
        (size,) = struct.unpack(order + "I", head[pos + 4 : pos + 8])
        if chunk == b"ds64" and pos + 24 <= len(head):  # RF64: the 64-bit sizes live here
            (ds64_size,) = struct.unpack("<Q", head[pos + 16 : pos + 24])
        if chunk == b"data":
            if size == 0xFFFFFFFF and ds64_size is not None:
                size = ds64_size
            return size, pos + 8
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def _aiff_data_chunk(head: bytes) -> tuple[int, int] | None:
    """``(declared size, offset)`` of an AIFF/AIFC file's sample data, if *head* reaches it."""
    pos = 12
    while pos + 16 <= len(head):
        chunk = head[pos : pos + 4]
        (size,) = struct.unpack(">I", head[pos + 4 : pos + 8])
        if chunk == b"SSND":  # 8 bytes (offset, block size) precede the samples
            (offset,) = struct.unpack(">I", head[pos + 8 : pos + 12])
            return size - 8 - offset, pos + 16 + offset
        pos += 8 + size + (size & 1)
    return None


def _declared_audio_bytes(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` bytes of audio per a WAV, AU or AIFF header; ``None`` for other files.

    Only the first 64 KiB are parsed: a header whose audio starts later is not checked.
    """
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    found: tuple[int, int] | None = None
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        found = _riff_data_chunk(head)
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        found = _aiff_data_chunk(head)
    elif head[:4] == b".snd" and len(head) >= 12:
        offset, size = struct.unpack(">II", head[4:12])
        found = size, offset
    if found is None or found[0] in _UNSET_SIZES:
        return None
    declared, offset = found
    return declared, max(0, path.stat().st_size - offset)


def _truncation(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` audio bytes if the header declares more than the file holds."""
    try:
        sizes = _declared_audio_bytes(path)
    except (OSError, struct.error):
        return None  # unreadable headers are reported by the decoder
    if sizes is None or sizes[1] >= sizes[0]:
        return None
    return sizes


def _truncation_warning(path: Path, present: int, declared: int, unit: str) -> TruncatedAudioWarning:
    fraction = present / declared
    return TruncatedAudioWarning(
        f"is truncated: its header declares {declared:,} {unit} of audio but the file holds only {present:,} "
        f"({fraction:.1%}); the samples present are used. Download or copy the file again to get all of it",
        path=path,
        fraction=fraction,
    )


def _no_samples(path: Path, truncated: tuple[int, int] | None) -> AudioDecodeError:
    if truncated is not None:
        return AudioDecodeError(
            f"holds no audio samples: its header declares {truncated[0]:,} bytes of audio but the file ends "
            "before the first one; download or copy it again",
            path=path,
        )
    return AudioDecodeError("holds no audio samples (0 frames); export it again or remove it", path=path)


def _decode_failure(path: Path, exc: Exception, decoder_lines: list[str]) -> AudioDecodeError:
    suffix = path.suffix.lower()
    detail = str(exc).split(":", 1)[-1].strip() if ":" in str(exc) else str(exc)
    if "does not exist" in detail:  # libsndfile's wording when no decoder accepts the bytes
        detail = "no decoder recognised its contents"
    if decoder_lines:  # libmpg123's own words beat libsndfile's "Unspecified internal error"
        detail = _DECODER_PREFIX.sub("", decoder_lines[-1]).strip()
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


# -- decoder messages on standard error ---------------------------------------------------

# libmpg123 writes "Note: ...", "Warning: ..." and "[src/libmpg123/parse.c:wetwork():1349] error: ...".
_DECODER_LINE = re.compile(r"^(?:Note|Warning|Error): |^\[src/libmpg123/", re.IGNORECASE)
_DECODER_PREFIX = re.compile(r"^(?:Note|Warning|Error): |^\[src/libmpg123/[^\]]*\] \w+: ", re.IGNORECASE)
# Lines that say no more than the truncation check does (a Xing frame announcing more
# audio than the file holds), or nothing at all about the samples.
_BENIGN_LINE = re.compile(r"Xing stream size off")


class _Stderr:
    """Per-process state of the fd-2 redirection: a lock and one reusable sink file."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sink: IO[bytes] | None = None

    def reset(self) -> None:
        """In a forked child: a fresh lock, and a sink not shared with the parent."""
        self.lock = threading.Lock()
        self.sink = None


_STDERR = _Stderr()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_STDERR.reset)


def _is_mpeg(path: Path) -> bool:
    return path.suffix.lower() == ".mp3"


@contextmanager
def _decoder_stderr(lines: list[str], active: bool) -> Iterator[None]:
    """While the body runs, collect what C code writes to file descriptor 2 into *lines*.

    Lines that do not look like libmpg123's are written back to the real standard error.
    Does nothing when *active* is false or descriptor 2 cannot be duplicated.
    """
    if not active:
        yield
        return
    with _STDERR.lock:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()  # Python's pending text goes where it was meant to
            if _STDERR.sink is None:
                _STDERR.sink = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (kept for the process)
            sink = _STDERR.sink
            saved = os.dup(2)
        except (OSError, ValueError):
            saved = -1
        if saved < 0:  # no usable standard error (a daemon): decode without capturing
            yield
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read()
            if text:
                sink.seek(0)
                sink.truncate()
                others: list[str] = []
                for line in text.decode("utf-8", "replace").splitlines():
                    (lines if _DECODER_LINE.match(line) else others).append(line)
                if others:
                    os.write(2, ("\n".join(others) + "\n").encode())


def _decoder_warning(path: Path, lines: list[str], decoded: int = 0, announced: int = 0) -> DecoderWarning | None:
    """The warning for the decoder's *lines*, if any say more than the truncation check does.

    Skipped frames also leave an MP3 shorter than it announces; the warning then gives the
    count, and stands in for a :class:`TruncatedAudioWarning` (the file is damaged, not cut).
    """
    kept = tuple(line for line in lines if not _BENIGN_LINE.search(line))
    if not kept:
        return None
    first = _DECODER_PREFIX.sub("", kept[0]).strip()
    count = f"{len(kept)} message{'s' if len(kept) > 1 else ''}"
    short = f"; {decoded:,} of the {announced:,} samples it announces were decoded" if decoded < announced else ""
    return DecoderWarning(
        f"the decoder reported damage ({count}, the first: {first!r}) and skipped what it could not decode"
        f"{short}, so the audio may have gaps; re-encode the file or copy it again",
        path=path,
        messages=kept,
    )


#: The scale of 16-bit samples: libsndfile reads them as float as ``sample / 32768``.
_PCM_16_SCALE = np.float32(1.0 / 32768)
#: Frames per integer read of a 16-bit file (4 MiB of stereo samples).
_READ_FRAMES = 1 << 20


def _read(fh: sf.SoundFile, frames: int = -1) -> Samples:
    """The next *frames* (-1: all the rest) as float32 ``(frames, channels)``, scaled as libsndfile scales them.

    16-bit files (GTZAN's WAV and AU among them) are read as integers and scaled here: the
    same values (a power-of-two scale is exact), in a third of the time libsndfile takes to
    convert them itself (0.9 ms against 2.7 for a 30-s 22.05 kHz WAV). They are read
    :data:`_READ_FRAMES` at a time into the float32 result, so a long file needs no
    integer copy of itself.
    """
    if fh.subtype != "PCM_16":
        data: Samples = fh.read(frames, dtype="float32", always_2d=True)
        return data
    wanted = max(0, fh.frames - fh.tell()) if frames < 0 else frames
    out: Samples = np.empty((wanted, fh.channels), dtype=np.float32)
    done = 0
    while done < wanted:
        part = fh.read(min(_READ_FRAMES, wanted - done), dtype="int16", always_2d=True)
        np.multiply(part, _PCM_16_SCALE, out=out[done : done + len(part)])
        done += len(part)
        if len(part) == 0:  # the file holds fewer frames than its header says
            break
    return out[:done]


# -- mixing and resampling: one implementation for whole files and blocks -----------------


def _mix_down(data: Samples) -> Samples:
    """The mean of the channels of a ``(frames, channels)`` block, as a ``(frames,)`` array.

    A sum of column views, then one division: the same operations, in the same order, as
    ``data.mean(axis=1, dtype=np.float32)``, without numpy's slow strided reduction over a
    short last axis.
    """
    channels = data.shape[1]
    if channels == 1:
        return data[:, 0]  # a view; contiguous, as the row stride is one sample
    out: Samples = data[:, 0] + data[:, 1]
    for c in range(2, channels):
        out += data[:, c]
    out /= np.float32(channels)
    return out


#: Frames per soxr call (mono: 256 KiB of float32).
_RESAMPLE_FRAMES = 1 << 16
#: Spare output frames for a block's resampled samples (the filter's delay is far shorter).
_RESAMPLE_MARGIN = 1 << 17


class _Converter:
    """Mix and resample consecutive decoded blocks of one file into ``(channels, time)`` tensors.

    soxr's stream resampler gives the same samples whichever way the input is cut into
    blocks, and the same as its one-shot ``soxr.resample``, so a file converted in one block
    (:func:`load_audio`) or many (:func:`iter_audio_blocks`) gives the same waveform. Each
    block goes through it in pieces of :data:`_RESAMPLE_FRAMES`, which stay in cache: a
    30-s 44.1 kHz track resamples in 6.0 ms instead of 7.5 in one call.
    """

    def __init__(self, path: Path, file_rate: int, channels: int, *, sample_rate: int | None, mono: bool) -> None:
        self.path = path
        self.channels = 1 if mono else channels
        self.file_rate = file_rate
        self.rate = file_rate if sample_rate is None else sample_rate
        self.stream: soxr.ResampleStream | None = None
        self.produced = 0

    def _resample(self, data: Samples, *, last: bool) -> Samples:
        """*data* through the file's soxr stream, in pieces of at most :data:`_RESAMPLE_FRAMES`."""
        if self.stream is None:
            self.stream = soxr.ResampleStream(self.file_rate, self.rate, self.channels, dtype="float32", quality="HQ")
        frames = data.shape[0]
        if frames <= _RESAMPLE_FRAMES:
            single: Samples = self.stream.resample_chunk(data, last=last)
            return single
        # One output array (a list of pieces and their concatenation would hold the output
        # twice), with room for the filter's delay carried over from the previous block.
        shape = (frames * self.rate // self.file_rate + _RESAMPLE_MARGIN, *data.shape[1:])
        out: Samples = np.empty(shape, np.float32)
        size = 0
        for i in range(0, frames, _RESAMPLE_FRAMES):
            piece = self.stream.resample_chunk(
                data[i : i + _RESAMPLE_FRAMES], last=last and i + _RESAMPLE_FRAMES >= frames
            )
            if size + len(piece) > len(out):  # more delay than the margin: grow
                out = np.concatenate([out[:size], np.empty_like(out[: len(piece) + _RESAMPLE_MARGIN])])
            out[size : size + len(piece)] = piece
            size += len(piece)
        return out[:size]

    def __call__(self, block: Samples, *, last: bool) -> torch.Tensor | None:
        """Convert the next *block* (``(frames, channels)``; *last* if none follows), or ``None`` if empty."""
        data = _mix_down(block) if self.channels == 1 else block
        if not np.isfinite(data).all():
            raise AudioDecodeError("holds NaN or infinite samples; the file is damaged, re-encode it", path=self.path)
        if self.rate != self.file_rate:
            data = self._resample(data, last=last)
        if last and self.produced + data.shape[0] == 0:  # a clip of a few samples can vanish when downsampled
            data = np.zeros(1 if self.channels == 1 else (1, self.channels), dtype=np.float32)
        if data.shape[0] == 0:
            return None
        self.produced += data.shape[0]
        import torch

        if data.ndim == 1:
            return torch.from_numpy(data).reshape(1, -1)
        return torch.from_numpy(np.ascontiguousarray(data.T))


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
    convert = _Converter(Path("<waveform>"), sample_rate, frames.shape[1], sample_rate=target_rate, mono=True)
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
    """
    p = Path(path)
    _check_file(p)
    lines: list[str] = []
    try:
        with _decoder_stderr(lines, _is_mpeg(p)):
            info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _decode_failure(p, exc, lines) from None
    truncated = _truncation(p)
    if info.frames <= 0:
        raise _no_samples(p, truncated)
    if truncated is not None:
        warnings.warn(_truncation_warning(p, truncated[1], truncated[0], "bytes"), stacklevel=2)
    damage = _decoder_warning(p, lines)
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
        resampling.

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
    assert decoded is not None  # no length limit
    for note in decoded.notes:
        warnings.warn(note, stacklevel=2)
    convert = _Converter(p, decoded.file_rate, decoded.data.shape[1], sample_rate=sample_rate, mono=mono)
    wave = convert(decoded.data, last=True)
    assert wave is not None  # a non-empty block always converts to at least one sample
    return wave, convert.rate


@dataclass(frozen=True)
class _Decoded:
    """A whole file's samples as libsndfile decodes them, and the warnings it calls for."""

    data: Samples  # (frames, channels)
    file_rate: int
    announced: int  # the frames the header announces (AudioInfo.frames)
    notes: tuple[Warning, ...]


#: libsndfile subtypes whose samples a WAV, AIFF or AU file stores as they are (a FLAC
#: stream names the same PCM subtypes, compressed): reading them costs next to nothing (a
#: 30-s 22.05 kHz WAV in 1 ms), so decoding them ahead would only hold memory.
_UNCOMPRESSED = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"})


def _decode(p: Path, *, max_seconds: float | None = None, compressed_only: bool = False) -> _Decoded | None:
    """Decode the whole of *p* (checked by :func:`_check_file`).

    ``None``, without reading samples, if it announces more than *max_seconds* or, with
    *compressed_only*, if its samples are stored uncompressed (:data:`_UNCOMPRESSED`).

    Issues no warning itself: they are returned, in the order
    :func:`load_audio` issues them.
    """
    lines: list[str] = []
    try:
        with _decoder_stderr(lines, _is_mpeg(p)), sf.SoundFile(str(p)) as fh:
            announced, file_rate = fh.frames, int(fh.samplerate)
            if max_seconds is not None and announced > max_seconds * file_rate:
                return None
            if compressed_only and fh.subtype in _UNCOMPRESSED and fh.format != "FLAC":  # FLAC: PCM, compressed
                return None
            data = _read(fh)
    except _DECODE_ERRORS as exc:
        raise _decode_failure(p, exc, lines) from None
    truncated = _truncation(p)
    if data.shape[0] == 0:
        raise _no_samples(p, truncated)
    damage = _decoder_warning(p, lines, data.shape[0], announced)
    notes: list[Warning] = []
    if truncated is not None:
        notes.append(_truncation_warning(p, truncated[1], truncated[0], "bytes"))
    elif damage is None and data.shape[0] < 0.99 * announced:  # e.g. an MP3 whose frame count is in its Xing header
        notes.append(_truncation_warning(p, data.shape[0], announced, "samples"))
    if damage is not None:
        notes.append(damage)
    return _Decoded(data, file_rate, announced, tuple(notes))


def iter_audio_blocks(
    path: StrPath, *, sample_rate: int | None = None, mono: bool = True, block_seconds: float = 30.0
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
        If true (the default), average the channels into one before resampling.
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

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "long.wav")
    >>> sf.write(path, np.zeros((10 * 44100, 2), dtype="float32"), 44100)
    >>> blocks = list(iter_audio_blocks(path, sample_rate=22050, block_seconds=4.0))
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
        with _decoder_stderr(lines, _is_mpeg(p)):
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
        convert = _Converter(path, file_rate, fh.channels, sample_rate=sample_rate, mono=mono)
        truncated = _truncation(path)
        decoded = 0
        while True:
            try:
                with _decoder_stderr(lines, _is_mpeg(path)):  # per read: never held across a yield
                    block = _read(fh, block_frames)
            except _DECODE_ERRORS as exc:
                raise _decode_failure(path, exc, lines) from None
            last = block.shape[0] == 0  # a short read may still be followed by more
            if decoded == 0:
                if last:
                    raise _no_samples(path, truncated)
                if truncated is not None:
                    warnings.warn(_truncation_warning(path, truncated[1], truncated[0], "bytes"), stacklevel=2)
            decoded += block.shape[0]
            if last:
                damage = _decoder_warning(path, lines, decoded, announced)
                if truncated is None and damage is None and decoded < 0.99 * announced:
                    warnings.warn(_truncation_warning(path, decoded, announced, "samples"), stacklevel=2)
                if damage is not None:
                    warnings.warn(damage, stacklevel=2)
            wave = convert(block, last=last)
            if wave is not None:
                yield wave
            if last:
                return


# -- folders --------------------------------------------------------------------------------


def walk_files(root: Path) -> list[Path]:
    """Every file under *root*, recursively, in a deterministic (sorted) order; hidden files and folders are skipped.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b/2.wav", "a.wav", ".hidden/x.wav", "b/.1.wav"):
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     (root / name).touch()
    >>> [p.relative_to(root).as_posix() for p in walk_files(root)]
    ['a.wav', 'b/2.wav']
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return found


def find_audio_files(folder: StrPath) -> list[Path]:
    """The audio files under *folder*, recursively, in sorted order (hidden files and folders skipped).

    The extensions are :data:`~musicgenre.io.AUDIO_EXTENSIONS` (``.wav``, ``.flac``,
    ``.mp3``...), in any letter case.
    """
    return [path for path in walk_files(Path(folder)) if path.suffix.lower() in AUDIO_EXTENSIONS]


def load_mono(path: StrPath, *, sample_rate: int) -> torch.Tensor:
    """A file's ``(time,)`` mono samples at *sample_rate*.

    ``load_audio(path, sample_rate=sample_rate, mono=True)[0][0]``.
    """
    return load_audio(path, sample_rate=sample_rate, mono=True)[0][0]
