"""Worker for tests/test_distributed.py: run by ``torchrun --nproc_per_node=2``.

Trains the improved recipe (batch-norm CNN, random crops and augmentation, whole-track
validation, early stopping) scaled down to a tiny synthetic feature set, through
:func:`musicgenre.experiment.train_model`, and saves to ``OUT/rank<r>.pt`` what the test
compares across the ranks: the final weights and buffers, the epochs run, the best epoch,
the validation metrics, the validation loss of the final model as the distributed run
computes it (sharded and reduced) and as one process computes it over every track, and
what a training DataLoader without a DistributedSampler gets.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from musicgenre.audio.transforms import FeatureConfig
from musicgenre.data.cache import FeatureSet
from musicgenre.errors import ConfigurationError
from musicgenre.evaluation.tracks import evaluate_tracks, track_loader
from musicgenre.experiment import train_model
from musicgenre.recipes import IMPROVED
from musicgenre.training import ModelCheckpoint, distributed_info
from musicgenre.training.tracks import TrackTrainer

CLASSES = ("low", "mid", "high")
RECIPE = replace(
    IMPROVED,
    name="improved-tiny",
    features=FeatureConfig(sample_rate=8000, clip_ms=500, n_mels=12, n_fft=256, hop_length=256, top_db=None),
    model=replace(IMPROVED.model, channels=(4, 8), embedding_dim=8),
    trainer=replace(IMPROVED.trainer, lr=5e-3, batch_size=6, max_epochs=6, patience=1, progress=False),
    crops_per_track=1,
)


def tracks(n: int, seed: int, label_noise: float) -> FeatureSet:
    """*n* tracks of 20 to 44 frames: noise plus a loud band whose position is the class (some labels wrong)."""
    rng = np.random.default_rng(seed)
    spectrograms, targets = [], []
    for i in range(n):
        label = i % len(CLASSES)
        x = rng.normal(-60.0, 6.0, size=(1, 12, int(rng.integers(20, 45)))).astype(np.float32)
        x[:, 4 * label : 4 * label + 3] += 30.0
        spectrograms.append(torch.from_numpy(x))
        targets.append(int(rng.integers(len(CLASSES))) if rng.random() < label_noise else label)
    files = [Path(f"track{i:03d}.wav") for i in range(n)]
    return FeatureSet.from_spectrograms(spectrograms, targets, files, CLASSES)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank, world_size = distributed_info()
    train, val = tracks(24, seed=0, label_noise=0.3), tracks(7, seed=1, label_noise=0.0)  # 7: shards of 4 and 3
    data = FeatureSet.from_spectrograms(
        [*train.spectrograms, *val.spectrograms], [*train.targets, *val.targets], [*train.files, *val.files], CLASSES
    )
    train_idx, val_idx = list(range(24)), list(range(24, 31))

    # A ready training loader without a DistributedSampler would train every rank on everything.
    trainer = TrackTrainer(RECIPE.trainer)
    try:
        trainer.make_loader(DataLoader(train, batch_size=6, shuffle=True), shuffle=True)
        loader_error = ""
    except ConfigurationError as exc:
        loader_error = str(exc)

    checkpoint = ModelCheckpoint(out / "ckpt", classes=CLASSES, features=RECIPE.features)
    model, history = train_model(data, train_idx, val_idx, RECIPE, seed=3, callbacks=[checkpoint])

    # The final model's validation loss: sharded and reduced, and one process over every track.
    sharded = trainer.val_loop(model, trainer.make_loader(track_loader(data, val_idx, RECIPE), shuffle=False))
    outputs = evaluate_tracks(model, data, val_idx, RECIPE)
    p_true = outputs.probabilities[np.arange(len(outputs.targets)), outputs.targets]
    single = (float(-np.log(np.clip(p_true, 1e-12, None)).mean()), float((outputs.predicted == outputs.targets).mean()))

    torch.save(
        {
            "rank": rank,
            "world_size": world_size,
            "state_dict": model.state_dict(),
            "epochs": len(history.epochs),
            "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early,
            "val_loss": history.column("val_loss"),
            "val_accuracy": history.column("val_accuracy"),
            "train_loss": history.column("train_loss"),
            "sharded_val": sharded,
            "single_val": single,
            "loader_error": loader_error,
        },
        out / f"rank{rank}.pt",
    )
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
