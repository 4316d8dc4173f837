"""Feature-store benchmark: loading a cached set of whole-track spectrograms, old layout against new.

    python benchmarks/feature_store.py                  # 1000 tracks of 30 s
    python benchmarks/feature_store.py --tracks 100     # a smoke run

``benchmarks/run.py`` calls :func:`rows` for its table. Both layouts hold the same
spectrograms (the default features of 1000 x 30-s tracks: 64 mel bands x 1292 frames,
float32), written here side by side:

- **old**: what the disk cache wrote before issue 13, one ``<hash>-<key>.npy`` per clip of
  shape ``(1, n_mels, frames)``; loading it is one ``np.load`` per clip and a list of
  tensors;
- **new**: one ``features-<key>.npy`` of shape ``(frames, n_mels)`` for the whole set, and
  its JSON index; loading it is one read (or a memory map) and a
  :class:`~musicgenre.data.cache.FeatureSet` of views.

Each load runs in a fresh process, so that its RSS growth is its own; the files are in
the page cache for both (they were just written), so the times compare the layouts, not
the disk. The content hashing of the audio files, the same for both, is not included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

N_MELS = 64
FRAMES = 1 + 30 * 22050 // 512  # a 30-s track at the default features

# Run in a fresh interpreter: import what a loader needs, measure RSS, load, measure again.
PROBE = """
import json, sys, time
from pathlib import Path
import numpy as np
import torch
from musicgenre.data.cache import FeatureSet

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))

layout, folder = sys.argv[1], Path(sys.argv[2])
index = json.loads((folder / "index.json").read_text())
float(torch.ones(1 << 16).sum())  # torch's first reduction starts its thread pool: not the features' memory
base = rss()
start = time.perf_counter()
if layout == "old":
    tracks = [torch.from_numpy(np.load(folder / name)) for name in index["files"]]
    touch = lambda: sum(float(t.sum()) for t in tracks)
else:
    mmap = layout == "new-mmap"
    storage = torch.from_numpy(np.load(folder / "features.npy", mmap_mode="c" if mmap else None))
    spans = np.asarray(index["spans"], dtype=np.int64)
    data = FeatureSet(storage, spans, index["targets"], [Path(f) for f in index["files"]], ("x",), [])
    touch = lambda: float(data.storage.sum())
seconds = time.perf_counter() - start
loaded = rss()
touch()  # every page of the features in memory (a memory map reads them only now)
touched = rss()
print(json.dumps({"seconds": seconds, "base": base, "loaded": loaded, "touched": touched}))
"""


def write_layouts(folder: Path, tracks: int, seed: int = 0) -> int:
    """Write the same *tracks* spectrograms in the old and the new layout; return their bytes."""
    rng = np.random.default_rng(seed)
    old, new = folder / "old", folder / "new"
    old.mkdir(parents=True)
    new.mkdir(parents=True)
    storage = np.lib.format.open_memmap(
        new / "features.npy", mode="w+", dtype=np.float32, shape=(tracks * FRAMES, N_MELS)
    )
    names, spans = [], []
    for i in range(tracks):
        track = rng.standard_normal((1, N_MELS, FRAMES), dtype=np.float32) * 20.0 - 40.0
        name = f"{i:032x}-0123456789abcdef.npy"
        np.save(old / name, track)
        storage[i * FRAMES : (i + 1) * FRAMES] = track[0].T
        names.append(name)
        spans.append([i * FRAMES, (i + 1) * FRAMES])
    storage.flush()
    del storage
    (old / "index.json").write_text(json.dumps({"files": names}))
    targets = [i % 10 for i in range(tracks)]
    (new / "index.json").write_text(json.dumps({"files": names, "spans": spans, "targets": targets}))
    return tracks * FRAMES * N_MELS * 4


def measure(layout: str, folder: Path) -> dict[str, float]:
    """Load *folder* in *layout* (``old``, ``new`` or ``new-mmap``) in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, layout, str(folder)], check=True, capture_output=True, text=True
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def rows(tracks: int = 1000, repeats: int = 3) -> list[tuple[str, str, str]]:
    """Table rows (measurement, value, notes): load time and RSS growth per layout, best of *repeats* times."""
    out: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        nbytes = write_layouts(folder, tracks)
        mib = 2**20
        runs = {
            ("old", "old: one .npy per clip"): folder / "old",
            ("new", "new: one array, one read"): folder / "new",
            ("new-mmap", "new: one array, memory-mapped"): folder / "new",
        }
        for (layout, label), path in runs.items():
            results = [measure(layout, path) for _ in range(repeats)]
            best = min(results, key=lambda r: r["seconds"])
            growth = best["loaded"] - best["base"]
            touched = best["touched"] - best["base"]
            out.append(
                (
                    f"cached-set load, {tracks} x 30 s, {label}",
                    f"{best['seconds'] * 1000:,.0f} ms",
                    f"RSS +{growth / mib:,.0f} MiB after loading, +{touched / mib:,.0f} MiB with every page read "
                    f"({nbytes / mib:,.0f} MiB of features; best of {repeats})",
                )
            )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=1000, help="tracks of 30 s in the cached set")
    parser.add_argument("--repeats", type=int, default=3, help="loads per layout (the fastest is reported)")
    args = parser.parse_args(argv)
    table = rows(args.tracks, args.repeats)
    width = max(len(r[0]) for r in table)
    print(f"| {'measurement':<{width}} | value | notes |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, value, note in table:
        print(f"| {name:<{width}} | {value} | {note} |")


if __name__ == "__main__":
    main()
