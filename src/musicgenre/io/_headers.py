"""Truncated files: what a WAV, AIFF or AU header declares against what the file holds.

libsndfile decodes a file whose audio was cut short (an interrupted download or copy)
without complaint: it shortens ``frames`` to the samples present, reads them all and sets
no error, so neither the frame count nor the error code tells a truncated file from a
complete one. Its only trace is the human-readable open log (``SoundFile.extra_info``),
whose wording differs by container (``data : 88200 (should be 29370)``, ``SSND : ...
(should be ...)``, ``Data Size : ...``, or for RF64 ``*** Calculated frame count ... does
not match value from 'ds64' chunk``) and is no documented interface. The sizes in a WAV,
AU or AIFF header, on the other hand, are fixed by those formats' specifications, so
:func:`truncation` reads them from the first 64 KiB of the file and compares what the
header declares with what is there. (An MP3 keeps its length in an optional Xing/Info
frame; there the decoder's own sample count is the signal, compared in ``decode``.)
"""

from __future__ import annotations

import struct
from pathlib import Path

from musicgenre.errors import AudioDecodeError, TruncatedAudioWarning

__all__ = ["no_samples", "truncation", "truncation_warning"]

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


def truncation(path: Path) -> tuple[int, int] | None:
    """``(declared, present)`` audio bytes if *path*'s header declares more than the file holds, else ``None``.

    ``None`` too for files without such a header (FLAC, OGG, MP3) and for headers that
    cannot be read (the decoder reports those).
    """
    try:
        sizes = _declared_audio_bytes(path)
    except (OSError, struct.error):
        return None  # unreadable headers are reported by the decoder
    if sizes is None or sizes[1] >= sizes[0]:
        return None
    return sizes


def truncation_warning(path: Path, present: int, declared: int, unit: str) -> TruncatedAudioWarning:
    """The warning for a file holding *present* of the *declared* *unit* (``"bytes"`` or ``"samples"``)."""
    fraction = present / declared
    return TruncatedAudioWarning(
        f"is truncated: its header declares {declared:,} {unit} of audio but the file holds only {present:,} "
        f"({fraction:.1%}); the samples present are used. Download or copy the file again to get all of it",
        path=path,
        fraction=fraction,
    )


def no_samples(path: Path, truncated: tuple[int, int] | None) -> AudioDecodeError:
    """The error for a file that decodes to no samples; *truncated* is :func:`truncation`'s answer."""
    if truncated is not None:
        return AudioDecodeError(
            f"holds no audio samples: its header declares {truncated[0]:,} bytes of audio but the file ends "
            "before the first one; download or copy it again",
            path=path,
        )
    return AudioDecodeError("holds no audio samples (0 frames); export it again or remove it", path=path)
