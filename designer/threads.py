"""How OpenMP waits and how many threads torch uses: chosen once, before torch loads, by every entry point.

torch's CPU wheels use GNU OpenMP (libgomp), which reads its environment once, when torch is first imported.
Its default lets a worker thread spin for about 300,000 iterations after each parallel region before it
sleeps: the fastest on an idle machine, and ruinous when another process wants the same core (a 30 ms forward
pass took 110-2,475 ms on a 2-core machine with one busy neighbour; issue 12). PASSIVE (sleep at once) holds up
under load but cost 27 -> 43 ms on a quiet machine (issue 12's timm MixNet-M figure). So the choice is made
from the machine's state when the run starts:

    other processes keep >= BUSY_THRESHOLD cores busy   OMP_WAIT_POLICY=PASSIVE
    otherwise                                            libgomp's default spin (nothing set)
    threads: the free cores when other processes keep some (not all) cores busy; otherwise torch's default
             (all usable cores); shared out between torchrun processes

benchmarks/bench_omp.py measures this against the fixed policies (spin, PASSIVE, a bounded GOMP_SPINCOUNT=20000
spin, PASSIVE with one thread), without and with one extra busy process; raw output in
benchmarks/results/bench_omp.txt. On the shared 2-core machine it ran on (load average 8-10 from other work),
PASSIVE with both cores was the fastest policy both ways (135 / 140 ms), libgomp's spin 50x slower, the bounded
spin 9x, one thread 2.3x: fewer threads lost (a process time-sliced against many others gets a smaller share,
not a free core). A second run at load average 2-3 (results/bench_omp_load3.txt; the first, at 8-10, is bench_omp_load9.txt) had PASSIVE with one thread
fastest both ways (47 / 39 ms vs 59 / 140 ms with two): hence the free-cores rule only while some cores are
free, all cores when every core is taken. With this policy (benchmarks/results/bench_omp.txt, load average
about 2): 38.0 ms quiet (1.04x the fastest policy, libgomp's spin at 36.6 ms) and 43.3 ms beside one busy
process (1.14x its quiet time; spin 239 ms, PASSIVE with two threads 63 ms).

A user's own setting always wins, variable by variable: OMP_WAIT_POLICY or GOMP_SPINCOUNT (waiting),
OMP_NUM_THREADS or an explicit --threads (thread count). MIXDESIGN_OMP=default leaves libgomp's default (for
the benchmark). torch-free: `import designer.threads` loads nothing.

Entry points: designer/cli/main.py (mixdesign: bench, predict, train, ...), designer/app.py (Streamlit),
runtime/train/__main__.py (`python -m runtime.train`, torchrun).
"""

from __future__ import annotations

import os
import time

BUSY_SAMPLE_S = 0.05
BUSY_THRESHOLD = 0.5  # cores kept busy by other processes
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

_chosen: str | None = None
_busy: float | None = None  # cores other processes kept busy when configure() sampled


def cores() -> int:
    """CPUs this process may run on (torch's default thread count on this machine)."""
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
    """How many cores other processes keep busy right now (0 when unknown), from two /proc/stat samples taken
    while this process sleeps."""
    a = _cpu_times()
    if a is None:
        return 0.0
    time.sleep(sample_s)
    b = _cpu_times()
    if b is None or b[0] == a[0]:
        return 0.0
    total, idle = b[0] - a[0], b[1] - a[1]
    return (os.cpu_count() or 1) * (1 - idle / total)


def configure(busy: float | None = None) -> str:
    """Choose OpenMP's waiting before torch loads; returns the choice in words. The user's OMP_WAIT_POLICY /
    GOMP_SPINCOUNT win. `busy` (cores other processes use) is sampled when not given. Call it first thing in an
    entry point; later calls return the first choice."""
    global _chosen
    if _chosen is not None:
        return _chosen
    env = os.environ
    if env.get("MIXDESIGN_OMP") == "default":
        _chosen = "libgomp's default spin (MIXDESIGN_OMP=default)"
    elif any(env.get(v) for v in WAIT_VARS):
        _chosen = "yours: " + ", ".join(f"{v}={env[v]}" for v in WAIT_VARS if env.get(v))
    else:
        busy = busy_cores() if busy is None else busy
        global _busy
        _busy = busy
        if busy >= BUSY_THRESHOLD:
            env["OMP_WAIT_POLICY"] = "PASSIVE"
            _chosen = f"PASSIVE (other processes kept {busy:.1f} cores busy at start)"
        else:
            _chosen = "libgomp's default spin (the machine was idle at start)"
    return _chosen


def threads_for_run(explicit: int | None = None, processes: int = 1) -> int | None:
    """Intra-op threads for a run: an explicit --threads; else None where OMP_NUM_THREADS is set or one process
    runs (torch's default: every usable core); else the cores shared out between `processes` processes."""
    if explicit is not None:
        return explicit
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    n = cores()
    if processes <= 1 and _busy is not None and BUSY_THRESHOLD <= _busy <= n - BUSY_THRESHOLD:
        return max(1, n - int(_busy + 0.5))  # some cores busy, some free: use the free ones
    if processes <= 1:
        return None  # idle, or every core taken (a time-sliced process gets a bigger share with all threads)
    return max(1, n // processes)


def describe_default() -> str:
    """For --help: how many threads a run uses when --threads is not given."""
    if os.environ.get("OMP_NUM_THREADS"):
        return f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    return (f"{cores()} here: every usable core, only the free ones while other processes keep some busy, shared "
            "out between torchrun processes; OpenMP sleeps at once when a core is busy, see designer/threads.py")

