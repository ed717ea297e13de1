"""Quick-train on CUDA: one process on the GPU, and two ranks over nccl when two GPUs are visible.

Marked `gpu`; skipped (saying why) where torch sees no CUDA device, and the nccl test also where fewer than two
GPUs are visible or torch was built without nccl. Every other training test runs on the CPU (TrainConfig's
device defaults to "cpu"), so these are the only ones that train on the GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import designer
from tests.test_train_dist import NO_BN_CFG, TINY, _run_one, _run_two

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: torch.cuda.is_available() is False"),
]


def test_one_epoch_on_cuda_trains_the_model_on_the_gpu(tmp_path, monkeypatch):
    import runtime
    from runtime.train import TrainConfig, train

    built = []
    real_build = runtime.build_model

    def spy(*args, **kwargs):  # the loop imports runtime.build_model when it runs: keep the model it trains
        model = real_build(*args, **kwargs)
        built.append(model)
        return model

    monkeypatch.setattr(runtime, "build_model", spy)
    network = designer.lower(designer.load_yaml(TINY))
    epochs = []
    res = train(
        network,
        TrainConfig(size=16, epochs=2, batch=64, device="cuda", out_dir=str(tmp_path / "run")),
        on_epoch=epochs.append,
        progress=False,
    )
    assert len(built) == 1
    params = list(built[0].parameters())
    assert params and all(p.is_cuda for p in params)
    assert all(b.is_cuda for b in built[0].buffers())
    assert not res.stopped and len(res.history) == 2
    assert res.history[1]["train_loss"] < res.history[0]["train_loss"], res.history
    state = torch.load(res.state_path, map_location="cpu", weights_only=False)
    assert state["train_config"]["device"] == "cuda"
    assert res.weights_path.stat().st_size > 0


def _nccl_reason() -> str | None:
    if torch.cuda.device_count() < 2:
        return f"the nccl run needs two GPUs; torch sees {torch.cuda.device_count()}"
    if not torch.distributed.is_nccl_available():
        return "this torch build has no nccl"
    return None


@pytest.mark.slow
def test_two_rank_nccl_torchrun_equals_one_gpu_at_the_same_global_batch(tmp_path, monkeypatch):
    reason = _nccl_reason()
    if reason:
        pytest.skip(reason)
    # TF32 would add ~1e-3 relative error per conv on both sides; compare true fp32 (NVIDIA's own switch)
    monkeypatch.setenv("NVIDIA_TF32_OVERRIDE", "0")
    cfg = tmp_path / "nobn.cfg"
    cfg.write_text(NO_BN_CFG)
    args = [
        "--size",
        "16",
        "--epochs",
        "3",
        "--batch",
        "32",
        "--lr",
        "0.3",
        "--no-progress",
        "--seed",
        "0",
        "--device",
        "cuda",
    ]
    one = _run_one(cfg, args, tmp_path / "one")
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run_two(cfg, args, tmp_path / "two")
    assert two.returncode == 0, two.stderr[-3000:]
    b = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert b["world_size"] == 2 and b["finished"] and b["config"]["device"] == "cuda"
    assert two.stdout.count("best val top-1") == 1
    sa = torch.load(tmp_path / "one" / "best.pt", map_location="cpu", weights_only=False)
    sb = torch.load(tmp_path / "two" / "best.pt", map_location="cpu", weights_only=False)
    assert sa["epoch"] == sb["epoch"]
    for k, wa in sa["state_dict"].items():
        torch.testing.assert_close(sb["state_dict"][k], wa, rtol=0, atol=2e-3, msg=lambda m, k=k: f"{k}: {m}")


@pytest.mark.slow
def test_two_rank_nccl_torchrun_with_batchnorm_learns(tmp_path):
    reason = _nccl_reason()
    if reason:
        pytest.skip(reason)
    design = tmp_path / "tiny.yaml"
    design.write_text(TINY)
    args = ["--size", "16", "--epochs", "4", "--batch", "64", "--no-progress", "--seed", "0", "--device", "cuda"]
    two = _run_two(design, args, tmp_path / "two")
    assert two.returncode == 0, two.stderr[-3000:]
    b = json.loads(Path(tmp_path / "two" / "metrics.json").read_text())
    assert b["world_size"] == 2 and b["finished"]
    assert b["history"][-1]["train_loss"] < b["history"][0]["train_loss"]
    assert b["history"][-1]["val_top1"] > 0.5, b["history"]
