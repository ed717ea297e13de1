"""How OpenMP waits and how many threads torch uses: chosen once, before torch loads, by every entry point.

torch's CPU wheels use GNU OpenMP (libgomp), which reads its environment once, when torch is first imported.
Its default lets a worker thread spin for about 300,000 iterations after each parallel region before it
sleeps: the fastest on an idle machine, and ruinous when another process wants the same core (a 30 ms forward
pass took 110-2,475 ms on a 2-core machine with one busy neighbour; issue 12). PASSIVE (sleep at once) holds up
under load but costs up to 1.6x on a quiet machine. benchmarks/bench_omp.py measures the candidates side by
side, quiet and loaded (raw output in benchmarks/results/bench_omp.txt); the policy below is the one that
stayed within 1.1x of the fastest when quiet and within 1.5x of its quiet time when loaded:

    GOMP_SPINCOUNT=SPINCOUNT   a bounded spin (a few tens of microseconds), then sleep
    threads = the cores not busy with other processes (sampled from /proc/stat for BUSY_SAMPLE_S), at least 1

A user's own setting always wins, variable by variable: OMP_WAIT_POLICY or GOMP_SPINCOUNT (waiting),
OMP_NUM_THREADS or an explicit --threads (thread count). torch-free: `import designer.threads` loads nothing.

Entry points: designer/cli/main.py (mixdesign), designer/app.py (Streamlit), runtime/train/__main__.py
(`python -m runtime.train`, torchrun).
"""

from __future__ import annotations

import os
import time

SPINCOUNT = "20000"
BUSY_SAMPLE_S = 0.05
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields), idle


def busy_cores(sample_s: float = BUSY_SAMPLE_S) -> float:
    """How many cores other processes keep busy right now (0 when unknown), from two /proc/stat samples."""
    a = _cpu_times()
    if a is None:
        return 0.0
    time.sleep(sample_s)
    b = _cpu_times()
    if b is None or b[0] == a[0]:
        return 0.0
    total, idle = b[0] - a[0], b[1] - a[1]
    return (os.cpu_count() or 1) * (1 - idle / total)


def default_threads(busy: float | None = None) -> int:
    """torch's default (the usable cores) minus the cores other processes keep busy, at least 1."""
    n = cores()
    busy = busy_cores() if busy is None else busy
    return max(1, min(n, n - int(busy + 0.5)))


def describe_default() -> str:
    """For --help: how many threads a run uses when --threads is not given."""
    if os.environ.get("OMP_NUM_THREADS"):
        return f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    return f"the {cores()} usable cores minus those busy with other processes at start, at least 1"


def configure() -> str:
    """Set OpenMP's waiting before torch loads (the user's OMP_WAIT_POLICY / GOMP_SPINCOUNT win); returns it in
    words. Call first thing in an entry point; calling it again changes nothing."""
    env = os.environ
    if env.get("MIXDESIGN_OMP") == "default":  # benchmarks/bench_omp.py: measure libgomp's own default
        return "libgomp's default (MIXDESIGN_OMP=default)"
    if any(env.get(v) for v in WAIT_VARS):
        return "your " + ", ".join(f"{v}={env[v]}" for v in WAIT_VARS if env.get(v))
    env["GOMP_SPINCOUNT"] = SPINCOUNT
    return f"bounded spin (GOMP_SPINCOUNT={SPINCOUNT}, then sleep)"


def threads_for_run(explicit: int | None = None, processes: int = 1) -> int | None:
    """Intra-op threads for a run: an explicit --threads, else None where OMP_NUM_THREADS is set (torch
    follows it), else the free cores shared out between `processes` processes on this machine, at least 1."""
    if explicit is not None:
        return explicit
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, default_threads() // max(1, processes))


def apply_to_torch(explicit: int | None = None, processes: int = 1) -> int:
    """torch.set_num_threads(threads_for_run(...)); returns the count torch now uses."""
    import torch

    n = threads_for_run(explicit, processes)
    if n:
        torch.set_num_threads(max(1, n))
    return torch.get_num_threads()
