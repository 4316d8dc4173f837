"""What the benchmark scripts share: timing side by side, and the one Markdown table printer.

Imported by the scripts beside it (``import common``), which Python finds because a script's
own folder is on ``sys.path``.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent


def interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, NDArray[np.float64]]:
    """Seconds per call of each variant, called in turn (A B A B ...) *repeats* times after one warm-up each.

    Taking turns makes a busy machine slow every variant alike.
    """
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: np.array(t) for name, t in times.items()}


def median_ms(t: NDArray[np.float64]) -> float:
    """The median of seconds *t*, in milliseconds."""
    return float(np.median(t)) * 1e3


def spread(t: NDArray[np.float64]) -> str:
    """The interquartile range over the median: how noisy the machine was."""
    q1, q2, q3 = np.percentile(t, [25, 50, 75])
    return f"{(q3 - q1) / q2:.0%}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> None:
    """Print one Markdown table under a ``###`` *title*; the first *left* columns are left-aligned."""
    print(f"\n**{title}**\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def machine() -> str:
    """One line naming the machine, its load and the library versions."""
    import soundfile as sf

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"({len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} usable), "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), libsndfile {sf.__libsndfile_version__}"
    )


def run_child(command: Sequence[str], *, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run *command* in a fresh process: (wall seconds, peak RSS in MiB, its stdout).

    The peak RSS is the child's own ``ru_maxrss``, read by a wrapper process that does
    nothing else, so earlier children do not count.
    """
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "wall = time.perf_counter() - start\n"
        "if done.returncode not in (0, 1):\n"
        "    sys.exit(done.stderr[-2000:])\n"
        "sys.stderr.write(done.stdout)\n"
        "print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})},
    )
    wall, rss_kb = done.stdout.split()
    return float(wall), int(rss_kb) / 1024, done.stderr


def self_peak_rss_mib() -> float:
    """This process's peak RSS so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
