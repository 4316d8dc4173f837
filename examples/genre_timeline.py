"""
A genre timeline of a long recording
====================================

What does each part of a DJ mix, a radio show or a concert sound like? ``predict(...,
timeline=True)`` scores every window of a recording, and
:func:`musicgenre.predict.plots.plot_timeline` draws those windows' probabilities over time;
the pretrained tagger's timeline draws the same way.

Here the recording is generated: sections of synthetic genres joined end to end (so this
runs anywhere, with no download), and the model is a small one trained first on a synthetic
GTZAN-shaped set of the same genres. Point it at your own recording and model::

    python examples/genre_timeline.py                                         # all synthetic
    python examples/genre_timeline.py --checkpoint runs/gtzan/model.ckpt --recording mix.mp3
    musicgenre predict --checkpoint model.ckpt mix.mp3 --timeline --plot timeline.png   # the same, from the shell
    musicgenre tags mix.mp3 --timeline --plot tags.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

import musicgenre as mg
from musicgenre.experiment import load_data, train_model
from musicgenre.predict import Tagger
from musicgenre.predict.plots import plot_timeline
from musicgenre.recipes import REFERENCE
from musicgenre.synthetic import make_synthetic_gtzan, synthesize_clip

SECTIONS = ("classical", "metal", "disco", "jazz")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, help="a long audio file; omit for a generated one")
    parser.add_argument("--checkpoint", type=Path, help="a trained model.ckpt; omit to train a small one")
    parser.add_argument("--out", type=Path, default=Path("runs/timeline"), help="output folder")
    parser.add_argument("--section-seconds", type=float, default=30.0, help="generated recording only")
    parser.add_argument("--clips-per-genre", type=int, default=10, help="training only")
    parser.add_argument("--max-epochs", type=int, default=25, help="training only")
    parser.add_argument("--no-tags", action="store_true", help="skip the pretrained tagger's timeline")
    return parser.parse_args(argv)


def small_model(out: Path, clips_per_genre: int, max_epochs: int) -> Path:
    """The reference recipe trained on a synthetic set of the sections' genres, saved as out/model.ckpt."""
    root = make_synthetic_gtzan(out / "synthetic-gtzan", clips_per_genre=clips_per_genre, genres=SECTIONS)
    data = load_data(root, "reference", progress=False)
    train_idx, val_idx = mg.stratified_split(data.targets, (0.8, 0.2), seed=0)
    model, _ = train_model(data, train_idx, val_idx, "reference", seed=0, max_epochs=max_epochs)
    return mg.save_checkpoint(out / "model.ckpt", model, classes=data.classes, features=REFERENCE.features)


def generated_recording(path: Path, seconds: float, sample_rate: int = 22050) -> Path:
    """The sections' synthetic genres, *seconds* each, joined end to end."""
    parts = [
        synthesize_clip(g, duration=seconds, sample_rate=sample_rate, seed=500 + i) for i, g in enumerate(SECTIONS)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.concatenate(parts), sample_rate)
    return path


def main(argv: list[str] | None = None) -> dict[str, str]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    recording = args.recording or generated_recording(args.out / "mix.flac", args.section_seconds)
    checkpoint = args.checkpoint or small_model(args.out, args.clips_per_genre, args.max_epochs)

    # Every window of the recording, half overlapping, scored; the timeline keeps each one.
    classifier = mg.GenreClassifier.from_checkpoint(checkpoint, overlap=0.5)
    prediction = classifier.predict(recording, timeline=True)
    print(f"{recording.name}: {prediction.duration:.0f} s in {prediction.segments} windows")
    if not args.recording:
        step = args.section_seconds
        for i, genre in enumerate(SECTIONS):
            inside = [s for s in prediction.timeline or () if s.start >= i * step and s.end <= (i + 1) * step]
            top = [s.label for s in inside]
            share = top.count(genre) / max(1, len(top))
            print(
                f"  {i * step:4.0f}-{(i + 1) * step:4.0f} s ({genre:9}): top genre right in {share:.0%} of its windows"
            )
    written = {"genres": str(plot_timeline(prediction, args.out / "timeline.png"))}

    # The pretrained tagger's 50 tags over the same recording, no training needed.
    if not args.no_tags:
        tags = Tagger.from_pretrained("MSD_musicnn").tag(recording, timeline=True)
        written["tags"] = str(plot_timeline(tags, args.out / "tags.png", top=10))
    for what, path in written.items():
        print(f"wrote {path} ({what})")
    return written


if __name__ == "__main__":
    main()
