"""Data-parallel training: `torchrun --nproc_per_node 2 -m runtime.train` on CPU (gloo) against one process.

What data parallelism promises: the two ranks together see the same global batch as one process (the
DistributedSampler deals the one shuffle to the ranks, interleaved), DDP averages their gradients, so after
the same optimiser steps the weights equal the one-process run's to float tolerance. Removing the gradient
averaging (each rank stepping on its own half batch) makes them differ by about 100x the tolerance.

BatchNorm: DDP syncs gradients, not batch statistics. In training mode each rank normalises with the mean
and variance of its own half batch, so a network with BN is *not* the one-process network (and torch's
SyncBatchNorm refuses CPU tensors), while DDP's broadcast_buffers only copies rank 0's running statistics.
The exact test therefore trains a BN-free network (and no dropout, whose masks are drawn per rank): it checks
the gradient sync and nothing that DDP does not promise. The second test trains the BN design (the tiny
MixNet) under torchrun and checks what holds there: it learns, and only rank 0 writes files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TINY_YAML, free_port

TINY = TINY_YAML

# three convs with biases, no BN, no dropout: the exact comparison's network
NO_BN_CFG = (
    """[net]
width=16
height=16
channels=3
"""
    + "".join(
        f"""
[convolutional]
filters={f}
size={k}
stride={s}
pad=1
activation={a}
"""
        for f, k, s, a in ((32, 3, 2, "leaky"), (32, 3, 2, "leaky"), (10, 1, 1, "linear"))
    )
    + """
[avgpool]

[softmax]
"""
)


def _torchrun() -> list[str]:
    exe = shutil.which("torchrun")
    return [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}  # read at call time: a test may set variables first


def _run_one(source: Path, args: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.train", str(source), *args, "--out", str(out), "--threads", "1"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run_two(source: Path, args: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *_torchrun(),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(free_port()),
            "-m",
            "runtime.train",
            str(source),
            *args,
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_two_process_weights_equal_one_process_at_the_same_global_batch(tmp_path):
    import torch

    cfg = tmp_path / "nobn.cfg"
    cfg.write_text(NO_BN_CFG)
    args = ["--size", "16", "--epochs", "3", "--batch", "32", "--lr", "0.3", "--no-progress", "--seed", "0"]
    one = _run_one(cfg, args, tmp_path / "one")
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run_two(cfg, args, tmp_path / "two")
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert a["world_size"] == 1 and b["world_size"] == 2 and b["finished"]
    # it trained (the loss fell), so equal weights are not equal initial weights
    assert a["history"][-1]["train_loss"] < a["history"][0]["train_loss"] - 0.05, a["history"]
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], abs=1e-3), (ra, rb)
    sa = torch.load(tmp_path / "one" / "best.pt", weights_only=False)
    sb = torch.load(tmp_path / "two" / "best.pt", weights_only=False)
    assert sa["epoch"] == sb["epoch"]
    assert sa["state_dict"].keys() == sb["state_dict"].keys()
    for k, wa in sa["state_dict"].items():
        # float noise (1 vs 2 threads, summation order) grows to ~2e-4 over these steps; no gradient sync: ~1e-2
        torch.testing.assert_close(sb["state_dict"][k], wa, rtol=0, atol=2e-3, msg=lambda m, k=k: f"{k}: {m}")


@pytest.mark.slow
def test_two_process_torchrun_with_batchnorm_learns_and_writes_once(tmp_path):
    design = tmp_path / "tiny.yaml"
    design.write_text(TINY)
    args = ["--size", "16", "--epochs", "4", "--batch", "64", "--no-progress", "--seed", "0"]
    two = _run_two(design, args, tmp_path / "two")
    assert two.returncode == 0, two.stderr[-3000:]
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert b["world_size"] == 2 and b["finished"] and len(b["history"]) == 4
    # only rank 0 printed its summary and wrote files (no stray temp files from a second writer)
    assert two.stdout.count("best val top-1") == 1
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.endswith(".tmp")]
    assert b["history"][-1]["train_loss"] < b["history"][0]["train_loss"]
    assert b["history"][-1]["val_top1"] > 0.5, b["history"]
