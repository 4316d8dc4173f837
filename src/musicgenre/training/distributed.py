"""Data-parallel helpers: which process this is, under ``torchrun``.

:class:`~musicgenre.training.trainer.Trainer` asks :func:`distributed_info` once, in its
constructor; with more than one process it shards the training set, wraps the model in
``DistributedDataParallel`` and lets rank 0 alone log and write checkpoints.
"""

from __future__ import annotations

import os

import torch

__all__ = ["distributed_info"]


def distributed_info() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless launched by ``torchrun`` with several processes.

    Initialises the default process group from torchrun's environment variables on first
    use (gloo on CPU, NCCL when CUDA is available).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not torch.distributed.is_available():
        return 0, 1
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return torch.distributed.get_rank(), torch.distributed.get_world_size()
