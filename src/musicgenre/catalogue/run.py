"""One entry point for a catalogue run, whichever engine computes it: :func:`run_catalogue`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from musicgenre.catalogue.compute import ModelSpec, RowMaker
from musicgenre.catalogue.inputs import list_inputs
from musicgenre.catalogue.table import Job, PartWriter, make_schema, open_catalogue
from musicgenre.errors import ConfigurationError

__all__ = ["CatalogueSummary", "Engine", "run_catalogue"]

Engine = Literal["local", "ray"]
"""Who computes the rows, ``"local"`` (this process and its workers) or ``"ray"`` (Ray Data)."""


@dataclass(frozen=True)
class CatalogueSummary:
    """What a run did.

    Attributes
    ----------
    files
        Input files (folders expanded), each a row of the catalogue once the run is done.
    done_before
        Files skipped because a part already held them (the resume rule).
    computed
        Rows written by this run.
    failed
        Of those, error rows.
    seconds
        Wall time of the run.
    output
        The catalogue directory.
    """

    files: int
    done_before: int
    computed: int
    failed: int
    seconds: float
    output: Path

    @property
    def missing(self) -> int:
        """Files without a row yet (0 after a complete run; re-run to finish them)."""
        return self.files - self.done_before - self.computed


def run_catalogue(
    job: Job,
    inputs: Sequence[str],
    output: str | Path,
    *,
    engine: Engine = "local",
    checkpoint: str | Path | None = None,
    model: str = "MSD_musicnn",
    layer: Literal["pooled", "penultimate"] = "pooled",
    device: str = "cpu",
    address: str | None = None,
    concurrency: int | None = None,
    num_gpus: float = 0,
    num_workers: int | None = None,
    files_per_part: int = 1000,
    files_per_batch: int = 4,
    progress: bool = False,
) -> CatalogueSummary:
    """Write a catalogue of genres, tags or embeddings for every input file, resuming a run before it.

    The output is a directory of Parquet parts with one row per input file
    (:mod:`musicgenre.catalogue` describes the columns and the resume rule). Files a part
    already holds are skipped; the rest are computed and written as they finish.

    Parameters
    ----------
    job
        ``"predict"`` (genres, needs *checkpoint*), ``"tags"`` (musicnn tags) or ``"embed"``
        (musicnn embeddings).
    inputs
        Audio files, folders (searched recursively) and URIs (``s3://bucket/prefix``).
    output
        The catalogue directory, e.g. ``catalogue.parquet``.
    engine
        ``"local"``: this process (and its decoding workers); ``"ray"``: Ray Data
        (needs the ``musicgenre[ray]`` extra).
    checkpoint
        The genre model (``"predict"``).
    model
        The musicnn model (``"tags"``, ``"embed"``): ``"MSD_musicnn"`` or ``"MTT_musicnn"``.
    layer
        The embedding (``"embed"``): ``"pooled"`` (1,506-d) or ``"penultimate"`` (200-d).
    device
        Where the local engine runs the model (Ray actors: the CPU, or CUDA with *num_gpus*).
    address, concurrency, num_gpus, files_per_batch
        Ray only: see :func:`~musicgenre.catalogue.ray_engine.run_ray`.
    num_workers
        Local only: decoding processes (``None``: one per usable core).
    files_per_part
        Rows per Parquet part (the local engine's batch).
    progress
        Show progress (Ray Data's bars).

    Returns
    -------
    CatalogueSummary

    Raises
    ------
    ConfigurationError
        Bad arguments, an output holding another model's catalogue, or ``engine="ray"``
        without Ray installed.
    CheckpointError
        If the checkpoint cannot be loaded.
    """
    started = time.perf_counter()
    if engine not in ("local", "ray"):
        raise ConfigurationError(f"engine must be 'local' or 'ray', got {engine!r}")
    _check_extra(engine)
    if num_gpus < 0:
        raise ConfigurationError(f"num_gpus must be 0 or more, got {num_gpus}")
    if files_per_batch < 1:
        raise ConfigurationError(f"files_per_batch must be at least 1, got {files_per_batch}")
    if concurrency is not None and concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
    spec = ModelSpec.create(
        job, checkpoint=checkpoint, model=model, layer=layer, device="cuda" if num_gpus and engine == "ray" else device
    )
    entries = list_inputs([str(i) for i in inputs])
    maker = RowMaker(spec, num_workers=num_workers)
    try:
        schema = make_schema(job, spec.name, maker.columns)
        folder = Path(output)
        done = open_catalogue(folder, schema, entries)
        writer = PartWriter(folder, schema, {e.path: e for e in entries}, files_per_part)
        todo = [e for e in entries if e.path not in done]
        try:
            writer.add({"path": e.path, "duration_s": None, "error": e.error} for e in todo if e.error is not None)
            todo = [e for e in todo if e.error is None]
            if todo and engine == "local":
                from musicgenre.catalogue.local import run_local

                run_local(spec, todo, writer, maker=maker)
            elif todo:
                maker.close()
                from musicgenre.catalogue.ray_engine import run_ray

                run_ray(
                    spec,
                    todo,
                    writer,
                    address=address,
                    concurrency=concurrency,
                    num_gpus=num_gpus,
                    files_per_batch=files_per_batch,
                    progress=progress,
                )
        finally:
            writer.flush()  # the rows finished before an interruption are kept
    finally:
        maker.close()
    return CatalogueSummary(
        files=len(entries),
        done_before=len(done),
        computed=len(writer.written),
        failed=writer.failed,
        seconds=time.perf_counter() - started,
        output=folder,
    )


def _check_extra(engine: Engine) -> None:
    import importlib.util

    needed = ("pyarrow", "ray") if engine == "ray" else ("pyarrow",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        from musicgenre.errors import MissingDependencyError

        raise MissingDependencyError(
            f"a catalogue needs {' and '.join(missing)}, which the ray extra brings: pip install 'musicgenre[ray]'"
        )
