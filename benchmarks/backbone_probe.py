"""Which pretrained backbone and layer to build on: a linear probe's cross-validated accuracy, speed and size.

    python benchmarks/backbone_probe.py                       # ../shared/data/gtzan-mini, 5 folds
    python benchmarks/backbone_probe.py --root ~/data/gtzan --folds 10

For each packaged backbone (MSD_musicnn, MTT_musicnn) and each layer a head can read
(``pooled``: the 1,506-d pooled features; ``penultimate``: the 200-d embedding; ``tags``: the
50 tag probabilities), every track's mean over its 3-s patches is probed with
scikit-learn's ``StandardScaler`` + ``LogisticRegression(C=1.0)`` in stratified k-fold
cross-validation (fitted on the other folds alone); both backbones' pooled features side
by side are a row too. Speed is the backbone's wall time per 30 s of audio on one thread
(the three layers come from one pass). Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from common import REPO, machine, table
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from musicgenre.io import find_audio_files
from musicgenre.predict import Tagger

LAYERS = ("pooled", "penultimate", "tags")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "gtzan-mini")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def track_features(tagger: Tagger, path: Path) -> tuple[dict[str, NDArray[np.float32]], float, float]:
    """Each layer's mean over the track's patches, the backbone's seconds and the track's seconds."""
    patches = tagger.patches(path)
    start = time.perf_counter()
    with torch.inference_mode():
        pooled = tagger.model.pooled(patches)
        penultimate = tagger.model.forward_head(pooled, pre_logits=True)
        tags = torch.sigmoid(tagger.model.forward_head(pooled))
    seconds = time.perf_counter() - start
    layers = {"pooled": pooled, "penultimate": penultimate, "tags": tags}
    audio = len(patches) * tagger.patch_seconds
    return {name: value.mean(0).numpy() for name, value in layers.items()}, seconds, audio


def probe(x: NDArray[np.float32], y: NDArray[np.int64], folds: int, seed: int) -> tuple[float, float]:
    """Mean and standard deviation of the fold accuracies."""
    scores = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
        scores.append(model.fit(x[train], y[train]).score(x[test], y[test]))
    return float(np.mean(scores)), float(np.std(scores))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    print(machine())
    files = find_audio_files(args.root)
    genres = sorted({p.parent.name for p in files})
    y = np.array([genres.index(p.parent.name) for p in files], dtype=np.int64)
    features: dict[tuple[str, str], NDArray[np.float32]] = {}
    rows: list[list[str]] = []
    speed: dict[str, float] = {}
    for name in Tagger.available():
        tagger = Tagger.from_pretrained(name)
        per_layer: dict[str, list[NDArray[np.float32]]] = {layer: [] for layer in LAYERS}
        spent = audio = 0.0
        for path in files:
            means, seconds, length = track_features(tagger, path)
            spent, audio = spent + seconds, audio + length
            for layer in LAYERS:
                per_layer[layer].append(means[layer])
        speed[name] = spent / audio * 30.0
        params = sum(p.numel() for p in tagger.model.parameters())
        for layer in LAYERS:
            x = np.stack(per_layer[layer])
            features[name, layer] = x
            mean, std = probe(x, y, args.folds, args.seed)
            rows.append(
                [
                    name,
                    layer,
                    str(x.shape[1]),
                    f"{100 * mean:.1f} ± {100 * std:.1f}",
                    f"{1e3 * speed[name]:.0f}",
                    f"{params:,}",
                ]
            )
    both = np.concatenate([features["MSD_musicnn", "pooled"], features["MTT_musicnn", "pooled"]], axis=1)
    mean, std = probe(both, y, args.folds, args.seed)
    total = sum(speed.values())
    rows.append(
        ["MSD + MTT", "pooled", str(both.shape[1]), f"{100 * mean:.1f} ± {100 * std:.1f}", f"{1e3 * total:.0f}", ""]
    )
    table(
        f"Linear probe (StandardScaler + LogisticRegression(C=1)) on each track's mean features, {len(files)} tracks "
        f"of {args.root.name}, {args.folds}-fold stratified CV (seed {args.seed}): accuracy, and the backbone's "
        "milliseconds per 30 s of audio on one thread",
        ["backbone", "layer", "dimensions", "probe accuracy (%)", "ms per 30 s", "parameters"],
        rows,
        left=2,
    )


if __name__ == "__main__":
    main()
