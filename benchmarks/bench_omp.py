"""OpenMP waiting policies for `mixdesign bench mixnet-m --batch 1`, quiet and beside one busy process.

libgomp reads its environment once, when torch loads, so each measurement is a fresh `mixdesign bench` process
with the policy's environment (the same command a user runs, default threads unless the policy fixes them).
The policies, in one run, interleaved round by round so a change in the machine's load hits them all alike:

    mixdesign      no OpenMP variables: what designer/threads.py chooses (PASSIVE when other processes keep a
                   core busy at start, else libgomp's spin; all cores)
    spin           libgomp's default spin-then-sleep (MIXDESIGN_OMP=default), all cores
    passive        OMP_WAIT_POLICY=PASSIVE, all cores (what the app and the benchmark scripts used before)
    spin20k-all    GOMP_SPINCOUNT=20000, all cores
    passive-1t     OMP_WAIT_POLICY=PASSIVE, one thread (the "fewer threads when busy" candidate)

"loaded" runs the same with one competing busy process (a spinning Python loop in a subprocess). Each cell is
the median over --rounds of `mixdesign bench --json` medians (torch.utils.benchmark, --min-run-time each).
Prints per policy: quiet ms, loaded ms, quiet / fastest quiet, loaded / own quiet; and the Done-when check for
the policy mixdesign uses (quiet within 1.1x of the fastest, loaded within 1.5x of its quiet median).

    python benchmarks/bench_omp.py [--rounds 5] [--min-run-time 1] [--design mixnet-m]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

POLICIES: dict[str, dict[str, str]] = {
    "mixdesign": {},
    "spin": {"MIXDESIGN_OMP": "default", "OMP_NUM_THREADS": str(CORES)},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(CORES)},
    "spin20k-all": {"GOMP_SPINCOUNT": "20000", "OMP_NUM_THREADS": str(CORES)},
    "passive-1t": {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"},
}
OMP_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MIXDESIGN_OMP", "KMP_BLOCKTIME")


def bench_once(policy: dict[str, str], design: str, min_run_time: float) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in OMP_VARS}
    env.update(policy)
    env["PYTHONPATH"] = str(REPO)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from designer.cli import main; sys.exit(main())",
        "bench",
        design,
        "--batch",
        "1",
        "--json",
        "--min-run-time",
        str(min_run_time),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=REPO).stdout
    r = json.loads(out)
    return float(r["median_ms"]), int(r["threads"])


def busy_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-run-time", type=float, default=1.0)
    ap.add_argument("--design", default="mixnet-m")
    args = ap.parse_args(argv)
    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    print(
        f"bench_omp: `mixdesign bench {args.design} --batch 1` per OpenMP policy, {CORES} usable cores, "
        f"{args.rounds} rounds (median of run medians, --min-run-time {args.min_run_time:g} s each); "
        f"load average at start {' '.join(load0)}"
    )
    results: dict[tuple[str, str], list[float]] = {}
    threads: dict[tuple[str, str], set[int]] = {}
    t0 = time.perf_counter()
    for cond in ("quiet", "loaded"):
        hog = busy_process() if cond == "loaded" else None
        try:
            if hog:
                time.sleep(1.0)
            for r in range(args.rounds):
                for name, env in POLICIES.items():
                    ms, n = bench_once(env, args.design, args.min_run_time)
                    results.setdefault((cond, name), []).append(ms)
                    threads.setdefault((cond, name), set()).add(n)
                    print(f"  round {r + 1} {cond:6s} {name:13s} {ms:9.2f} ms  {n} threads", flush=True)
        finally:
            if hog:
                hog.kill()
                hog.wait()
    med = {k: statistics.median(v) for k, v in results.items()}
    fastest = min(med[("quiet", n)] for n in POLICIES)
    print(
        f"\n{'policy':13s} {'quiet ms':>9s} {'loaded ms':>10s} {'quiet/fastest':>14s} {'loaded/quiet':>13s}  threads "
        "(quiet; loaded)"
    )
    for n in POLICIES:
        q, lo = med[("quiet", n)], med[("loaded", n)]
        print(
            f"{n:13s} {q:9.2f} {lo:10.2f} {q / fastest:13.2f}x {lo / q:12.2f}x  "
            f"{sorted(threads[('quiet', n)])}; {sorted(threads[('loaded', n)])}"
        )
    q, lo = med[("quiet", "mixdesign")], med[("loaded", "mixdesign")]
    ok_q, ok_l = q / fastest <= 1.1, lo / q <= 1.5
    print(
        f"\nDone-when (mixdesign's policy): quiet {q / fastest:.2f}x the fastest quiet policy (<= 1.1: "
        f"{'yes' if ok_q else 'NO'}); loaded {lo / q:.2f}x its quiet median (<= 1.5: {'yes' if ok_l else 'NO'})"
    )
    with open("/proc/loadavg") as f:
        print(f"wall {time.perf_counter() - t0:.0f} s; load average at end {' '.join(f.read().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
