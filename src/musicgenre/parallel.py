"""One job per file, over many files, in worker processes: the loop under prediction, tagging and extraction.

:func:`map_files` runs a picklable *job* on every path, in ``num_workers`` processes (a
:class:`torch.utils.data.DataLoader` with one torch thread per worker) or in this process,
and yields the outcomes in the order of the paths. A file the job cannot decode
(:class:`~musicgenre.errors.AudioDecodeError`) becomes an outcome with the error's text,
naming the file, and the others go on; the warnings a job raised (a truncated file,
damaged MP3 frames), in a worker too, come back with its outcome, once each.
:meth:`GenreClassifier.predict_many <musicgenre.predict.GenreClassifier.predict_many>`,
:meth:`Tagger.tag_many <musicgenre.predict.Tagger.tag_many>` and
:func:`~musicgenre.data.cache.extract_features` all run on it.

On a CPU the job should do all of a file's work, model included: each worker then keeps
one core busy from decoding to the model's output and sends back a few numbers, not a
spectrogram. On a 2-core machine that made two workers faster than none for every model
(``benchmarks/real_path.py``), where running the model in this process on features
computed by the workers left it the bottleneck, on one thread.

>>> batches = map_files(lambda path: len(path.name), ["a.wav", "music/bb.wav"], num_workers=0)
>>> [(o.path.name, o.value) for batch in batches for o in batch]
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

from musicgenre._config import StrPath
from musicgenre._progress import progress_bar
from musicgenre.errors import AudioDecodeError, ConfigurationError

__all__ = [
    "FILES_PER_WORKER",
    "FileOutcome",
    "default_workers",
    "map_files",
    "map_items",
    "reissue",
    "run_job",
    "usable_cores",
]

T = TypeVar("T")
In = TypeVar("In")
R = TypeVar("R")


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
    exception
        The :class:`~musicgenre.errors.AudioDecodeError` itself (its ``reason`` is the
        text without the file's name), or ``None``.
    """

    index: int
    path: Path
    value: T | None
    error: str | None = None
    warnings: tuple[Warning, ...] = ()
    exception: AudioDecodeError | None = None


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
            value, failure = job(path), None
        except AudioDecodeError as exc:
            if not catch:
                raise
            value, failure = None, exc
    error = None if failure is None else str(failure)
    return FileOutcome(index, path, value, error, _unique(caught), failure)


def reissue(outcome: FileOutcome[T], *, stacklevel: int = 2) -> tuple[str, ...]:
    """Issue *outcome*'s warnings again in this process; return their texts.

    Warnings raised in a worker process are lost with it unless they are sent back and
    issued here, where the caller's filters and handlers apply.
    """
    for message in outcome.warnings:
        warnings.warn(message, stacklevel=stacklevel + 1)
    return tuple(str(message) for message in outcome.warnings)


class _Items(Dataset[R]):
    def __init__(self, items: Sequence[In], job: Callable[[In], R]) -> None:
        self.items = items
        self.job = job

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> R:
        return self.job(self.items[index])


class _FileJob(Generic[T]):
    """*job* on ``(index, path)``, its decoding error and warnings captured (:func:`run_job`). Picklable."""

    def __init__(self, job: Callable[[Path], T]) -> None:
        self.job = job

    def __call__(self, item: tuple[int, Path]) -> FileOutcome[T]:
        return run_job(self.job, *item)


def _one_thread(worker_id: int) -> None:
    """One torch thread per worker: the workers are as many as the cores."""
    torch.set_num_threads(1)


def _as_list(items: list[R]) -> list[R]:
    return items


def map_items(
    job: Callable[[In], R],
    items: Sequence[In],
    *,
    num_workers: int,
    batch_size: int = 4,
    progress: bool | None = False,
    desc: str = "items",
    unit: str = "item",
) -> Iterator[list[R]]:
    """Run *job* on every item; yield the results in batches, in the order of *items*.

    The loop under :func:`map_files`, for jobs on anything picklable (e.g. the indices of
    a :class:`~musicgenre.data.cache.FeatureSet`'s tracks, which forked workers share
    with this process). Errors propagate; :func:`map_files` catches decoding errors per file.

    Parameters
    ----------
    job
        Called with each item; with workers it must be picklable (a module-level function
        or an object whose class is defined at module level), as the ``spawn`` start
        method (macOS, Windows) sends it to every worker.
    items
        The inputs.
    num_workers
        Worker processes, each running *job* with one torch thread; 0 runs it here. While
        workers run, this process uses the cores they leave (at least one thread): more
        torch threads than cores make torch's thread pool wait on descheduled threads.
    batch_size
        Items per batch: a worker runs a batch's items in turn and sends back their results together.
    progress
        Show a tqdm bar on stderr: ``True``, ``False``, or ``None`` for only on a terminal.
        Never where ``sys.stderr`` is ``None`` (no standard error).
    desc, unit
        The bar's label and unit.

    Raises
    ------
    ConfigurationError
        If *num_workers* is negative or *batch_size* below 1.
    """
    if batch_size < 1 or num_workers < 0:
        raise ConfigurationError(
            f"files_per_batch (batch_size) must be >= 1 and num_workers >= 0, got {batch_size}, {num_workers}"
        )
    loader: DataLoader[R] = DataLoader(
        _Items(items, job),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_as_list,
        worker_init_fn=_one_thread if num_workers else None,
    )
    threads = torch.get_num_threads()
    if num_workers:
        torch.set_num_threads(max(1, usable_cores() - num_workers))
    try:
        with progress_bar(total=len(items), desc=desc, unit=unit, show=progress) as bar:
            for batch in loader:
                yield batch
                bar.update(len(batch))
    finally:
        torch.set_num_threads(threads)


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
        Called with each path (picklable, as for :func:`map_items`). An
        :class:`~musicgenre.errors.AudioDecodeError` it raises becomes that file's outcome.
    paths
        The files.
    num_workers, progress, desc
        As for :func:`map_items`.
    files_per_batch
        :func:`map_items`' *batch_size*: files a worker runs in turn and sends back together.

    Yields
    ------
    list of FileOutcome
        Each batch's outcomes, in order; every path has one.

    Raises
    ------
    ConfigurationError
        If *num_workers* is negative or *files_per_batch* below 1.
    """
    files = [(index, Path(p)) for index, p in enumerate(paths)]
    yield from map_items(
        _FileJob(job),
        files,
        num_workers=num_workers,
        batch_size=files_per_batch,
        progress=progress,
        desc=desc,
        unit="file",
    )
