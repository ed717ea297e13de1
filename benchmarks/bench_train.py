"""Time-to-accuracy of quick-train on scikit-learn's digits: one process against 2-process torchrun (gloo, CPU).

Design: MixNet-S (cfg_templates/mixnet-s.yaml) at width 0.5 and depth 0.5 with its last stage (rows 9-10,
stride 32) dropped: input 32x32 reaches 2x2 after rows 0-8, and row 9's 3,5,7,9,11 kernel split needs expanded
channels divisible by 5, which width 0.5 breaks (384). Head as MixNet (1536 channels), 10 classes.

Runs: one process with 2 intra-op threads, one with 1 thread, and torchrun with 2 processes of 1 thread each
(the 2-core machine is shared, and OpenMP threads that spin while another job holds a core slow the 2-thread
run most). Each run is a fresh process (`python -m runtime.train`, `torchrun --nproc_per_node 2 -m runtime.train`),
as a user would launch it, so the runs cannot share one process: instead the configurations are run in turn,
round after round (--rounds), and the ratios to the 1-process, 2-thread run are taken within each round (a load
change on the shared machine then hits the runs of a round alike) and printed per round and as their median.
With --device cuda the runs are one process on the GPU (and torchrun over two GPUs where two are visible).
"time to 95%" is the `elapsed_s` that train() records at the end of the first epoch
whose validation top-1 reaches 95 % (from the start of train(): data loading, model build and evaluation
included); "process wall" adds interpreter start, torch import and shutdown. images/s is training throughput
(all ranks together), median over the epochs.

    python benchmarks/bench_train.py [--epochs 6] [--target 0.95] [--rounds 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import designer  # noqa: E402
from designer.design_io import dump_yaml  # noqa: E402


def bench_design() -> designer.Arch:
    a = designer.load_preset("mixnet-s")
    return replace(
        a,
        name="mixnet-s-w0.5-d0.5-rows0-8",
        blocks=a.blocks[:9],
        width_mult=0.5,
        depth_mult=0.5,
        input_size=32,
        classes=10,
    )


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(label: str, cmd: list[str], out: Path, target: float) -> dict:
    # train() sets its own thread count; OMP_NUM_THREADS only stops oversubscription. PASSIVE (as in the other
    # benchmark scripts, unless set already): spinning OpenMP threads on a shared machine make 2-thread runs erratic
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{label} failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    m = json.loads((out / "metrics.json").read_text())
    hist = m["history"]
    hit = next((h for h in hist if h["val_top1"] >= target), None)
    return {
        "label": label,
        "world": m["world_size"],
        "hit": hit,
        "best": max(h["val_top1"] for h in hist),
        "final": hist[-1]["val_top1"],
        "epochs": len(hist),
        "wall": wall,
        "ips": statistics.median(h["images_per_s"] for h in hist),
        "history": hist,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of all configurations, run in turn")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args()

    import torch

    arch = bench_design()
    cost = designer.count(designer.lower(arch, with_design=False))
    print(
        f"design: {arch.name} (MixNet-S rows 0-8, width 0.5, depth 0.5), input 32x32, 10 classes: "
        f"{len(designer.lower(arch).layers)} darknet layers, {cost.params:,} params, {cost.fma:,} FMA per image"
    )
    print("data: sklearn digits, 1797 images (8x8 -> 32x32, 3 channels), 80/20 stratified split, seed 0")
    print(
        f"recipe: SGD nesterov 0.9, lr {args.lr} warm-up 1 epoch + cosine, batch {args.batch} (global), "
        f"label smoothing 0.1, {args.epochs} epochs"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"python {platform.python_version()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
        + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else "")
    )
    print()
    tmp = Path(tempfile.mkdtemp(prefix="bench_train."))
    rounds: list[list[dict]] = []
    try:
        yaml_path = tmp / "design.yaml"
        yaml_path.write_text(dump_yaml(arch))
        common = [
            str(yaml_path),
            "--data",
            "digits",
            "--size",
            "32",
            "--epochs",
            str(args.epochs),
            "--batch",
            str(args.batch),
            "--lr",
            str(args.lr),
            "--seed",
            "0",
            "--no-progress",
            "--device",
            args.device,
        ]
        torchrun = (
            [shutil.which("torchrun")] if shutil.which("torchrun") else [sys.executable, "-m", "torch.distributed.run"]
        )
        two = (
            "torchrun 2 processes x 1 thread (gloo)" if args.device == "cpu" else "torchrun 2 processes, 2 GPUs (nccl)",
            lambda out: [
                *torchrun,
                "--nproc_per_node",
                "2",
                "--master_addr",
                "127.0.0.1",
                "--master_port",
                str(_port()),
                "-m",
                "runtime.train",
                *common,
                "--out",
                out,
            ],
        )
        configs = [
            (
                "1 process, 2 threads" if args.device == "cpu" else "1 process, 1 GPU",
                lambda out: [sys.executable, "-m", "runtime.train", *common, "--threads", "2", "--out", out],
            )
        ]
        if args.device == "cpu":
            configs.append(
                (
                    "1 process, 1 thread",
                    lambda out: [sys.executable, "-m", "runtime.train", *common, "--threads", "1", "--out", out],
                )
            )
        if args.device == "cpu" or torch.cuda.device_count() >= 2:
            configs.append(two)
        for k in range(args.rounds):
            rounds.append(
                [
                    run(label, cmd(str(tmp / f"r{k}c{i}")), tmp / f"r{k}c{i}", args.target)
                    for i, (label, cmd) in enumerate(configs)
                ]
            )
            print(f"round {k + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for k, results in enumerate(rounds, 1):
        print(f"=== round {k} (runs in this order)")
        for r in results:
            print(f"{r['label']}")
            for h in r["history"]:
                print(
                    f"  epoch {h['epoch']:2d}  train loss {h['train_loss']:.4f}  val loss {h['val_loss']:.4f}  "
                    f"val top-1 {h['val_top1']:.4f}  {h['images_per_s']:6.0f} img/s  at {h['elapsed_s']:6.1f} s"
                )
        print()
        head = (
            "run",
            f"epochs to {args.target:.0%}",
            f"in train() to {args.target:.0%} (s)",
            "best top-1",
            "final top-1",
            "train img/s (median)",
            "process wall (s)",
            "wall vs first",
        )
        rows = []
        for r in results:
            hit = r["hit"]
            rows.append(
                (
                    r["label"],
                    str(hit["epoch"]) if hit else f"not in {r['epochs']}",
                    f"{hit['elapsed_s']:.1f}" if hit else "-",
                    f"{r['best']:.4f}",
                    f"{r['final']:.4f}",
                    f"{r['ips']:.0f}",
                    f"{r['wall']:.1f}",
                    f"x{r['wall'] / results[0]['wall']:.2f}",
                )
            )
        widths = [max(len(x[i]) for x in (head, *rows)) for i in range(len(head))]
        for row in (head, tuple("-" * w for w in widths), *rows):
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        print()
    print(f"ratios to '{rounds[0][0]['label']}', per round, then the median over {len(rounds)} rounds:")
    for i in range(1, len(rounds[0])):
        label = rounds[0][i]["label"]
        wall = [res[i]["wall"] / res[0]["wall"] for res in rounds]
        ips = [res[i]["ips"] / res[0]["ips"] for res in rounds]
        hit = [
            res[i]["hit"]["elapsed_s"] / res[0]["hit"]["elapsed_s"] for res in rounds if res[i]["hit"] and res[0]["hit"]
        ]
        print(
            f"  {label}: process wall {', '.join(f'x{v:.2f}' for v in wall)} -> x{statistics.median(wall):.2f}; "
            f"time to {args.target:.0%} in train() "
            + (f"{', '.join(f'x{v:.2f}' for v in hit)} -> x{statistics.median(hit):.2f}" if hit else "-")
            + f"; throughput {', '.join(f'x{v:.2f}' for v in ips)} -> x{statistics.median(ips):.2f}"
        )
    ok = all(r["hit"] and r["wall"] <= 90 for res in rounds for r in res)
    print(f"goal (>= {args.target:.0%} val top-1 within 90 s of process wall, every run): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
