"""The Ray Data engine: the same rows as the in-process engine, computed by actors across a cluster.

The only module of musicgenre that imports Ray (inside its functions: importing it costs
nothing without the ``ray`` extra). Local inputs become a dataset of paths
(``ray.data.from_items``: every node must see the same paths, e.g. a shared disk); URIs
(``s3://``, ``gs://``, any pyarrow filesystem) are read as bytes by Ray's own readers
(``ray.data.read_binary_files``) and decoded in the actors. ``map_batches`` runs a pool
of actors, each loading the model once (:class:`~musicgenre.catalogue.compute.RowMaker`)
with one torch thread (or a GPU share with ``num_gpus``); an actor that dies is restarted
and its batch retried (Ray Data's defaults: ``max_restarts=-1``,
``max_task_retries=-1``). The driver writes the rows as they arrive, in parts, so a run
that stops (a lost driver, a job that fails) is resumed from its parts.

Without an address, a Ray is started for the run on this machine with every listener on
127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` set first, no dashboard) and stopped
after it; with one (``address`` or the ``RAY_ADDRESS`` environment variable), the run
joins that cluster.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

from musicgenre.catalogue.compute import ModelSpec, RowMaker
from musicgenre.catalogue.inputs import is_uri, uri_prefix
from musicgenre.catalogue.table import FileEntry, PartWriter

__all__ = ["CatalogueActor", "run_ray", "start_local_ray"]

#: Blocks a dataset is cut into at most (each block is a task: the unit Ray retries).
MAX_BLOCKS = 10_000


def start_local_ray(num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    """Start a Ray on this machine, for this process, with every listener on the loopback address.

    Sets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in ``os.environ`` before Ray starts (Ray
    then binds 127.0.0.1 only) and leaves the dashboard out.

    Parameters
    ----------
    num_cpus, num_gpus
        What Ray may use (default: what it detects).
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    ray.init(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        include_dashboard=False,
        logging_level="warning",
        log_to_driver=False,
    )


class CatalogueActor:
    """The ``map_batches`` callable: loads the model once per actor, turns a batch into rows.

    Parameters
    ----------
    spec
        The model.
    schema
        The catalogue's schema (``size``, ``mtime_ns`` left null: the driver fills them).
    prefix
        ``"s3://"`` etc. for batches of bytes (the names pyarrow gives lack it); ``None``
        for batches of local paths.
    threads
        Torch threads (1 for a CPU actor).
    """

    def __init__(self, spec: ModelSpec, schema: Any, prefix: str | None, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        self.maker = RowMaker(spec, num_workers=0)
        self.schema = schema
        self.prefix = prefix
        self.model = spec.name

    def __call__(self, batch: Any) -> Any:
        """A ``pyarrow.Table`` of rows for a batch (a ``pyarrow.Table`` of ``path`` [and ``bytes``])."""
        import pyarrow as pa

        paths = [str(p) for p in batch.column("path").to_pylist()]
        if self.prefix is None:
            rows = self.maker.rows(paths)
        else:
            names = [self.prefix + p for p in paths]
            rows = self.maker.rows_from_bytes(names, batch.column("bytes").to_pylist())
        for row in rows:
            row["model"] = self.model
        return pa.Table.from_pylist([{n: r.get(n) for n in self.schema.names} for r in rows], schema=self.schema)


def _datasets(todo: Sequence[FileEntry], files_per_batch: int, actors: int) -> list[tuple[Any, str | None]]:
    import pyarrow.fs as pafs
    import ray.data

    def blocks(n: int) -> int:  # a batch per block, and at least 4 blocks per actor while files last
        return max(1, min(n, max(math.ceil(n / files_per_batch), 4 * actors), MAX_BLOCKS))

    local = [e.path for e in todo if not is_uri(e.path)]
    out: list[tuple[Any, str | None]] = []
    if local:
        out.append((ray.data.from_items([{"path": p} for p in local], override_num_blocks=blocks(len(local))), None))
    by_prefix: dict[str, list[str]] = {}
    for entry in todo:
        if is_uri(entry.path):
            by_prefix.setdefault(uri_prefix(entry.path), []).append(entry.path)
    for prefix, names in by_prefix.items():
        filesystem, _ = pafs.FileSystem.from_uri(names[0])
        stripped = [pafs.FileSystem.from_uri(n)[1] for n in names]
        # Reading is I/O: its tasks take no CPU, or they would wait for ever behind the actors that hold them all.
        dataset = ray.data.read_binary_files(
            stripped, filesystem=filesystem, include_paths=True, override_num_blocks=blocks(len(names)), num_cpus=0
        )
        out.append((dataset, prefix))
    return out


def run_ray(
    spec: ModelSpec,
    todo: Sequence[FileEntry],
    writer: PartWriter,
    *,
    address: str | None = None,
    concurrency: int | None = None,
    num_gpus: float = 0,
    files_per_batch: int = 4,
    progress: bool = False,
) -> None:
    """Compute the rows of *todo* on Ray Data and hand them to *writer* as they arrive.

    Parameters
    ----------
    spec
        The model.
    todo
        The files to compute (none with an ``error`` of their own).
    writer
        Writes the parts.
    address
        The cluster (``"ray://head:10001"``, ``"head:6379"``, ``"auto"``); ``None``: the
        ``RAY_ADDRESS`` cluster if that variable is set, else a local Ray for this run
        (:func:`start_local_ray`). A Ray this process already started is used as it is.
    concurrency
        Actors (default: one per CPU of the cluster, or per *num_gpus* share of its GPUs,
        and no more than there are files).
    num_gpus
        GPUs per actor (0: CPU actors with one torch thread each).
    files_per_batch
        Files per ``map_batches`` call.
    progress
        Show Ray Data's progress bars.
    """
    import ray
    import ray.data

    started = False
    if not ray.is_initialized():
        if address is None and not os.environ.get("RAY_ADDRESS"):
            start_local_ray()
        else:
            ray.init(address=address, logging_level="warning")
        started = True
    try:
        with warnings.catch_warnings():  # Ray's own default context warns of its own deprecated field
            warnings.simplefilter("ignore", DeprecationWarning)
            context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        resources = ray.cluster_resources()
        if concurrency is None:
            share = resources.get("GPU", 0) / num_gpus if num_gpus else resources.get("CPU", 1)
            concurrency = max(1, min(int(share), len(todo)))
        schema = writer.schema
        for dataset, prefix in _datasets(todo, files_per_batch, concurrency):
            mapped = dataset.map_batches(
                CatalogueActor,
                fn_constructor_kwargs={"spec": spec, "schema": schema, "prefix": prefix},
                batch_size=files_per_batch,
                batch_format="pyarrow",
                # Two batches per actor at a time: the next one is at hand when one ends, and no actor
                # holds a queue of batches at the end of a run while another idles.
                compute=ray.data.ActorPoolStrategy(size=concurrency, max_tasks_in_flight_per_actor=2),
                num_cpus=0 if num_gpus else 1,
                num_gpus=num_gpus or None,
            )
            for batch in mapped.iter_batches(batch_size=None, batch_format="pyarrow"):
                writer.add(batch.to_pylist())
    finally:
        writer.flush()
        if started:
            ray.shutdown()
