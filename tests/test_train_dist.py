"""Data-parallel training: `torchrun --nproc_per_node 2 -m runtime.train` on CPU (gloo) against one process.

Both runs see the same seeded split and take the same optimiser steps (the global batch is split over the
ranks), so they reach comparable accuracy; only rank 0 writes files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, TINY_YAML, free_port

TINY = TINY_YAML
ARGS = ["--size", "16", "--epochs", "4", "--batch", "64", "--no-progress", "--seed", "0"]


def _torchrun() -> list[str]:
    exe = shutil.which("torchrun")
    return [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(tmp_path):
    design = tmp_path / "tiny.yaml"
    design.write_text(TINY)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "runtime.train", str(design), *ARGS, "--out", str(tmp_path / "one"),
                          "--threads", "2"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([*_torchrun(), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port",
                          str(free_port()), "-m", "runtime.train", str(design), *ARGS, "--out", str(tmp_path / "two")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one" / "metrics.json").read_text())
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert a["world_size"] == 1 and b["world_size"] == 2 and b["finished"]
    assert a["val_images"] == b["val_images"] and len(b["history"]) == 4
    # only rank 0 printed its summary and wrote files (no stray temp files from a second writer)
    assert two.stdout.count("best val top-1") == 1
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.endswith(".tmp")]
    top_a, top_b = a["history"][-1]["val_top1"], b["history"][-1]["val_top1"]
    assert top_a > 0.5 and top_b > 0.5, (top_a, top_b)
    assert abs(top_a - top_b) < 0.15, (top_a, top_b)
    assert b["history"][-1]["train_loss"] < b["history"][0]["train_loss"]
