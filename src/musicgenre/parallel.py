"""One job per file, over many files, in worker processes: the loop under prediction, tagging and extraction.

:func:`map_files` runs a picklable *job* on every path, in ``num_workers`` processes (a
:class:`torch.utils.data.DataLoader` with one torch thread per worker) or in this process,
and yields the outcomes in the order of the paths. A file the job cannot decode
(:class:`~musicgenre.errors.AudioDecodeError`) becomes an outcome with the error's text,
naming the file, and the others go on; the warnings a job raised (a truncated file,
damaged MP3 frames), in a worker too, come back with its outcome, once each.
:meth:`GenreClassifier.predict_many <musicgenre.inference.GenreClassifier.predict_many>`,
:meth:`Tagger.tag_many <musicgenre.tagging.Tagger.tag_many>` and
:func:`~musicgenre.data.cache.extract_features` all run on it.

On a CPU the job should do all of a file's work, model included: each worker then keeps
one core busy from decoding to the model's output and sends back a few numbers, not a
spectrogram. On a 2-core machine that made two workers faster than none for every model
(``benchmarks/real_path.py``), where running the model in this process on features
computed by the workers left it the bottleneck, on one thread.

>>> outcomes = [o for batch in map_files(len, ["a.wav", "bb.wav"], num_workers=0) for o in batch]
>>> [(o.path.name, o.value) for o in outcomes]
[('a.wav', 5), ('bb.wav', 6)]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import torch
from torch.utils.data import DataLoader, Dataset

from musicgenre.errors import AudioDecodeError, ConfigurationError

__all__ = ["FILES_PER_WORKER", "FileOutcome", "default_workers", "map_files", "reissue", "run_job", "usable_cores"]

T = TypeVar("T")
StrPath = str | os.PathLike[str]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


#: Below this many files per usable core, :func:`default_workers` chooses no worker processes.
FILES_PER_WORKER = 4


def default_workers(files: int) -> int:
    """Worker processes that :func:`map_files`'s callers use by default for *files* files.

    One per usable core (:func:`usable_cores`), or none for a single core or for fewer than
    :data:`FILES_PER_WORKER` files per core, where starting workers costs more than it saves
    (``benchmarks/real_path.py`` measures both).

    Examples
    --------
    >>> default_workers(1)
    0
    """
    cores = usable_cores()
    return 0 if cores < 2 or files < FILES_PER_WORKER * cores else cores


@dataclass(frozen=True)
class FileOutcome(Generic[T]):
    """What a job gave for one file.

    Attributes
    ----------
    index
        Position of the file in the paths given to :func:`map_files`.
    path
        The file.
    value
        The job's return value, or ``None`` if it failed.
    error
        Why it failed (the :class:`~musicgenre.errors.AudioDecodeError`'s text, naming the
        file), or ``None``.
    warnings
        The warnings the job raised for this file, once each, in order.
    """

    index: int
    path: Path
    value: T | None
    error: str | None = None
    warnings: tuple[Warning, ...] = ()


def _unique(caught: Sequence[warnings.WarningMessage]) -> tuple[Warning, ...]:
    """The warnings recorded, once each (a header read and the decode may report the same problem)."""
    seen: dict[tuple[type[Warning], str], Warning] = {}
    for record in caught:
        message = record.message if isinstance(record.message, Warning) else record.category(str(record.message))
        seen.setdefault((type(message), str(message)), message)
    return tuple(seen.values())


def run_job(job: Callable[[Path], T], index: int, path: Path, *, catch: bool = True) -> FileOutcome[T]:
    """Run *job* on one file, recording its warnings (once each) and, if *catch*, its decoding error.

    With ``catch=False`` an :class:`~musicgenre.errors.AudioDecodeError` propagates (the
    warnings recorded until then are dropped: the error says what went wrong).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = job(path), None
        except AudioDecodeError as exc:
            if not catch:
                raise
            value, error = None, str(exc)
    return FileOutcome(index, path, value, error, _unique(caught))


def reissue(outcome: FileOutcome[T], *, stacklevel: int = 2) -> tuple[str, ...]:
    """Issue *outcome*'s warnings again in this process; return their texts.

    Warnings raised in a worker process are lost with it unless they are sent back and
    issued here, where the caller's filters and handlers apply.
    """
    for message in outcome.warnings:
        warnings.warn(message, stacklevel=stacklevel + 1)
    return tuple(str(message) for message in outcome.warnings)


class _Jobs(Dataset[FileOutcome[T]]):
    def __init__(self, paths: Sequence[Path], job: Callable[[Path], T]) -> None:
        self.paths = paths
        self.job = job

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> FileOutcome[T]:
        return run_job(self.job, index, self.paths[index])


def _one_thread(worker_id: int) -> None:
    """One torch thread per worker: the workers are as many as the cores."""
    torch.set_num_threads(1)


def _as_list(items: list[FileOutcome[T]]) -> list[FileOutcome[T]]:
    return items


def map_files(
    job: Callable[[Path], T],
    paths: Sequence[StrPath],
    *,
    num_workers: int,
    files_per_batch: int = 4,
    progress: bool | None = False,
    desc: str = "files",
) -> Iterator[list[FileOutcome[T]]]:
    """Run *job* on every file; yield the outcomes in batches, in the order of *paths*.

    Parameters
    ----------
    job
        Called with each path; with workers it must be picklable (a module-level function
        or an object whose class is defined at module level), as the ``spawn`` start
        method (macOS, Windows) sends it to every worker.
    paths
        The files.
    num_workers
        Worker processes, each running *job* with one torch thread; 0 runs it here. While
        workers run, this process uses the cores they leave (at least one thread): more
        torch threads than cores make torch's thread pool wait on descheduled threads.
    files_per_batch
        Files per batch: a worker runs a batch's files in turn and sends back their outcomes together.
    progress
        Show a tqdm bar: ``True``, ``False``, or ``None`` for only on a terminal.
    desc
        The bar's label.

    Yields
    ------
    list of FileOutcome
        Each batch's outcomes, in order; every path has one.

    Raises
    ------
    ConfigurationError
        If *num_workers* is negative or *files_per_batch* below 1.
    """
    from tqdm.auto import tqdm

    if files_per_batch < 1 or num_workers < 0:
        raise ConfigurationError(
            f"files_per_batch must be >= 1 and num_workers >= 0, got {files_per_batch}, {num_workers}"
        )
    files = [Path(p) for p in paths]
    loader: DataLoader[FileOutcome[T]] = DataLoader(
        _Jobs(files, job),
        batch_size=files_per_batch,
        num_workers=num_workers,
        collate_fn=_as_list,
        worker_init_fn=_one_thread if num_workers else None,
    )
    threads = torch.get_num_threads()
    if num_workers:
        torch.set_num_threads(max(1, usable_cores() - num_workers))
    try:
        with tqdm(total=len(files), desc=desc, unit="file", disable=None if progress is None else not progress) as bar:
            for batch in loader:
                yield batch
                bar.update(len(batch))
    finally:
        torch.set_num_threads(threads)
