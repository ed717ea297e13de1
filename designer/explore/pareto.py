"""The Pareto front of measured designs: the ones no other design beats on every objective at once.

All objectives are minimised (latency ms, FMA, params; accuracy enters as -accuracy). A point dominates another
when it is no worse on every objective and better on at least one; the front is the points nothing dominates.
Points with a missing objective (None) are left out of the comparison (and off the front). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(points: Sequence[Sequence[float | None]]) -> list[bool]:
    """For each point, whether it is on the Pareto front (minimising every coordinate)."""
    full = {i: [float(v) for v in p if v is not None] for i, p in enumerate(points) if all(v is not None for v in p)}
    order = sorted(full, key=lambda i: tuple(full[i]))
    front: list[int] = []
    for i in order:  # in lexicographic order a point can only be dominated by one before it
        if not any(dominates(full[j], full[i]) for j in front):
            front.append(i)
    on = set(front)  # equal twins are both kept: neither dominates the other
    return [i in on for i in range(len(points))]


def objectives(row: dict, keys: Sequence[str]) -> tuple[float | None, ...]:
    """A result row's objective vector: `accuracy` keys are negated (more is better), the rest as they are."""
    out = []
    for k in keys:
        v = row.get(k)
        out.append(None if v is None else (-float(v) if k.startswith("accuracy") else float(v)))
    return tuple(out)
