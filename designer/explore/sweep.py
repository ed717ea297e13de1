"""A sweep from its specification to its result rows: what `mixdesign sweep`, the Explore page and the Design
page's GPU-variant advisor call."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from designer.explore.runner import (
    Design,
    Progress,
    Settings,
    Trial,
    TrialFn,
    designs_of,
    plan,
    run_local,
    summarize,
    sweep_spec,
)
from designer.explore.space import Axis, Point, points, spec_hash
from designer.explore.store import TrialStore
from designer.spec import Arch


@dataclass
class SweepPlan:
    sweep_id: str
    spec: dict
    settings: Settings
    designs: list[Design]
    invalid: list[Point]
    trials: list[Trial]
    measured: int = 0  # trials measured by the last run (the rest came from the store)
    elapsed_s: float = 0.0
    trial_s: list[float] = field(default_factory=list)  # wall time of each trial measured now


def plan_sweep(base: Arch, axes: tuple[Axis, ...], settings: Settings, samples: int | None = None,
               seed: int = 0, name: str | None = None) -> SweepPlan:
    """Apply the space to `base`; the sweep id hashes the base design, the axes, sampling and settings."""
    spec = sweep_spec(base, axes, samples, seed, settings)
    if name:
        spec["name"] = name
    sweep_id = spec_hash({k: v for k, v in spec.items() if k != "name"})
    designs, invalid = designs_of(points(base, axes, samples, seed))
    return SweepPlan(sweep_id, spec, settings, designs, invalid, plan(sweep_id, designs, settings))


def run_sweep(p: SweepPlan, store: TrialStore, trial: TrialFn, *, ray_address: str | None = None,
              on_progress: Progress | None = None, stop: threading.Event | None = None) -> list[dict]:
    """Measure what the store does not have yet with `trial` (runtime.explore.run_trial; the caller checks the
    backend first with runtime.explore.check_backend), then summarise every point (Pareto fronts marked)."""
    store.record_sweep(p.sweep_id, p.spec)
    before = {t.key for t in p.trials if store.done(t.key) is not None}
    t0 = time.perf_counter()
    if ray_address:
        from designer.explore.ray_runner import run_ray

        p.measured = run_ray(ray_address, p.sweep_id, p.designs, p.trials, p.settings, store, trial, on_progress,
                             stop)
    else:
        p.measured = run_local(p.sweep_id, p.designs, p.trials, p.settings, store, trial, on_progress, stop)
    p.elapsed_s = time.perf_counter() - t0
    p.trial_s = [r["trial_s"] for t in p.trials if t.key not in before and (r := store.done(t.key)) is not None]
    return summarize(p.sweep_id, p.designs, p.invalid, p.settings, store)


def plan_from_spec(spec: dict) -> SweepPlan:
    """The plan of a recorded sweep (its store header's spec), to show its results again."""
    from designer.design_io import load_yaml
    from designer.explore.space import parse_axis

    s = dict(spec["settings"])
    s["measure"] = tuple(s["measure"])
    axes = tuple(parse_axis(f"{k}={'|'.join(str(v) for v in vals)}") for k, vals in spec["axes"])
    return plan_sweep(load_yaml(spec["base"]), axes, Settings(**s), samples=spec.get("samples") or None,
                      seed=spec.get("seed", 0), name=spec.get("name"))
