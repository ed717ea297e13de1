"""Sweeps of MixNet-M on this CPU: dw-group-size {1,2,4,8} x width {0.75,1.0,1.25}, inference and training step,
with the Pareto fronts, and whether the seed's training claim holds here.

The seed thread (../shared/seed/mixnet_darknet_thread.txt, darknet on an RTX 2070): MixNet-M-GPU "can be trained
~2x faster - 2.7 sec instead of 4.6 sec per training iteration with the same inference speed on GPU".
MixNet-M-GPU is exactly designer.gpu_variant(mixnet-m, 4), the sweep's point dw-group-size=4, width-mult=1.0.

1. Inference: the 12 designs at 224x224, batch 1, torch optimised build (runtime.bench.measure), 3 interleaved
   rounds; prints the time per trial (Done-when: a 12-design inference sweep at batch 1 in under 3 minutes).
2. Training step: the same 12 designs, one training iteration (runtime.train_step: forward, cross-entropy,
   backward, SGD step; plain build, BN in training mode), --train-size and --train-batch (default 128x128 at
   batch 8, so that the script stays under 10 minutes on 2 shared cores), 3 interleaved rounds.
3. The seed's pair (MixNet-M, MixNet-M-GPU) alone at the seed's input size, 224x224, training step at
   --train-batch, 3 interleaved rounds: the verdict on the claim.
Both sweeps go through designer.explore (plan_sweep / run_sweep) with a fresh trial store, so nothing is reused
from an earlier run.

    python benchmarks/bench_explore.py [--threads 2] [--train-size 128] [--train-batch 8] [--device cpu]

As in bench_runtime.py, OpenMP's waiting is chosen before torch loads as `mixdesign` chooses it
(designer/threads.py: spin on a quiet machine, PASSIVE beside other load; a user's OMP_WAIT_POLICY wins), and
the choice is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from designer.threads import configure  # noqa: E402

# OpenMP's waiting, chosen as every entry point chooses it (designer/threads.py) before torch loads: libgomp's
# spin on a quiet machine, PASSIVE when other processes keep a core busy; a user's OMP_WAIT_POLICY wins.
OMP_CHOICE = configure()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import designer  # noqa: E402
from designer.cli.main import _print_table  # noqa: E402
from designer.explore import output  # noqa: E402
from designer.explore.runner import Settings  # noqa: E402
from designer.explore.space import parse_axes  # noqa: E402
from designer.explore.store import JsonlStore  # noqa: E402
from designer.explore.sweep import plan_sweep, run_sweep  # noqa: E402
from runtime.explore import check_backend, run_trial  # noqa: E402

AXES = ["dw-group-size=1,2,4,8", "width-mult=0.75,1.0,1.25"]
SEED_PAIR = ["dw-group-size=1,4", "width-mult=1.0"]  # MixNet-M and MixNet-M-GPU
CLAIM = 4.6 / 2.7  # the seed: MixNet-M's training iteration / MixNet-M-GPU's


def sweep(base: designer.Arch, settings: Settings, store_dir: str, title: str, axes: list[str] = AXES) -> list[dict]:
    plan = plan_sweep(base, parse_axes(axes, base), settings)
    t0 = time.perf_counter()
    check_backend(settings.backend)
    rows = run_sweep(plan, JsonlStore(Path(store_dir) / f"{plan.sweep_id}.jsonl"), run_trial)
    total = time.perf_counter() - t0
    kind = next(k for k in ("infer", "train") if k in settings.measure)
    r0 = next(r for r in rows if r.get("device_name"))
    print(
        f"\n== {title}: {settings.device} ({r0['device_name']}), {r0['threads']} threads, {settings.dtype}, "
        f"backend {r0.get(f'{kind}_backend')}, batch {settings.batch if kind == 'infer' else settings.train_batch},"
        f" input {base.input_size}x{base.input_size}, {settings.rounds} interleaved rounds"
    )
    head, body = output.table_rows(rows, ["dw-group-size", "width-mult"])
    _print_table(head, body, right=set(range(2, len(head) - 1)))
    front = [r["design"] for r in rows if r.get(f"pareto_{kind}")]
    print(f"Pareto front ({kind} time, FMA, params): {' | '.join(front)}")
    print(
        f"{len(plan.designs)} designs, {plan.measured} trials in {total:.1f} s: "
        f"{statistics.median(plan.trial_s):.2f} s per trial (median; min {min(plan.trial_s):.2f}, max "
        f"{max(plan.trial_s):.2f}; build + warm-up + {settings.min_run_time} s timed)"
    )
    return rows


def at(rows: list[dict], g: int, w: float, key: str) -> float:
    return next(r[key] for r in rows if r["dw-group-size"] == g and r["width-mult"] == w)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="torch", help="inference backend (default: torch, optimised build)")
    ap.add_argument("--batch", type=int, default=1, help="inference batch (default: 1)")
    ap.add_argument("--train-batch", type=int, default=8, help="training-step batch (default: 8)")
    ap.add_argument("--train-size", type=int, default=128, help="training-step input size (default: 128)")
    ap.add_argument("--min-run-time", type=float, default=0.5)
    args = ap.parse_args(argv)
    import torch

    from runtime.bench import tune_cpu_allocator

    torch.set_num_threads(args.threads)
    if args.device == "cpu":
        tune_cpu_allocator()
    base = designer.load_preset("mixnet-m")
    assert designer.gpu_variant(base, 4).blocks == designer.load_preset("mixnet-m-gpu").blocks
    print(
        f"torch {torch.__version__}, OpenMP wait: {OMP_CHOICE}, "
        f"{os.cpu_count()} logical CPUs (shared with other jobs); load average before: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    timed = Settings(  # a training step ignores backend and batch (it runs in torch at --train-batch)
        device=args.device,
        backend=args.backend,
        batch=args.batch,
        train_batch=args.train_batch,
        threads=args.threads,
        rounds=3,
        min_run_time=args.min_run_time,
    )
    inference, training = replace(timed, measure=("count", "infer")), replace(timed, measure=("count", "train"))
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        title = f"inference, {args.backend}" + (" optimised build" if args.backend == "torch" else "")
        infer = sweep(base, inference, tmp, title)
        t_infer = time.perf_counter() - t_all
        small = designer.scaled(base, input_size=args.train_size)
        train = sweep(small, training, tmp, "training step (forward, loss, backward, SGD), torch plain build")
        pair = sweep(base, training, tmp, "the seed's pair, training step at 224x224", SEED_PAIR)
    print(
        f"\n12-design inference sweep at batch {args.batch}: {t_infer:.1f} s "
        f"({'under' if t_infer < 180 else 'OVER'} the 3-minute target)"
    )
    m_inf, g_inf = at(infer, 1, 1.0, "infer_ms"), at(infer, 4, 1.0, "infer_ms")
    m_tr, g_tr = at(pair, 1, 1.0, "train_ms"), at(pair, 4, 1.0, "train_ms")
    m_small, g_small = at(train, 1, 1.0, "train_ms"), at(train, 4, 1.0, "train_ms")
    speedup = m_tr / g_tr
    print(
        "\nThe seed's claim (darknet, RTX 2070): MixNet-M-GPU trains ~2x faster per iteration than MixNet-M "
        f"(4.6 s vs 2.7 s = {CLAIM:.2f}x) at the same inference speed."
    )
    print(
        f"Here ({args.device}, {args.threads} threads): training step (torch) MixNet-M {m_tr:.1f} ms, MixNet-M-GPU "
        f"{g_tr:.1f} ms at 224x224 batch {args.train_batch}: MixNet-M-GPU is {speedup:.2f}x as fast "
        f"({'faster' if speedup > 1 else 'slower'}; at {args.train_size}x{args.train_size}: {m_small / g_small:.2f}x); "
        f"inference MixNet-M {m_inf:.2f} ms, "
        f"MixNet-M-GPU {g_inf:.2f} ms at batch {args.batch} ({args.backend}; GPU variant takes {g_inf / m_inf:.2f}x the time)."
    )
    holds = speedup >= 1.5 and g_inf / m_inf <= 1.1
    print(
        f"Verdict: the claim {'HOLDS' if holds else 'does NOT hold'} on this device "
        f"(held if the GPU variant's training step is >= 1.5x as fast and its inference within 1.1x)."
    )
    best = min(train, key=lambda r: r.get("train_ms") or float("inf"))
    print(
        f"Fastest training step here: dw-group-size={best['dw-group-size']}, width-mult={best['width-mult']} "
        f"({best['train_ms']:.1f} ms)."
    )
    print(
        f"\nwhole script: {time.perf_counter() - t_all:.0f} s; load average after: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
