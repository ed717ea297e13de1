"""When a latency can be trusted: how many timed runs it needs, and the verdict on its spread and on the load
around it (pyperf-style: "the benchmark may be unstable", the reason, and what to do about it).

A measurement is a list of timed runs (seconds per call; a run may average several calls, as
torch.utils.benchmark's blocks do). Its figure is the median, its spread the interquartile range (linear
interpolation between order statistics, numpy's and torch's default). It is marked unstable when

    runs < MIN_RUNS                                 a median of fewer runs says nothing about the spread
    IQR / median > MAX_SPREAD                       the runs disagree with each other
    busy > cores - threads + LOAD_TOLERANCE         other processes' work does not fit beside our threads

where busy is the larger of the cores other processes kept busy just before and during the timing
(designer/load.py), cores the CPUs this process may use and threads the threads the run used (1 for a CUDA
run: the thread that launches the kernels). The verdict never changes the figure; it travels with it (the CLI,
--json, the workspace, the app, sweeps).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

MIN_RUNS = 5  # a median and quartiles of fewer runs are one or two samples dressed as a distribution
MAX_SPREAD = 0.10  # IQR / median: pyperf warns when its spread (std dev) exceeds 10 % of the mean
LOAD_TOLERANCE = 0.5  # cores: half a core of someone else's work is a time slice taken from one of our threads
# (designer/threads.py uses the same half core, BUSY_THRESHOLD, to choose OpenMP's passive waiting)


@dataclass(frozen=True)
class Spread:
    median: float
    iqr: float
    runs: int


def spread(times: list[float] | tuple[float, ...]) -> Spread:
    """Median and interquartile range of `times` (linear interpolation; 0 IQR for a single run)."""
    if not times:
        raise ValueError("no timed runs")
    if len(times) == 1:
        return Spread(times[0], 0.0, 1)
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return Spread(statistics.median(times), q3 - q1, len(times))


def verdict(
    *, median: float, iqr: float, runs: int, load_before: float, load_during: float, threads: int, cores: int
) -> str | None:
    """Why the measurement may be unstable, each reason with its fix ("; "-joined); None when it looks sound."""
    reasons = []
    if runs < MIN_RUNS:
        reasons.append(
            f"the median rests on {runs} timed run{'s' if runs != 1 else ''} (fewer than {MIN_RUNS}); "
            "use a longer --min-run-time"
        )
    if median > 0 and iqr / median > MAX_SPREAD:
        reasons.append(
            f"the runs vary: the IQR is {iqr / median:.0%} of the median (more than "
            f"{MAX_SPREAD:.0%}); measure again with a longer --min-run-time on a quieter machine"
        )
    busy = max(load_before, load_during)
    if busy > cores - threads + LOAD_TOLERANCE:
        fits = int(cores - busy + LOAD_TOLERANCE)  # threads that would fit beside the others' work
        fix = f"close them or use --threads {fits}" if 1 <= fits < threads else "close them"
        reasons.append(
            f"other processes kept {busy:.1f} of {cores} cores busy "
            f"({'during' if load_during >= load_before else 'just before'} the timing, "
            f"{threads} thread{'s' if threads != 1 else ''} measuring); {fix}"
        )
    return "; ".join(reasons) or None


def warning(reason: str) -> str:
    """The line shown to people: pyperf's wording, then the reasons."""
    return f"the benchmark may be unstable: {reason}"
