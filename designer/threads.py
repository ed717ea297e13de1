"""How OpenMP waits and how many threads torch uses: chosen once, before torch loads, by every entry point.

torch's CPU wheels use GNU OpenMP (libgomp), which reads its environment once, when torch is first imported.
Its default lets a worker thread spin after each parallel region before it sleeps: the fastest on an idle
machine, and ruinous when another process wants the same core; PASSIVE (sleep at once) holds up under load but
is slower on an idle machine. So the choice is made from the machine's state when the run starts (cores kept
busy by other processes, among the CPUs this process may use: designer/load.py):

    other processes keep >= BUSY_THRESHOLD cores busy   OMP_WAIT_POLICY=PASSIVE
    otherwise                                            libgomp's default spin (nothing set)
    threads: the free cores when other processes keep some (not all) cores busy; otherwise torch's default
             (all usable cores); shared out between torchrun processes

Why these rules: benchmarks/bench_omp.py measures them against the fixed policies, quiet and beside a busy
process; its figures are in benchmarks/results/bench_omp.txt (and bench_omp_load3.txt, bench_omp_load9.txt).

A user's own setting always wins, variable by variable: OMP_WAIT_POLICY or GOMP_SPINCOUNT (waiting),
OMP_NUM_THREADS or an explicit --threads (thread count). MIXDESIGN_OMP=default leaves libgomp's default (for
the benchmark). torch-free: `import designer.threads` loads nothing.

Entry points: designer/cli/main.py (mixdesign: bench, predict, train, sweep, ...), designer/app.py (Streamlit),
runtime/train/__main__.py (`python -m runtime.train`, torchrun). Every run that does not name its threads
(bench, predict, train, sweep trials, the app's Latency, Quick-train and Explore jobs) takes threads_for_run().
"""

from __future__ import annotations

import os

from designer.machine import usable_cores

BUSY_SAMPLE_S = 0.05
BUSY_THRESHOLD = 0.5  # cores kept busy by other processes
WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

_chosen: str | None = None
_busy: float | None = None  # cores other processes kept busy when configure() sampled


def cores() -> int:
    """CPUs this process may run on (torch's default thread count on this machine)."""
    return usable_cores()


def busy_cores(sample_s: float = BUSY_SAMPLE_S) -> float:
    """How many of this process's CPUs other processes keep busy right now (designer/load.py; 0 when unknown)."""
    from designer.load import busy_cores as sampled

    return sampled(sample_s)


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
    return (
        f"{cores()} here: every usable core, only the free ones while other processes keep some busy, shared "
        "out between torchrun processes; OpenMP sleeps at once when a core is busy, see designer/threads.py"
    )
