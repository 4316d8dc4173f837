"""Make ``tests/data/musicnn_fixture.npz``: the ORIGINAL musicnn's outputs, for the port's parity tests.

Run it once, in a throwaway virtual environment with TensorFlow and musicnn 0.1.0 (CI
never runs it; the tests only read the ``.npz`` it writes)::

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" librosa soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0   # its metadata pins numpy<1.17
    /tmp/tfvenv/bin/python scripts/make_musicnn_fixture.py [--gtzan ../shared/data/gtzan-mini]

(``--no-deps`` because musicnn's own metadata pins ``numpy<1.17``, which has no build for
Python 3.11; its code runs unchanged on TF 2.15's ``tf.compat.v1``.)

What it does, for each input:

* **synthetic signals** -- made deterministically by :func:`synth_signal` from the
  recipes in :data:`RECIPES` (a seed and a few numbers each; the test rebuilds the
  audio from the recipe stored in the fixture, so no audio is stored), written to a
  16 kHz float WAV and read back by musicnn's own ``extractor.batch_data`` (librosa
  front end, 187-frame patches without overlap);
* **real clips** -- a few GTZAN clips of ``gtzan-mini`` (path stored relative to it),
  through the same ``batch_data`` (librosa resamples 22,050 -> 16,000 Hz with soxr HQ).

It builds musicnn's TF graph (``musicnn.models.define_model``) once per model,
restores the checkpoint shipped in musicnn's package and stores, per input and per
model (``MSD_musicnn``, ``MTT_musicnn``): the taggram (sigmoid of the logits, one row
per patch), the 200-d penultimate, the 1,506-d pooled features (the graph's own
flattened ``concat([max, mean])`` tensor, so the interleaving is checked too) and the
whole-track tags (mean of the taggram, as ``musicnn.tagger.top_tags``). The input
patches are stored for every synthetic signal and for the first patch of each real
clip; the penultimate and pooled features only where the patches are stored.

Keys: ``recipes`` (JSON), ``clips`` (JSON: relative paths), ``meta`` (JSON: versions),
``{input}_patches``, ``{input}_{model}_{taggram|penultimate|pooled|tags}`` with
``input`` = ``syn0``, ``syn1``, ... or ``gtz0``, ``gtz1``, ...
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CLIPS", "RECIPES", "SR", "main", "synth_signal"]

SR = 16000
RECIPES: list[dict[str, Any]] = [
    {"kind": "tone", "seconds": 4.0, "seed": 0, "freq": 440.0, "amp": 0.5},
    {"kind": "noise", "seconds": 5.0, "seed": 1, "amp": 0.2},
    {"kind": "chirp", "seconds": 7.0, "seed": 2, "f0": 60.0, "f1": 7000.0, "amp": 0.5},
    {"kind": "clicks", "seconds": 6.5, "seed": 3, "bpm": 120.0, "amp": 0.8},
    {"kind": "chords", "seconds": 10.0, "seed": 4, "amp": 0.3},
]
CLIPS = ["rock/rock.00000.flac", "classical/classical.00000.flac", "hiphop/hiphop.00000.flac", "jazz/jazz.00000.flac"]
MODELS = ("MSD_musicnn", "MTT_musicnn")


def synth_signal(recipe: dict[str, Any]) -> np.ndarray:
    """The float32 mono 16 kHz signal a recipe describes (deterministic: numpy's PCG64 from its seed).

    Kinds: ``tone`` (a sine), ``noise`` (white Gaussian), ``chirp`` (exponential sweep
    ``f0`` -> ``f1``), ``clicks`` (decaying noise bursts at ``bpm``), ``chords`` (a
    harmonic-rich triad changing every second, roots drawn from the seed, plus a little noise).
    """
    rng = np.random.default_rng(int(recipe["seed"]))
    n = round(float(recipe["seconds"]) * SR)
    t = np.arange(n) / SR
    amp = float(recipe["amp"])
    kind = recipe["kind"]
    if kind == "tone":
        y = np.sin(2 * np.pi * float(recipe["freq"]) * t)
    elif kind == "noise":
        y = rng.standard_normal(n)
    elif kind == "chirp":
        f0, f1, dur = float(recipe["f0"]), float(recipe["f1"]), float(recipe["seconds"])
        k = np.log(f1 / f0) / dur
        y = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    elif kind == "clicks":
        y = np.zeros(n)
        period = round(60.0 / float(recipe["bpm"]) * SR)
        burst = rng.standard_normal(800) * np.exp(-np.arange(800) / 120.0)
        for start in range(0, n - 800, period):
            y[start : start + 800] += burst
    elif kind == "chords":
        y = np.zeros(n)
        roots = 110.0 * 2 ** (rng.integers(0, 12, size=int(np.ceil(n / SR))) / 12)
        for i, root in enumerate(roots):
            seg = slice(i * SR, min(n, (i + 1) * SR))
            for ratio in (1.0, 1.25, 1.5):
                for h in range(1, 6):
                    y[seg] += np.sin(2 * np.pi * root * ratio * h * t[seg]) / h
        y = y / np.abs(y).max() + 0.05 * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown recipe kind {kind!r}")
    return (amp * y / max(1.0, float(np.abs(y).max()) if kind != "noise" else 1.0)).astype(np.float32)


def _run_models(batches: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    import tensorflow as tf  # type: ignore[import-untyped,import-not-found,unused-ignore]

    # The original package is only installed in the throwaway TensorFlow venv: import it by name.
    configuration = importlib.import_module("musicnn.configuration")
    models = importlib.import_module("musicnn.models")

    tf.compat.v1.disable_eager_execution()
    results: dict[str, dict[str, np.ndarray]] = {name: {} for name in batches}
    package = Path(str(models.__file__)).parent
    for model in MODELS:
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, configuration.N_MELS])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y, *_, penultimate = models.define_model(x, is_training, model, 50)
            probs = tf.nn.sigmoid(y)
        graph = tf.compat.v1.get_default_graph()
        flat = [op.outputs[0] for op in graph.get_operations() if op.name.endswith("flatten/Reshape")]
        assert len(flat) == 1, [op.name for op in graph.get_operations() if "flatten" in op.name]
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, str(package / model) + "/")
            for name, batch in batches.items():
                taggram, pen, pooled = sess.run([probs, penultimate, flat[0]], {x: batch, is_training: False})
                results[name][f"{model}_taggram"] = taggram.astype(np.float32)
                results[name][f"{model}_penultimate"] = pen.astype(np.float32)
                results[name][f"{model}_pooled"] = pooled.astype(np.float32)
                results[name][f"{model}_tags"] = taggram.mean(axis=0).astype(np.float32)
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--gtzan", type=Path, default=here.parent / "shared" / "data" / "gtzan-mini")
    parser.add_argument("--out", type=Path, default=here / "tests" / "data" / "musicnn_fixture.npz")
    args = parser.parse_args(argv)

    import librosa  # type: ignore[import-untyped,import-not-found,unused-ignore]
    import soundfile as sf
    import tensorflow as tf  # type: ignore[import-untyped,import-not-found,unused-ignore]

    extractor = importlib.import_module("musicnn.extractor")

    batches: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, recipe in enumerate(RECIPES):
            path = Path(tmp) / f"syn{i}.wav"
            sf.write(path, synth_signal(recipe), SR, subtype="FLOAT")
            batches[f"syn{i}"], _ = extractor.batch_data(str(path), 187, 187)
    for j, clip in enumerate(CLIPS):
        batches[f"gtz{j}"], _ = extractor.batch_data(str(args.gtzan / clip), 187, 187)
    results = _run_models({k: v.astype(np.float32) for k, v in batches.items()})

    arrays: dict[str, np.ndarray] = {
        "recipes": np.array(json.dumps(RECIPES)),
        "clips": np.array(json.dumps(CLIPS)),
        "meta": np.array(
            json.dumps(
                {
                    "musicnn": "0.1.0",
                    "tensorflow": tf.__version__,
                    "librosa": librosa.__version__,
                    "numpy": np.__version__,
                }
            )
        ),
    }
    for name, batch in batches.items():
        real = name.startswith("gtz")
        arrays[f"{name}_patches"] = batch[:1].astype(np.float32) if real else batch.astype(np.float32)
        for key, value in results[name].items():
            keep = value[:1] if real and key.endswith(("_penultimate", "_pooled")) else value
            arrays[f"{name}_{key}"] = keep
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(batches)} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
