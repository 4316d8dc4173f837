"""Audio input: decode files into float32 tensors, with typed errors that name the file.

Decoding goes through :mod:`soundfile` (libsndfile: WAV, AU, FLAC, OGG/Vorbis/Opus, MP3,
AIFF); resampling uses :mod:`soxr`. :func:`load_audio` decodes a whole file;
:func:`iter_audio_blocks` decodes it block by block, so memory stays bounded for any
length, and the blocks concatenated equal :func:`load_audio`'s waveform. Both keep the
file's channels unless asked for ``mono=True`` (as soundfile and torchaudio do).
:func:`waveform_to_mono` gives audio already in memory the same mixing and resampling.
:func:`find_audio_files` lists a folder's audio files. This package imports PyTorch only
where it makes tensors.

The package holds one module per job; every name below is imported from
``musicgenre.io`` itself:

- ``musicgenre.io.decode``: :func:`load_audio`, :func:`iter_audio_blocks`,
  :func:`audio_info`, :func:`waveform_to_mono`, :func:`load_mono` and the channel mixing
  and resampling they share;
- ``musicgenre.io.files``: :func:`find_audio_files`, :func:`walk_files`,
  :data:`AUDIO_EXTENSIONS`;
- two private modules with the checks around decoding: the header check for truncated
  files and the capture of the MP3 decoder's messages, described below.

Truncated files. libsndfile decodes a file whose audio was cut short (an interrupted
download or copy) without complaint, and its only trace is an undocumented, free-text log.
The sizes in a WAV, AU or AIFF header, on the other hand, are fixed by those formats'
specifications, so musicgenre reads them (the first 64 KiB of the file), compares what the
header declares with what is there and issues a
:class:`~musicgenre.errors.TruncatedAudioWarning` naming the file and the share present.
For MP3, whose length lives in an optional Xing/Info frame, the decoder's own count is the
signal: fewer samples decoded than announced. A truncated FLAC or OGG fails to decode and
raises :class:`~musicgenre.errors.AudioDecodeError`.

Decoder messages. libmpg123, libsndfile's MP3 decoder, prints notes such as ``Note:
Illegal Audio-MPEG-Header 0x... at offset ...`` straight to the process's standard error
(file descriptor 2) when it meets damaged frames, and offers no switch through libsndfile
to silence them. While it decodes an MP3, musicgenre points descriptor 2 at a private file,
then turns the lines in libmpg123's own wording (``Note: ``, ``Warning: ``, ``Error: ``,
``[src/libmpg123/...``, matched case-sensitively) into one
:class:`~musicgenre.errors.DecoderWarning` naming the file (or into the detail of the
:class:`~musicgenre.errors.AudioDecodeError` when decoding fails); anything else written
there meanwhile is passed on to the real standard error. Descriptor 2 belongs to the whole
process, so this capture runs only while the decoding thread is the process's only Python
thread: with other threads alive (a progress bar's monitor, a server's request threads),
an MP3 is decoded without it, libmpg123's notes reach standard error as it prints them
(a damaged file that decodes to fewer samples than it announces still gets a
:class:`~musicgenre.errors.TruncatedAudioWarning`), and no other thread's output is ever
taken. Worker processes (:mod:`musicgenre.parallel`)
decode on their only thread, so they capture. A process forked during a capture gets the
real descriptor 2 back in the child.
"""

from __future__ import annotations

from musicgenre.io.decode import AudioInfo, audio_info, iter_audio_blocks, load_audio, load_mono, waveform_to_mono
from musicgenre.io.files import AUDIO_EXTENSIONS, find_audio_files, walk_files

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
