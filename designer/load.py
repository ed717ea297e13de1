"""How many cores other processes keep busy: before a run starts (designer/threads.py chooses OpenMP's waiting
and the thread count from it) and during a timing (runtime/bench.py records it beside every latency).

Only the CPUs this process may run on count (its affinity set, os.sched_getaffinity): a busy core outside that
set takes nothing from this process, and a container limited to 2 of 64 cores must compare its load with 2.
Each sample reads those CPUs' own lines of /proc/stat (`cpuN user nice system idle iowait irq softirq steal`):
busy = user + nice + system + irq + softirq + steal (time a hypervisor gave to another guest is a core this
process could not have), idle = idle + iowait. Between two samples,

    cores busy with other work = (busy jiffies / clock ticks per second - this process's own CPU seconds) / wall s

where this process's CPU time (time.process_time: every thread) is subtracted, so a timing's own threads do not
count as load. 0.0 where /proc/stat is missing (not Linux). torch-free; loads nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from designer.machine import usable_cores

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # jiffies per second in /proc/stat


def _affinity() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def busy_jiffies(cpus: set[int] | None = None, stat: str = "/proc/stat") -> int | None:
    """Busy jiffies since boot summed over `cpus` (default: this process's affinity set); None if unreadable."""
    cpus = _affinity() if cpus is None else cpus
    try:
        with open(stat) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit():
            continue
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        v = [int(x) for x in rest.split()[:8]] + [0] * 8
        user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
        total += user + nice + system + irq + softirq + steal
    return total


@dataclass(frozen=True)
class LoadSample:
    wall_s: float  # time.monotonic()
    busy_jiffies: int  # over this process's CPUs
    own_cpu_s: float  # this process's CPU time, every thread


def sample() -> LoadSample | None:
    """The counters now; None where /proc/stat cannot be read."""
    jiffies = busy_jiffies()
    if jiffies is None:
        return None
    return LoadSample(time.monotonic(), jiffies, time.process_time())


def busy_between(a: LoadSample | None, b: LoadSample | None) -> float:
    """Cores other processes kept busy between two samples (0.0 when unknown), at most this process's cores."""
    if a is None or b is None or b.wall_s <= a.wall_s:
        return 0.0
    others = (b.busy_jiffies - a.busy_jiffies) / _TICKS - (b.own_cpu_s - a.own_cpu_s)
    return min(float(usable_cores()), max(0.0, others / (b.wall_s - a.wall_s)))


def busy_cores(sample_s: float = 0.05) -> float:
    """Cores other processes keep busy right now: two samples `sample_s` apart while this process sleeps."""
    a = sample()
    time.sleep(sample_s)
    return busy_between(a, sample())
