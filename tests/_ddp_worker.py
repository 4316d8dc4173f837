"""Worker for tests/test_distributed.py: run by ``torchrun --nproc_per_node=2``.

Trains a small classifier on a separable synthetic task with the library's Trainer and
saves this rank's final weights and history to ``OUT/rank<r>.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from musicgenre.training import ModelCheckpoint, Trainer, TrainerConfig


def main(out: Path) -> None:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, 8, 8, generator=generator)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    x[y == 1] += 1.0
    from musicgenre.models import GenreCNN

    model = GenreCNN(n_classes=2, n_mels=8, n_frames=8, channels=(8,), embedding_dim=16, dropout=0.2, seed=1)
    checkpoint = ModelCheckpoint(out / "ckpt", classes=["low", "high"])
    trainer = Trainer(TrainerConfig(max_epochs=8, batch_size=16, patience=None, progress=False), [checkpoint])
    history = trainer.fit(model, TensorDataset(x[:192], y[:192]), TensorDataset(x[192:], y[192:]))
    torch.save(
        {
            "rank": trainer.rank,
            "world_size": trainer.world_size,
            "state_dict": model.state_dict(),
            "val_accuracy": history.column("val_accuracy"),
            "train_loss": history.column("train_loss"),
        },
        out / f"rank{trainer.rank}.pt",
    )
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
