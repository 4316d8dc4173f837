"""Catalogue scale: Ray Data against the in-process engine, and one node against two.

    python benchmarks/catalogue.py                 # 1,000 30-s files (written once, kept)
    python benchmarks/catalogue.py --tracks 100    # a quicker look

Every row writes the same Parquet catalogue (``musicgenre.catalogue.run_catalogue``) for
``--tracks`` 30-s files (:func:`real_path.prediction_sets`, the ``--format`` set), for two
jobs: musicnn tags (MSD_musicnn) and the improved model's genres (untrained weights with
batch-norm statistics, as in ``real_path.py``: its cost is the trained model's).

The in-process and Ray runs alternate (``--repeats``, medians), with the Ray of the Ray
runs up (idle) during the in-process ones.

- ``in-process``: ``engine="local"``: ``predict_many``/``tag_many`` on
  :func:`~musicgenre.parallel.map_files` with one worker per usable core.
- ``Ray Data, local``: ``engine="ray"`` on a Ray started first (its start-up is its own
  row) with as many CPUs as there are usable cores, one actor per CPU. The ratio is the
  in-process time over Ray's (>= 0.85: the engine costs little).
- ``1 node`` / ``2 nodes``: a ``ray.cluster_utils.Cluster`` on this machine with one or
  two single-CPU nodes, one actor per node. On 2 cores the two nodes share the machine
  with the driver, Ray's own processes and each other's memory bandwidth, so the ratio
  stays under 2.

Peak memory per actor is the largest ``VmHWM`` of a ``ray::MapWorker`` process seen
during the run. Every Ray here listens on 127.0.0.1 only
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray here listens on 127.0.0.1 only

from common import machine, table
from predict import FORMATS
from real_path import prediction_checkpoints, prediction_sets

from musicgenre.catalogue import CatalogueSummary, run_catalogue


class ActorMemory:
    """Samples the peak resident memory (``VmHWM``) of every ``ray::MapWorker`` process while it runs."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    if not (proc / "cmdline").read_bytes().startswith(b"ray::MapWorker"):
                        continue
                    status = (proc / "status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))

    def __enter__(self) -> ActorMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def cluster(nodes: int) -> Iterator[None]:
    """A Ray cluster of *nodes* single-CPU nodes on this machine, connected."""
    import ray
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(nodes - 1):
        made.add_node(num_cpus=1)
    ray.init(address=made.address, logging_level="warning", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        made.shutdown()


def timed(run: Callable[[Path], CatalogueSummary], scratch: Path) -> tuple[float, CatalogueSummary]:
    out = scratch / "out.parquet"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = run(out)
    wall = time.perf_counter() - start
    if summary.missing or summary.computed != summary.files:
        raise RuntimeError(f"incomplete run: {summary}")
    return wall, summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=1000, help="30-s files (default: 1000)")
    parser.add_argument("--format", default="44.1 kHz stereo MP3", choices=list(FORMATS), help="which file set")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "musicgenre-bench")
    parser.add_argument("--jobs", nargs="+", default=["tags", "predict"], choices=["tags", "predict"])
    parser.add_argument("--repeats", type=int, default=3, help="in-process and Ray runs, interleaved (median)")
    parser.add_argument("--skip-nodes", action="store_true", help="leave out the one-node / two-node rows")
    args = parser.parse_args(argv)

    import ray

    from musicgenre.catalogue.ray_engine import start_local_ray

    files = [str(p) for p in prediction_sets(args.folder, args.tracks, [args.format])[0][args.format]]
    checkpoint = prediction_checkpoints(args.folder / "checkpoints")["improved"]
    cores = len(os.sched_getaffinity(0))
    audio_s = 30.0 * len(files)
    print(f"{machine()}\n{len(files)} x 30-s files ({args.format}); ray {ray.__version__}")
    scratch = Path(tempfile.mkdtemp(prefix="catalogue-bench-"))
    names = {"tags": "musicnn tags (MSD_musicnn)", "predict": "genres, improved model"}
    rows: list[list[str]] = []
    node_rows: list[list[str]] = []
    try:
        for job in args.jobs:

            def run(out: Path, engine: str = "local", job: str = job, **kw: Any) -> CatalogueSummary:
                return run_catalogue(job, files, out, engine=engine, checkpoint=checkpoint, **kw)  # type: ignore[arg-type]

            start = time.perf_counter()
            start_local_ray(num_cpus=cores)
            startup_s = time.perf_counter() - start
            local_runs: list[float] = []
            ray_runs: list[float] = []
            try:
                with ActorMemory() as memory:
                    for _ in range(args.repeats):  # interleaved, so that a change of load touches both
                        local_runs.append(timed(run, scratch)[0])
                        ray_runs.append(timed(lambda out: run(out, "ray"), scratch)[0])
            finally:
                ray.shutdown()
            local_s, ray_s = statistics.median(local_runs), statistics.median(ray_runs)
            rows.append(
                [
                    names[job],
                    f"{local_s:.1f}",
                    f"{audio_s / local_s:.0f}x",
                    f"{startup_s:.1f}",
                    f"{ray_s:.1f}",
                    f"{audio_s / ray_s:.0f}x",
                    f"{local_s / ray_s:.2f}",
                    f"{len(files) / (ray_s * cores):.2f}",
                    f"{memory.peak_kib / 1024:.0f}",
                ]
            )
            if not args.skip_nodes:
                walls = []
                for nodes in (1, 2):
                    with cluster(nodes):
                        walls.append(timed(lambda out: run(out, "ray"), scratch)[0])
                node_rows.append([names[job], f"{walls[0]:.1f}", f"{walls[1]:.1f}", f"{walls[0] / walls[1]:.2f}"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table(
        f"Catalogue of {len(files)} x 30-s files, {cores} cores: in-process vs Ray Data "
        f"(median of {args.repeats} interleaved runs, seconds; x real time)",
        [
            "job",
            "in-process s",
            "x RT",
            "Ray start s",
            "Ray Data s",
            "x RT",
            "ratio",
            "tracks/s per core (Ray)",
            "peak MiB / actor",
        ],
        rows,
    )
    if node_rows:
        table(
            "The same on a Ray cluster of single-CPU nodes on this machine (seconds, Ray start excluded)",
            ["job", "1 node", "2 nodes", "scaling"],
            node_rows,
        )


if __name__ == "__main__":
    main()
