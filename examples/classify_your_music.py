"""
Classify your own music
=======================

Top-3 genres per track with a trained model, and one track's genre timeline.

With ``--checkpoint``, that model is used; without, a small one is trained first on a
synthetic GTZAN-shaped set (so this runs anywhere, with no download; its guesses are
only as good as a minute of training on fake music). Files and folders (searched
recursively) may be of any length, sample rate, channel count and format; without any,
a few synthetic tracks of different lengths and rates are written to a temporary folder.
The run shown in the documentation trains its small model on 4 clips of 2 s per genre
for 3 epochs, so its guesses are close to chance. With your model and your files::

    python examples/classify_your_music.py                                   # all synthetic
    python examples/classify_your_music.py --checkpoint runs/gtzan/model.ckpt song.mp3 ~/Music/album/
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

import musicgenre as mg
from musicgenre.experiment import load_data, train_model
from musicgenre.io import find_audio_files
from musicgenre.recipes import REFERENCE
from musicgenre.synthetic import make_synthetic_gtzan, synthesize_clip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, help="audio files or folders; omit for synthetic tracks")
    parser.add_argument("--checkpoint", type=Path, help="a trained model.ckpt; omit to train a small one")
    parser.add_argument("--out", type=Path, default=Path("runs/classify"), help="where a trained model is saved")
    parser.add_argument("--overlap", type=float, default=0.5, help="overlap of consecutive windows, in [0, 1)")
    parser.add_argument("--max-epochs", type=int, default=10, help="training only")
    parser.add_argument("--clips-per-genre", type=int, default=8, help="training only")
    parser.add_argument("--duration", type=float, default=5.0, help="training clip length in seconds")
    return parser.parse_args(argv)


def train_small_model(out: Path, clips_per_genre: int, duration: float, max_epochs: int) -> Path:
    """The reference recipe on a synthetic set, saved as out/model.ckpt."""
    root = make_synthetic_gtzan(out / "synthetic-gtzan", clips_per_genre=clips_per_genre, duration=duration)
    data = load_data(root, "reference", progress=False)
    train_idx, val_idx = mg.stratified_split(data.targets, (0.8, 0.2), seed=0)
    model, _ = train_model(data, train_idx, val_idx, "reference", seed=0, max_epochs=max_epochs)
    return mg.save_checkpoint(out / "model.ckpt", model, classes=data.classes, features=REFERENCE.features)


def synthetic_tracks(folder: Path) -> list[Path]:
    """A few tracks as they come: different genres, lengths, sample rates and channel counts."""
    tracks = [("metal", 12.0, 44100, 2), ("classical", 3.0, 16000, 1), ("disco", 7.5, 48000, 1)]
    paths = []
    for i, (genre, seconds, rate, channels) in enumerate(tracks):
        samples = synthesize_clip(genre, duration=seconds, sample_rate=rate, seed=100 + i)
        path = folder / f"track{i + 1}-{seconds:g}s-{rate // 1000}kHz.wav"
        sf.write(str(path), np.stack([samples] * channels, axis=1), rate)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    checkpoint = args.checkpoint or train_small_model(args.out, args.clips_per_genre, args.duration, args.max_epochs)
    # The classifier cuts each track into windows of the model's clip length, classifies
    # every window and averages their probabilities (each weighted by the audio it holds).
    classifier = mg.GenreClassifier.from_checkpoint(checkpoint, overlap=args.overlap)

    with tempfile.TemporaryDirectory() as tmp:
        targets = args.paths or synthetic_tracks(Path(tmp))
        # Folders are searched recursively for audio files; files pass through.
        files = [f for p in targets for f in (find_audio_files(p) if p.is_dir() else [p])]

        # Many files: decoded (in worker processes with num_workers > 0); a file that cannot
        # be decoded gives a FailedPrediction and the rest go on.
        results = classifier.predict_many(files, top_k=3, progress=False)
        for result in results:
            if isinstance(result, mg.FailedPrediction):
                print(f"{result.path.name:28}  could not be read: {result.error}")
                continue
            top = "  ".join(f"{genre:9} {p:6.1%}" for genre, p in result.top_k)
            name = result.path.name if result.path is not None else "?"
            print(f"{name:28}  {top}  ({result.duration:.1f} s, {result.segments} window(s))")

        # One track in detail: each window's most probable genre along the track.
        first = next(r.path for r in results if isinstance(r, mg.Prediction) and r.path is not None)
        detail = classifier.predict(first, timeline=True)
        print(f"\ntimeline of {first.name}:")
        for segment in detail.timeline or ():
            share = segment.probabilities[segment.genre]
            print(f"  {segment.start:5.1f}-{segment.end:5.1f} s  {segment.genre:9} {share:.1%}")

    names = " ".join(str(p) for p in args.paths) or "song.mp3 ~/Music/album/"
    print("\nthe same from the shell:")
    print(f"  musicgenre predict --checkpoint {checkpoint} --overlap {args.overlap} {names}")
    return {"checkpoint": str(checkpoint), "predictions": [r.to_dict() for r in results],
            "timeline": [s.to_dict() for s in detail.timeline or ()]}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main()))
