"""The inputs of ``predict`` and ``tags``: files as given, folders searched, and each outcome put back in place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from musicgenre.cli._output import FileRow

__all__ = ["gather", "plan_inputs"]


def plan_inputs(inputs: Sequence[str | Path]) -> list[Path | FileRow]:
    """Files as given (tried whatever their extension); folders searched recursively for audio files.

    A folder without any audio file is a failed input of its own (a :class:`FileRow`
    naming it); every other item is a file to run on.
    """
    from musicgenre.io import AUDIO_EXTENSIONS, find_audio_files

    planned: list[Path | FileRow] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = find_audio_files(item)
            if found:
                planned.extend(found)
                continue
            exts = ", ".join(AUDIO_EXTENSIONS)
            planned.append(FileRow.failure(item, f"{item}: no audio files ({exts}) in this folder"))
        else:
            planned.append(item)
    return planned


def gather(planned: Sequence[Path | FileRow], outcomes: Iterable[FileRow]) -> list[FileRow]:
    """Every input's row, in the order planned: the files' *outcomes* (in order) among the failed folders."""
    rows = iter(outcomes)
    return [next(rows) if isinstance(item, Path) else item for item in planned]
