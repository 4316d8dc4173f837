"""Data-parallel helpers: which process this is under ``torchrun``, and what the processes share.

:class:`~musicgenre.training.trainer.Trainer` asks :func:`distributed_info` once, in its
constructor. With more than one process it shards the training set (a seeded
``DistributedSampler``) and the validation set (:class:`ShardSampler`: each item exactly
once, no padding), wraps the model in ``DistributedDataParallel``, adds up every
process's validation sums (:func:`all_reduce_sums`) so that each process sees the metrics
of the whole validation set, gives every process rank 0's batch-norm statistics before
validation (:func:`broadcast_buffers`), and lets rank 0 decide when to stop
(:func:`broadcast_flag`). Only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler, SequentialSampler

__all__ = ["ShardSampler", "all_reduce_sums", "broadcast_buffers", "broadcast_flag", "distributed_info", "shard_loader"]


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


class ShardSampler(Sampler[int]):
    """Items ``rank, rank + world_size, ...`` of a dataset, in order: every item on exactly one process.

    Unlike ``DistributedSampler`` it pads nothing, so sums over the shards, added up
    across the processes, are the sums over the whole dataset (the shards may differ in
    length by one item).

    Parameters
    ----------
    length
        Items in the dataset.
    rank, world_size
        This process and the number of processes.

    Examples
    --------
    >>> list(ShardSampler(5, rank=1, world_size=2))
    [1, 3]
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.items = range(rank, length, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def shard_loader(loader: DataLoader[Any], rank: int, world_size: int) -> DataLoader[Any]:
    """*loader* reading only this process's :class:`ShardSampler` shard, with its other settings.

    A loader that reads its dataset in order (the default sampler) is remade with the same
    batch size, collate function and workers; any other is returned unchanged (every
    process then reads all of it, which :func:`all_reduce_sums` still turns into the right
    means, only more slowly).
    """
    if not isinstance(loader.sampler, SequentialSampler) or loader.batch_size is None:
        return loader
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=ShardSampler(len(loader.sampler), rank, world_size),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
    )


def all_reduce_sums(*values: float, device: torch.device) -> list[float]:
    """Each of *values* summed over all processes (in float64); every process gets the same result."""
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(totals)
    return [float(v) for v in totals.tolist()]


@torch.no_grad()
def broadcast_buffers(model: nn.Module, src: int = 0) -> None:
    """Copy rank *src*'s buffers (batch-norm running statistics) into every process's *model*."""
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer, src)


def broadcast_flag(flag: bool, device: torch.device, src: int = 0) -> bool:
    """Rank *src*'s *flag* on every process (one process decides, all act on it)."""
    value = torch.tensor([int(flag)], dtype=torch.int64, device=device)
    torch.distributed.broadcast(value, src)
    return bool(value.item())
