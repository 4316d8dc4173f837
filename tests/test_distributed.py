"""Two CPU processes under torchrun (gloo) train the improved recipe into one model and stop together."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("_ddp_worker.py")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_two_process_improved_recipe_ends_with_one_model_and_one_stop_epoch(tmp_path: Path) -> None:
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
    # One model: the same weights and the same batch-norm statistics on both ranks.
    state0, state1 = ranks[0]["state_dict"], ranks[1]["state_dict"]
    assert any("running_mean" in name for name in state0)
    for name, tensor in state0.items():
        assert torch.equal(tensor, state1[name]), name
    # One decision: both ranks ran the same epochs, stopped together and restored the same epoch.
    for key in ("epochs", "best_epoch", "stopped_early", "val_loss", "val_accuracy", "train_loss"):
        assert ranks[0][key] == ranks[1][key], key
    assert ranks[0]["best_epoch"] is not None
    # Validation is sharded (7 tracks: 4 and 3) and reduced: it equals one process scoring every track.
    for r in ranks:
        assert r["sharded_val"] == pytest.approx(r["single_val"], abs=1e-6)
    # A training DataLoader without a DistributedSampler is refused with a clear message.
    assert all("DistributedSampler" in r["loader_error"] for r in ranks)
    # Only rank 0 writes checkpoints, and it wrote them.
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()
    assert (tmp_path / "ckpt" / "best.ckpt").is_file()
