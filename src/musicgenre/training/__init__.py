"""Training: the :class:`~musicgenre.training.trainer.Trainer` loop, its callbacks and the data-parallel helpers."""

from musicgenre.training.callbacks import (
    Callback,
    EarlyStopping,
    EpochMetrics,
    History,
    ModelCheckpoint,
    TrainerState,
)
from musicgenre.training.distributed import ShardSampler, distributed_info
from musicgenre.training.trainer import Trainer, TrainerConfig

__all__ = [
    "Callback",
    "EarlyStopping",
    "EpochMetrics",
    "History",
    "ModelCheckpoint",
    "ShardSampler",
    "Trainer",
    "TrainerConfig",
    "TrainerState",
    "distributed_info",
]
