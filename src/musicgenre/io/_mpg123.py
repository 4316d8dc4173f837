"""libmpg123's messages: captured from standard error while an MP3 is decoded, turned into warnings.

libmpg123, libsndfile's MP3 decoder, prints notes such as ``Note: Illegal Audio-MPEG-Header
0x... at offset ...`` straight to the process's standard error (file descriptor 2) when it
meets damaged frames, and libsndfile offers no switch to silence them. While an MP3 is
decoded, :func:`decoder_stderr` points descriptor 2 at a private file (``os.dup2``) and
then sorts what was written there: the lines in libmpg123's own wording (see
:data:`DECODER_LINE`) become the file's :class:`~musicgenre.errors.DecoderWarning` (or the
detail of its :class:`~musicgenre.errors.AudioDecodeError`), anything else goes back to the
real standard error.

Descriptor 2 belongs to the whole process, so while it is redirected it would take what
*any* thread writes there. The capture therefore runs only when the calling thread is the
process's only Python thread (checked, under a lock that serialises captures, each time a
capture starts; no other Python thread can start while the caller is inside the decoder).
When other threads are alive the MP3 is decoded without capturing: libmpg123's notes then
reach standard error as it prints them, and no :class:`~musicgenre.errors.DecoderWarning`
is issued, but no other thread's output is ever taken. Worker processes
(:mod:`musicgenre.parallel`) run their jobs on their only thread, so they capture.

A process forked while a capture is active (possible only from a thread that is not
Python's, or from inside the capture itself) gets the real descriptor 2 back in the child
(``os.register_at_fork``): a child never keeps writing into its parent's private file.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from musicgenre.errors import DecoderWarning

__all__ = ["DECODER_LINE", "decoder_detail", "decoder_stderr", "decoder_warning", "is_mpeg"]

#: A line libmpg123 prints: ``Note: ...``, ``Warning: ...``, ``Error: ...`` (capitalised as it
#: writes them; the command line's own lower-case ``warning:`` lines are not its) or
#: ``[src/libmpg123/parse.c:wetwork():1349] error: ...``.
DECODER_LINE = re.compile(r"^(?:Note|Warning|Error): |^\[src/libmpg123/")
#: The part of such a line before the message itself.
_DECODER_PREFIX = re.compile(r"^(?:Note|Warning|Error): |^\[src/libmpg123/[^\]]*\] \w+: ")
# Lines that say no more than the truncation check does (a Xing frame announcing more
# audio than the file holds).
_BENIGN_LINE = re.compile(r"Xing stream size off")


class _Capture:
    """Per-process state of the descriptor-2 redirection.

    ``lock`` serialises captures; ``sink`` is the private file, kept for the process;
    ``saved`` is a duplicate of the real descriptor 2 while a capture is active (else -1),
    so that a forked child can put it back.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sink: IO[bytes] | None = None
        self.saved = -1

    def after_fork_in_child(self) -> None:
        """In a forked child: the real descriptor 2 back, a fresh lock, a sink not shared with the parent."""
        saved, self.saved = self.saved, -1
        if saved >= 0:
            with suppress(OSError):
                os.dup2(saved, 2)
            os.close(saved)
        self.lock = threading.Lock()
        self.sink = None


_STATE = _Capture()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_STATE.after_fork_in_child)


def is_mpeg(path: Path) -> bool:
    """Whether *path* is decoded by libmpg123 (an ``.mp3`` file)."""
    return path.suffix.lower() == ".mp3"


def _redirect(state: _Capture) -> int:
    """Point descriptor 2 at the sink; the saved real descriptor, or -1 if nothing was redirected."""
    if threading.active_count() != 1:
        return -1  # another thread could write to descriptor 2 meanwhile: leave it alone
    try:
        if sys.stderr is not None:
            sys.stderr.flush()  # Python's pending text goes where it was meant to
        if state.sink is None:
            state.sink = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (kept for the process)
        saved = os.dup(2)
    except (OSError, ValueError):
        return -1  # no usable standard error (a daemon): decode without capturing
    state.saved = saved
    try:
        os.dup2(state.sink.fileno(), 2)
    except OSError:
        state.saved = -1
        os.close(saved)
        return -1
    return saved


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _restore(state: _Capture, sink: IO[bytes], saved: int, lines: list[str]) -> None:
    """Point descriptor 2 back at *saved*; the decoder's lines into *lines*, the rest to standard error."""
    os.dup2(saved, 2)
    state.saved = -1
    os.close(saved)
    sink.seek(0)
    text = sink.read()
    if not text:
        return
    sink.seek(0)
    sink.truncate()
    others: list[str] = []
    for line in text.decode("utf-8", "replace").splitlines():
        (lines if DECODER_LINE.match(line) else others).append(line)
    if others:
        with suppress(OSError):  # standard error went away meanwhile: nowhere to put them
            _write_all(2, ("\n".join(others) + "\n").encode())


@contextmanager
def decoder_stderr(lines: list[str], active: bool = True) -> Iterator[None]:
    """While the body runs, collect libmpg123's lines on file descriptor 2 into *lines*.

    Lines that are not libmpg123's are written back to the real standard error. Does
    nothing when *active* is false, when another Python thread is alive (see the module's
    description), or when descriptor 2 cannot be duplicated.

    Parameters
    ----------
    lines
        Where the decoder's lines are appended.
    active
        Whether to capture at all (only MP3 files need it).
    """
    if not active or threading.active_count() != 1:  # other threads' decodes need not wait for the lock
        yield
        return
    state = _STATE
    captured = False
    with state.lock:
        saved = _redirect(state)
        sink = state.sink
        if saved >= 0 and sink is not None:
            captured = True
            pid = os.getpid()
            try:
                yield
            finally:
                if os.getpid() == pid:  # in a child forked meanwhile, after_fork_in_child restored it
                    _restore(state, sink, saved, lines)
    if not captured:  # no usable standard error (a daemon), or a thread started meanwhile
        yield


def decoder_detail(lines: list[str]) -> str | None:
    """The last of the decoder's *lines* without its prefix (libmpg123's reason for a failure), if any."""
    return _DECODER_PREFIX.sub("", lines[-1]).strip() if lines else None


def decoder_warning(path: Path, lines: list[str], decoded: int = 0, announced: int = 0) -> DecoderWarning | None:
    """The warning for the decoder's *lines*, if any say more than the truncation check does.

    Skipped frames also leave an MP3 shorter than it announces; the warning then gives the
    count, and stands in for a :class:`~musicgenre.errors.TruncatedAudioWarning` (the file
    is damaged, not cut).
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
