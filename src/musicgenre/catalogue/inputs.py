"""The files of a catalogue run: local paths and folders, or URIs of any pyarrow filesystem.

A local input is a file (tried whatever its extension, as the CLI does) or a folder,
searched recursively for audio files (:func:`~musicgenre.io.find_audio_files`). An input
with a scheme (``s3://bucket/prefix``, ``gs://...``, ``file:///...``) is listed through
``pyarrow.fs.FileSystem.from_uri``: a file, or every audio file under a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from musicgenre.catalogue.table import FileEntry

__all__ = ["is_uri", "list_inputs", "uri_prefix"]


def is_uri(name: str) -> bool:
    """Whether *name* is a URI (``scheme://...``) rather than a local path.

    >>> is_uri("s3://bucket/a.mp3"), is_uri("music/a.mp3")
    (True, False)
    """
    scheme, sep, _ = name.partition("://")
    return bool(sep) and scheme.isidentifier()


def uri_prefix(name: str) -> str:
    """The ``scheme://`` of a URI, which pyarrow strips from the paths it lists.

    >>> uri_prefix("gs://bucket/a.mp3")
    'gs://'
    """
    return name[: name.index("://") + 3]


def _no_audio(name: str) -> str:
    from musicgenre.io import AUDIO_EXTENSIONS

    return f"{name}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder"


def _local(item: str) -> list[FileEntry]:
    from musicgenre.io import find_audio_files

    path = Path(item)
    if path.is_dir():
        found = find_audio_files(path)
        if not found:
            return [FileEntry(str(path), None, None, _no_audio(str(path)))]
        files = found
    else:
        files = [path]
    return [_stat(file) for file in files]


def _stat(file: Path) -> FileEntry:
    try:
        stat = file.stat()
    except OSError:  # a missing file: the model's loader says why, in the CLI's words
        return FileEntry(str(file), None, None)
    return FileEntry(str(file), stat.st_size, stat.st_mtime_ns)


def _remote(item: str) -> list[FileEntry]:
    import pyarrow.fs as pafs

    from musicgenre.io import AUDIO_EXTENSIONS

    prefix = uri_prefix(item)
    filesystem, root = pafs.FileSystem.from_uri(item)
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return [FileEntry(item, None, None, f"{item}: no such file or folder")]
    if info.type == pafs.FileType.Directory:
        listed = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
        infos = [
            i
            for i in listed
            if i.type == pafs.FileType.File
            and Path(i.path).suffix.lower() in AUDIO_EXTENSIONS
            and not any(part.startswith(".") for part in Path(i.path).relative_to(root).parts)
        ]
        if not infos:
            return [FileEntry(item, None, None, _no_audio(item))]
        infos.sort(key=lambda i: str(i.path))
    else:
        infos = [info]
    return [FileEntry(prefix + i.path, i.size, i.mtime_ns) for i in infos]


def list_inputs(inputs: Sequence[str]) -> list[FileEntry]:
    """The files that *inputs* name, in order, each once.

    Raises
    ------
    ConfigurationError
        If *inputs* is empty.
    """
    from musicgenre.errors import ConfigurationError

    if not inputs:
        raise ConfigurationError("no inputs: name audio files, folders or URIs")
    entries: dict[str, FileEntry] = {}
    for item in inputs:
        for entry in _remote(str(item)) if is_uri(str(item)) else _local(str(item)):
            entries.setdefault(entry.path, entry)
    return list(entries.values())
