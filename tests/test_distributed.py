"""Two CPU processes under torchrun (gloo) end with identical weights and histories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("_ddp_worker.py")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_two_process_ddp_run_ends_with_identical_weights(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(WORKER),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 for r in ranks)
    for name, tensor in ranks[0]["state_dict"].items():
        assert torch.equal(tensor, ranks[1]["state_dict"][name]), name
    # Both processes report the same (all-reduced) training loss and the same validation.
    assert ranks[0]["train_loss"] == ranks[1]["train_loss"]
    assert ranks[0]["val_accuracy"] == ranks[1]["val_accuracy"]
    assert ranks[0]["val_accuracy"][-1] >= 0.9
    # Only rank 0 writes checkpoints, and it wrote them.
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()
    assert (tmp_path / "ckpt" / "best.ckpt").is_file()
