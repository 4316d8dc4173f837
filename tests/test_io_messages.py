"""The MP3 decoder's messages on standard error: captured from libmpg123 only, never another thread's output.

libmpg123 prints its notes to file descriptor 2, which belongs to the whole process. These
tests check that they become one DecoderWarning naming the file (or an AudioDecodeError's
reason) when the decoding thread is the process's only Python thread, that what is captured
is libmpg123's wording alone, that other threads' output is never taken, and that a process
forked during a capture writes to the real standard error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from numpy.typing import NDArray
from tqdm._monitor import TMonitor

import musicgenre
from musicgenre.errors import AudioDecodeError, DecoderWarning, MusicGenreWarning, TruncatedAudioWarning
from musicgenre.io import audio_info, iter_audio_blocks, load_audio

# Blocks of an MP3 differ from the whole read by a few float32 ulps (see test_io_blocks.py).
MP3_ATOL = 1e-6


def _music(rng: np.random.Generator, seconds: float, rate: int) -> NDArray[np.float32]:
    """Two tones plus noise, shape ``(frames, 2)``."""
    t = np.arange(round(seconds * rate)) / rate
    tones = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0)], axis=1)
    return (tones + 0.05 * rng.standard_normal(tones.shape)).astype(np.float32)


def _clean_mp3(path: Path, rng: np.random.Generator, seconds: float = 1.0) -> Path:
    sf.write(str(path), _music(rng, seconds, 22050), 22050, format="MP3")
    return path


def _damaged_mp3(path: Path, rng: np.random.Generator, damage: int = 600) -> Path:
    """A 3-s MP3 with *damage* bytes zeroed in its middle: frame headers libmpg123 must skip."""
    _clean_mp3(path, rng, seconds=3.0)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + damage] = bytes(damage)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def only_thread() -> None:
    """Make the test's thread the process's only Python thread, as the capture requires.

    tqdm starts a monitor thread for every bar, a disabled one too, and stops it only when
    an enabled bar closes: earlier tests' bars (musicgenre.parallel's) leave one running.
    """
    for thread in threading.enumerate():
        if isinstance(thread, TMonitor):
            thread.exit()  # type: ignore[no-untyped-call]  # tqdm is untyped
    assert threading.active_count() == 1, f"other threads are alive: {threading.enumerate()}"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


# -- on the only thread: one warning naming the file -----------------------------------------


@pytest.mark.usefixtures("only_thread")
def test_damaged_mp3_warns_once_and_leaks_nothing_to_stderr(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _damaged_mp3(tmp_path / "damaged.mp3", rng, damage=600)

    with pytest.warns(DecoderWarning) as record:
        wave, _ = load_audio(path)

    assert len(record) == 1
    warning = record[0].message
    assert isinstance(warning, DecoderWarning)
    assert isinstance(warning, MusicGenreWarning)
    assert warning.path == path
    assert "damaged.mp3: the decoder reported damage" in str(warning)
    assert "re-encode" in str(warning)
    assert "samples it announces were decoded" in str(warning)  # one warning: no TruncatedAudioWarning besides
    assert any("Illegal Audio-MPEG-Header" in line for line in warning.messages)
    assert record[0].filename == __file__
    assert wave.shape[0] == 2
    assert 0 < wave.shape[-1] < 3 * 22050  # the skipped frames are missing
    assert capfd.readouterr().err == ""  # libmpg123's "Note: ..." lines did not reach fd 2


@pytest.mark.usefixtures("only_thread")
def test_damaged_mp3_warns_after_the_blocks_too(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _damaged_mp3(tmp_path / "damaged.mp3", rng, damage=600)
    with pytest.warns(DecoderWarning):
        whole, _ = load_audio(path, mono=True)

    with pytest.warns(DecoderWarning, match="damaged.mp3") as record:
        blocks = list(iter_audio_blocks(path, mono=True, block_seconds=0.2))

    assert len(record) == 1
    torch.testing.assert_close(torch.cat(blocks, dim=-1), whole, rtol=0, atol=MP3_ATOL)
    assert capfd.readouterr().err == ""


@pytest.mark.usefixtures("only_thread")
def test_undecodable_mp3_error_gives_the_decoders_reason(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrecked.mp3"
    sf.write(str(path), _music(rng, 3.0, 22050), 22050)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 :] = rng.bytes(len(data) - len(data) // 2)  # past libmpg123's resync limit
    path.write_bytes(bytes(data))

    with pytest.raises(AudioDecodeError) as info:
        load_audio(path)

    assert info.value.path == path
    assert "not a valid MP3 file, or it is corrupt" in str(info.value)
    assert "Unspecified internal error" not in str(info.value)  # libsndfile's words, replaced by libmpg123's
    assert capfd.readouterr().err == ""


def test_complete_mp3_gives_no_decoder_warning(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "clean.mp3"
    sf.write(str(path), _music(rng, 1.0, 44100), 44100)
    audio_info(path)
    load_audio(path)  # filterwarnings=error: any warning fails
    list(iter_audio_blocks(path, block_seconds=0.25))


@pytest.mark.usefixtures("only_thread")
def test_other_writes_to_stderr_during_a_decode_are_passed_on(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Descriptor 2 is the whole process's: text that is not the decoder's must not be swallowed.
    path = tmp_path / "clean.mp3"
    sf.write(str(path), _music(rng, 0.5, 22050), 22050)
    real_soundfile = sf.SoundFile

    def chatty(*args: object, **kwargs: object) -> sf.SoundFile:
        os.write(2, b"not the decoder says hello\n")
        return real_soundfile(*args, **kwargs)

    monkeypatch.setattr(sf, "SoundFile", chatty)
    load_audio(path)

    assert capfd.readouterr().err == "not the decoder says hello\n"


# -- libmpg123's own wording only ----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "decoder"),
    [
        ("Note: Illegal Audio-MPEG-Header 0x00000000 at offset 15494.", True),
        ("Note: Trying to resync...", True),
        ("Warning: Encountered more data after announced end of track (frame 10/9). Frankenstein!", True),
        ("Error: something libmpg123 could not do", True),
        ("[src/libmpg123/parse.c:wetwork():1349] error: Giving up resync after 1024 bytes", True),
        ("warning: something", False),  # the command line's own lines
        ("error: song.mp3: not a valid MP3 file", False),
        ("note: lower case", False),
        ("WARNING: shouting", False),
        ("/x/y.py:3: UserWarning: CUDA initialization: no driver", False),
        ("  Note: indented", False),
        ("[src/other/parse.c:f():1] error: not libmpg123", False),
    ],
)
def test_the_decoder_pattern_is_libmpg123s_own_wording(line: str, decoder: bool) -> None:
    from musicgenre.io._mpg123 import DECODER_LINE

    assert bool(DECODER_LINE.match(line)) is decoder


@pytest.mark.usefixtures("only_thread")
def test_a_lower_case_warning_written_during_a_decode_is_passed_on_not_a_decoder_warning(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # While the capture is active (this thread alone), a line in the command line's wording
    # lands in the private file too: it must go back to standard error, not into a warning.
    path = _clean_mp3(tmp_path / "clean.mp3", rng)
    real_soundfile = sf.SoundFile

    def chatty(*args: object, **kwargs: object) -> sf.SoundFile:
        os.write(2, b"warning: something\nerror: other.mp3: not a valid MP3 file\n")
        return real_soundfile(*args, **kwargs)

    monkeypatch.setattr(sf, "SoundFile", chatty)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_audio(path, mono=False)

    assert [w.message for w in caught] == []
    assert _lines(capfd.readouterr().err) == ["warning: something", "error: other.mp3: not a valid MP3 file"]


# -- never another thread's output ---------------------------------------------------------


def test_another_threads_writes_during_mp3_decoding_all_reach_stderr_and_raise_nothing(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str]
) -> None:
    # A thread writes to descriptor 2 (and to sys.stderr) all the while MP3s are decoded:
    # every line must reach standard error, none may become a DecoderWarning, whatever its
    # wording (the command line's "warning: ...", or even libmpg123's own "Note: ...").
    path = _clean_mp3(tmp_path / "clean.mp3", rng)
    stop = threading.Event()
    written: list[str] = []

    def chatter() -> None:
        i = 0
        while not stop.is_set():
            for line in (f"warning: something {i}", f"Note: not the decoder {i}", f"plain line {i}"):
                os.write(2, (line + "\n").encode())
                written.append(line)
            sys.stderr.write(f"warning: through sys.stderr {i}\n")
            sys.stderr.flush()
            written.append(f"warning: through sys.stderr {i}")
            i += 1
            stop.wait(0.0005)

    thread = threading.Thread(target=chatter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread.start()
        try:
            for _ in range(15):
                load_audio(path, mono=False)
                audio_info(path)
                for _block in iter_audio_blocks(path, mono=True, block_seconds=0.25):
                    pass
        finally:
            stop.set()
            thread.join()

    assert [w.message for w in caught] == []
    err = _lines(capfd.readouterr().err)
    assert len(written) > 40  # the thread wrote while the files were decoded
    assert sorted(err) == sorted(written)  # each line once, none swallowed


def test_a_damaged_mp3_decoded_beside_another_thread_leaves_the_decoders_notes_on_stderr(
    tmp_path: Path, rng: np.random.Generator, capfd: pytest.CaptureFixture[str]
) -> None:
    # With other threads alive nothing is captured: libmpg123 speaks for itself, and the only
    # warning is the sample count's (fewer samples decoded than the file announces).
    path = _damaged_mp3(tmp_path / "damaged.mp3", rng)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wave, _ = load_audio(path, mono=False)
    finally:
        stop.set()
        thread.join()

    assert [type(w.message) for w in caught] == [TruncatedAudioWarning]
    assert "damaged.mp3: is truncated" in str(caught[0].message)
    assert 0 < wave.shape[-1] < 3 * 22050
    assert any(line.startswith("Note: Illegal Audio-MPEG-Header") for line in _lines(capfd.readouterr().err))


# -- fork ----------------------------------------------------------------------------------

_FORK_DURING_A_DECODE = textwrap.dedent(
    """
    import os, sys
    import soundfile as sf
    from musicgenre.io import audio_info

    real_soundfile = sf.SoundFile
    go_read, go_write = os.pipe()
    children = []

    def forking(*args, **kwargs):
        # Called inside the capture: fork a child that writes once its parent has finished.
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.read(go_read, 1)
            os.write(2, b"child: my stderr is the real one\\n")
            os._exit(0)
        children.append(pid)
        return real_soundfile(*args, **kwargs)

    sf.SoundFile = forking
    audio_info(sys.argv[1])  # opens the file inside the capture, and imports no PyTorch
    sf.SoundFile = real_soundfile
    os.write(go_write, b"x")
    _, status = os.waitpid(children[0], 0)
    os.write(2, b"parent: done\\n")
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_process_forked_during_a_capture_writes_to_the_real_stderr(tmp_path: Path, rng: np.random.Generator) -> None:
    # The child is forked while descriptor 2 points at the private file, and writes after
    # its parent has put descriptor 2 back: its line must reach the parent's standard error.
    path = _clean_mp3(tmp_path / "clean.mp3", rng, seconds=0.5)
    src = str(Path(musicgenre.__file__).resolve().parents[1])  # the musicgenre under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", _FORK_DURING_A_DECODE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _lines(result.stderr) == ["child: my stderr is the real one", "parent: done"]
