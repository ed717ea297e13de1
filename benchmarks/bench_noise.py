"""Does a measurement say when it is unreliable? The same `mixdesign bench` quiet and beside one busy process.

Each measurement is a fresh `mixdesign bench DESIGN --backend torch --threads T --batch 1 --json --no-record`
process (the command a user runs, with its own OpenMP choice), in alternating rounds: quiet, then loaded (with one
competing busy process: a spinning Python loop in a subprocess this script starts, bounded to BUSY_LIMIT_S
seconds and always killed), so a drift in the machine's load falls on both alike. Each run's line: median, IQR
and runs, the load before / during (cores other processes kept busy, designer/load.py) and the verdict
(designer/noise.py). Then the loaded / quiet ratio of the medians of the run medians, and the issue-16 check:

    the quiet runs are not flagged unstable, and every loaded run is flagged or the loaded median is within
    1.5x of the quiet one (with --threads 1 on two or more cores, one busy process leaves our thread its core)

Beside each measurement the machine itself is timed: fixed single-thread numpy work (REFERENCE: matrix products
that stay in cache and an elementwise add that streams 48 MB through memory, as a network's layers do), in its
own process, for the same window length just before the bench. Its IQR / median says how much the machine's own
speed moved (a virtual machine's host, frequency changes): when the reference varies by more than the verdict's
bound too, a quiet run flagged unstable is the machine's doing, and the file says so.

The output goes to stdout and to --out (default benchmarks/results/bench_noise_cpu.txt) with the machine's
fingerprint (designer.machine) and the load average before and after: on a shared machine the quiet runs may be
flagged too, and the file then says why. About a minute with the defaults.

    python benchmarks/bench_noise.py [--rounds 3] [--min-run-time 3] [--design mixnet-s] [--threads 1]
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
sys.path.insert(0, str(REPO))

from designer.files import write_text  # noqa: E402
from designer.machine import fingerprint, usable_cores  # noqa: E402
from designer.noise import MAX_SPREAD, warning  # noqa: E402

BUSY_LIMIT_S = 600  # a busy process this script loses track of still ends by itself
LOADED_WITHIN = 1.5  # the bound on loaded / quiet when the loaded runs are not flagged
REFERENCE = (
    "import json, statistics, sys, time\n"
    "import numpy as np\n"
    "rng = np.random.default_rng(0)\n"
    "a = rng.random((256, 256), dtype=np.float32)\n"
    "x, y = rng.random(4_000_000, dtype=np.float32), rng.random(4_000_000, dtype=np.float32)\n"
    "z = np.empty_like(x)\n"
    "times, end = [], time.perf_counter() + float(sys.argv[1])\n"
    "while time.perf_counter() < end or len(times) < 5:\n"
    "    t0 = time.perf_counter()\n"
    "    for _ in range(5):\n"
    "        a @ a\n"
    "    np.add(x, y, out=z)\n"
    "    times.append(time.perf_counter() - t0)\n"
    "q1, med, q3 = statistics.quantiles(times, n=4, method='inclusive')\n"
    "print(json.dumps({'median_ms': med * 1e3, 'iqr_ms': (q3 - q1) * 1e3}))\n"
)
BUSY_LOOP = f"import time\nend = time.monotonic() + {BUSY_LIMIT_S}\nwhile time.monotonic() < end:\n    pass\n"


def bench_once(args: argparse.Namespace) -> dict:
    """One `mixdesign bench ... --json` in a fresh process; its JSON record."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-c",
        "import sys; from designer.cli import main; sys.exit(main())",
        "bench",
        args.design,
        "--backend",
        "torch",
        "--threads",
        str(args.threads),
        "--batch",
        "1",
        "--json",
        "--no-record",
        "--min-run-time",
        str(args.min_run_time),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=REPO).stdout
    return json.loads(out)


def reference(seconds: float) -> float:
    """The machine's own drift over `seconds`: IQR / median of a single-thread numpy product (REFERENCE)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", REFERENCE, str(seconds)], env=env, capture_output=True, text=True, check=True
    ).stdout
    d = json.loads(out)
    return d["iqr_ms"] / d["median_ms"]


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def run(args: argparse.Namespace, say) -> bool:
    say(
        f"bench_noise: `mixdesign bench {args.design} --backend torch --threads {args.threads} --batch 1`, quiet "
        f"and beside one busy process, {args.rounds} alternating rounds, --min-run-time {args.min_run_time:g} s"
    )
    say(f"machine: {fingerprint('cpu').describe()} ({usable_cores()} usable cores)")
    say(f"load average before: {loadavg()}")
    say(
        f"{'round':>5}  {'condition':<9}  {'median ms':>10}  {'IQR ms':>8}  {'runs':>5}  {'load before/during':>18}  "
        f"{'machine IQR':>11}  verdict"
    )
    runs: dict[str, list[dict]] = {"quiet": [], "loaded": []}
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for cond in ("quiet", "loaded"):
            hog = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if cond == "loaded" else None
            try:
                if hog is not None:
                    time.sleep(0.5)  # let it start spinning before the bench looks at the machine
                drift = reference(args.min_run_time)
                d = bench_once(args)
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
            runs[cond].append({**d, "machine_drift": drift})
            load = f"{d['load_before']:.1f} / {d['load_during']:.1f}"
            say(
                f"{r + 1:>5}  {cond:<9}  {d['median_ms']:>10.2f}  {d['iqr_ms']:>8.2f}  {d['runs']:>5}  {load:>18}  "
                f"{drift:>11.0%}  {warning(d['unstable']) if d['unstable'] else 'stable'}"
            )
    quiet = statistics.median(d["median_ms"] for d in runs["quiet"])
    loaded = statistics.median(d["median_ms"] for d in runs["loaded"])
    quiet_flagged = sum(bool(d["unstable"]) for d in runs["quiet"])
    loaded_flagged = sum(bool(d["unstable"]) for d in runs["loaded"])
    ratio = loaded / quiet
    say(
        f"\nquiet {quiet:.2f} ms, loaded {loaded:.2f} ms (medians of the run medians): loaded / quiet {ratio:.2f}x; "
        f"flagged unstable: quiet {quiet_flagged} of {args.rounds}, loaded {loaded_flagged} of {args.rounds}"
    )
    drifting = sum(bool(d["unstable"]) and d["machine_drift"] > MAX_SPREAD for d in runs["quiet"])
    if drifting:
        say(
            f"{drifting} of the {quiet_flagged} flagged quiet runs had the machine itself vary by more than "
            f"{MAX_SPREAD:.0%} (machine IQR): there the flag reports the machine, not this process's neighbours"
        )
    ok_quiet = quiet_flagged == 0
    ok_loaded = loaded_flagged == args.rounds or ratio <= LOADED_WITHIN
    say(
        f"Done-when: quiet not flagged: {'yes' if ok_quiet else 'NO'}; loaded flagged or within "
        f"{LOADED_WITHIN}x of quiet: {'yes' if ok_loaded else 'NO'}"
    )
    say(f"wall {time.perf_counter() - t0:.0f} s; load average after: {loadavg()}")
    return ok_quiet and ok_loaded


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-run-time", type=float, default=3.0)
    ap.add_argument("--design", default="mixnet-s")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_noise_cpu.txt"))
    args = ap.parse_args(argv)
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    run(args, say)  # the Done-when line says whether the verdict behaved; a benchmark reports, it does not fail
    write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
