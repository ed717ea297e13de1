"""Regenerate every results file the documentation quotes (docs/performance.md includes them as they are).

Each benchmark script in SUITE runs as its own process, one after another, and its output is written to
benchmarks/results/run_all/NAME.txt, headed by where and how it was measured: the command, the date, the machine
fingerprint (designer.machine: CPU or GPU model, usable cores, library versions) with its key, and the load
around the run (the load average, and the cores other processes kept busy, sampled while nothing of this script
runs: designer.threads.busy_cores) before and after.

A figure measured while other processes held the cores is not a figure of this machine. When other processes
kept more than LOADED_CORES cores busy before or after a script, its results file is not written (the script
says so and exits 1 at the end), unless --allow-loaded: then the file is written with LOADED in its first line.
A file is written whole at the end of its script (an interrupted run leaves the previous file as it was).

    python benchmarks/run_all.py                  # the whole suite (about 40 minutes on 2 quiet cores)
    python benchmarks/run_all.py --only bench_core,bench_train
    python benchmarks/run_all.py --dry-run        # the commands, nothing run
    python benchmarks/run_all.py --quick --out /tmp/x   # each script with tiny settings: checks the harness only

Scripts named in SUITE that do not exist (yet) are listed as skipped.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from designer.files import write_text  # noqa: E402
from designer.machine import fingerprint  # noqa: E402
from designer.threads import busy_cores  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "run_all"
LOADED_CORES = 0.3  # cores other processes may keep busy around a run before its figures are not this machine's
BUSY_SAMPLE_S = 2.0


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its arguments for the quoted run, and tiny ones that only check it runs."""

    name: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    minutes: float  # expected on 2 quiet cores (how the suite is sized)


SUITE = (
    Bench("bench_core", ("--rounds", "3"), ("--rounds", "1"), 1),
    Bench(
        "bench_runtime",
        ("--reps", "5", "--min-run-time", "0.5", "--no-compile"),
        (
            "--reps",
            "1",
            "--min-run-time",
            "0.05",
            "--warmup",
            "0.1",
            "--no-compile",
            "--nets",
            "mixnet-s",
            "--batches",
            "1",
            "--size",
            "64",
            "--matmul",
            "256",
        ),
        3,
    ),
    Bench(
        "bench_backends",
        ("--reps", "3", "--min-run-time", "0.25"),
        (
            "--reps",
            "1",
            "--min-run-time",
            "0.05",
            "--nets",
            "mixnet-s",
            "--batches",
            "1",
            "--threads",
            "1",
            "--matmul",
            "256",
        ),
        5,
    ),
    Bench("bench_train", ("--rounds", "2"), ("--rounds", "1", "--epochs", "1"), 3),
    Bench("bench_explore", ("--backend", "openvino"), ("--min-run-time", "0.05", "--train-size", "32"), 5),
    Bench("bench_memory_format", (), ("--rounds", "1", "--min-run-time", "0.05", "--size", "64"), 3),
    Bench("bench_app", (), ("--repeat", "3"), 1),
    Bench("bench_vs_timm", (), ("--quick",), 9),
    Bench("bench_noise", (), ("--rounds", "1"), 2),
    Bench(
        "bench_estimate",
        (
            "--backends",
            "torch,openvino",
            "--threads",
            "1,2",
            "--budget",
            "120",
            "--designs",
            "40",
            "--rounds",
            "12",
            "--min-run-time",
            "0.1",
            "--anchors",
            "8",
            "--train-batch",
            "8",
        ),
        ("--quick",),
        26,
    ),
)


def script(b: Bench) -> Path:
    return REPO / "benchmarks" / f"{b.name}.py"


def load() -> tuple[str, float]:
    """(the 1, 5 and 15 minute load averages, cores other processes keep busy over BUSY_SAMPLE_S)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}", busy_cores(BUSY_SAMPLE_S)


def header(
    *,
    command: str,
    started: str,
    machine,
    before: tuple[str, float],
    after: tuple[str, float],
    wall_s: float,
    loaded: bool,
) -> str:
    flag = "LOADED: other processes held the cores; do not quote. " if loaded else ""
    return "\n".join(
        [
            f"# {flag}{command}   (benchmarks/run_all.py, {started})",
            f"# machine: {machine.describe()}",
            f"# machine key: {machine.key} ({machine.system})",
            f"# load average before: {before[0]}; cores busy with other processes before: {before[1]:.2f}",
            f"# load average after: {after[0]}; cores busy with other processes after: {after[1]:.2f}",
            f"# wall time: {wall_s:.0f} s",
            "",
        ]
    )


def run_one(b: Bench, *, quick: bool, out_dir: Path, allow_loaded: bool, machine) -> bool:
    """Run one script and write its results file; False when its figures were refused as loaded."""
    args = b.quick if quick else b.args
    command = " ".join(["python", f"benchmarks/{b.name}.py", *args])
    before = load()
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"== {command}  (load {before[0]}, {before[1]:.2f} cores busy)", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script(b)), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
    )
    wall_s = time.perf_counter() - t0
    after = load()
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    loaded = max(before[1], after[1]) > LOADED_CORES
    if loaded and not allow_loaded:
        print(
            f"   not written: other processes kept {max(before[1], after[1]):.2f} cores busy "
            f"(more than {LOADED_CORES}); rerun on a quiet machine or pass --allow-loaded",
            flush=True,
        )
        return False
    text = (
        header(
            command=command, started=started, machine=machine, before=before, after=after, wall_s=wall_s, loaded=loaded
        )
        + proc.stdout
    )
    out = out_dir / f"{b.name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, text)
    print(f"   wrote {out} ({wall_s:.0f} s)", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma list of script names (default: the whole suite)")
    ap.add_argument("--quick", action="store_true", help="tiny settings, to check the scripts run (needs --out)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands and the expected minutes")
    ap.add_argument(
        "--allow-loaded", action="store_true", help="write results measured beside other load, marked LOADED"
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS.relative_to(REPO)})")
    a = ap.parse_args(argv)
    if a.quick and a.out == RESULTS:
        ap.error("--quick writes figures nobody should quote: give --out a folder outside benchmarks/results")
    names = a.only.split(",") if a.only else [b.name for b in SUITE]
    unknown = set(names) - {b.name for b in SUITE}
    if unknown:
        ap.error(f"unknown script(s) {sorted(unknown)}; the suite is {[b.name for b in SUITE]}")
    chosen = [b for b in SUITE if b.name in names]
    present = [b for b in chosen if script(b).is_file()]
    for b in chosen:
        if b not in present:
            print(f"skipped {b.name}: benchmarks/{b.name}.py does not exist in this checkout")
    if a.dry_run:
        for b in present:
            print(f"python benchmarks/{b.name}.py {' '.join(b.quick if a.quick else b.args)}   (~{b.minutes:g} min)")
        print(f"about {sum(b.minutes for b in present):g} minutes on 2 quiet cores")
        return 0
    machine = fingerprint()
    refused = [
        b.name
        for b in present
        if not run_one(b, quick=a.quick, out_dir=a.out, allow_loaded=a.allow_loaded, machine=machine)
    ]
    if refused:
        print(f"not written (the machine was loaded): {', '.join(refused)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
