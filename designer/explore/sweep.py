"""A sweep from its specification to its result rows: what `mixdesign sweep`, the Explore page and the Design
page's GPU-variant advisor call."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from designer.errors import MixdesignError
from designer.explore.runner import (
    ESTIMATE,
    Design,
    Progress,
    Settings,
    SweepError,
    Trial,
    TrialFn,
    Work,
    again,
    designs_of,
    plan,
    record_invalid,
    run_local,
    summarize,
    sweep_spec,
)
from designer.explore.space import Axis, Point, points, spec_hash
from designer.explore.store import TrialStore
from designer.machine import Fingerprint, fingerprint
from designer.spec import Arch

if TYPE_CHECKING:
    from designer.latency.model import LatencyModel


@dataclass
class SweepPlan:
    """A sweep ready to run. `sweep_id` is the hash of its settings (the same sweep on every machine and in every
    workspace; the workspace files it under a random uid beside it); `machine` is the fingerprint its trial keys
    name: this machine for the sweep's device, unless given."""

    sweep_id: str
    spec: dict
    settings: Settings
    designs: list[Design]
    invalid: list[Point]
    trials: list[Trial]
    machine: Fingerprint
    measured: int = 0  # trials measured by the last run (the rest came from the store)
    remeasured: int = 0  # unstable trials measured again by the last run
    estimated: int = 0  # estimate trials made by the last run
    estimate_s: float = 0.0  # the wall time they took (with recording them in the store)
    elapsed_s: float = 0.0
    trial_s: list[float] = field(default_factory=list)  # wall time of each trial measured now


def this_machine(device: str) -> Fingerprint:
    """The fingerprint of this machine for `device`; a CUDA device this machine cannot see is a SweepError."""
    try:
        return fingerprint(device)
    except MixdesignError:
        raise
    except Exception as e:  # noqa: BLE001 - torch's own error for a missing CUDA device: one line
        raise SweepError(f"--device {device}: cannot read that device here ({type(e).__name__}: {e})") from None


def plan_sweep(
    base: Arch,
    axes: tuple[Axis, ...],
    settings: Settings,
    samples: int | None = None,
    seed: int = 0,
    name: str | None = None,
    machine: Fingerprint | None = None,
) -> SweepPlan:
    """Apply the space to `base`; the sweep id hashes the base design, the axes, sampling and settings."""
    spec = sweep_spec(base, axes, samples, seed, settings)
    if name:
        spec["name"] = name
    sweep_id = spec_hash({k: v for k, v in spec.items() if k != "name"})
    machine = machine if machine is not None else this_machine(settings.device)
    designs, invalid = designs_of(points(base, axes, samples, seed))
    return SweepPlan(
        sweep_id, spec, settings, designs, invalid, plan(sweep_id, designs, settings, machine.key), machine
    )


def run_sweep(
    p: SweepPlan,
    store: TrialStore,
    trial: TrialFn,
    *,
    ray_address: str | None = None,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
    retry_failed: bool = False,
    latency_model: LatencyModel | None = None,
) -> list[dict]:
    """Estimate what the store does not have yet with `latency_model` (designer/explore/estimate.py; in this
    process: milliseconds each), measure it with `trial` (runtime.explore.run_trial; the caller checks the backend
    first with runtime.explore.check_backend), re-measure once what came back unstable, then summarise every point
    (Pareto fronts marked). A failing trial is recorded and the sweep goes on (see `failures`)."""
    store.record_sweep(p.sweep_id, p.spec)
    record_invalid(p.sweep_id, p.invalid, store)
    t0 = time.perf_counter()
    p.measured = p.remeasured = p.estimated = 0
    p.trial_s = []
    estimates = [t for t in p.trials if t.kind == ESTIMATE]
    if estimates:
        _estimate(p, store, estimates, latency_model, _shifted(on_progress, 0, len(p.trials) - len(estimates)), stop)
    runner = functools.partial(_on_ray, ray_address) if ray_address else run_local
    for second in (False, True):
        trials = again(p.trials, p.designs, p.settings, store, p.sweep_id, p.machine.key) if second else p.trials
        trials = [t for t in trials if t.kind != ESTIMATE]
        before = {t.key for t in trials if store.done(t.key) is not None}
        work = Work(p.sweep_id, p.designs, trials, p.settings, store, trial, p.machine.to_json(), retry_failed)
        n = runner(work, _shifted(on_progress, len(estimates), 0) if not second else on_progress, stop)
        p.trial_s += [
            r["trial_s"]
            for t in trials
            if (t.key not in before or retry_failed)
            and (r := store.done(t.key)) is not None
            and r.get("trial_s") is not None
        ]
        p.measured += n
        p.remeasured += n if second else 0
        if stop is not None and stop.is_set():
            break
    p.elapsed_s = time.perf_counter() - t0
    return summary(p, store)


def _on_ray(address: str, work: Work, on_progress: Progress | None, stop: threading.Event | None) -> int:
    from designer.explore.ray_runner import run_ray  # Ray is imported only when asked for

    return run_ray(address, work, on_progress, stop)


def _shifted(on_progress: Progress | None, before: int, after: int) -> Progress | None:
    """Progress of one part of a sweep as progress of the whole: `before` trials come ahead of it, `after` behind."""
    if on_progress is None:
        return None
    report = on_progress
    return lambda done, total, message: report(done + before, total + before + after, message)


def _estimate(
    p: SweepPlan,
    store: TrialStore,
    estimates: list[Trial],
    model: LatencyModel | None,
    on_progress: Progress | None,
    stop: threading.Event | None,
) -> None:
    """Run the sweep's estimate trials in this process; p.estimated counts those made now."""
    if model is None or model.uid != p.settings.latency_model:
        raise SweepError(
            f"sweep {p.sweep_id} estimates with latency model {p.settings.latency_model or '(none)'}: pass that "
            "model (designer.explore.estimate.with_latency_model finds it)"
        )
    from designer.explore.estimate import estimating

    work = Work(p.sweep_id, p.designs, estimates, p.settings, store, estimating(model, p.designs), p.machine.to_json())
    t0 = time.perf_counter()
    p.estimated = run_local(work, on_progress, stop)
    p.estimate_s = time.perf_counter() - t0


def confirm_sweep(
    p: SweepPlan,
    store: TrialStore,
    trial: TrialFn,
    k: int,
    *,
    ray_address: str | None = None,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> SweepPlan:
    """Measure the K designs of `p` on the estimate's front with the lowest estimates (estimate.to_confirm) as
    inference trials of the same sweep, in interleaved rounds; trials the store has are not measured again.
    Returns the confirmation's plan (its designs, and what it measured now); summary(p, store) then shows each
    confirmed design's measurement beside its estimate (estimate.checks)."""
    from designer.explore.estimate import to_confirm

    chosen = to_confirm(summary(p, store), p.designs, k)
    settings = replace(p.settings, measure=("infer",))
    trials = plan(p.sweep_id, chosen, settings, p.machine.key)
    sub = SweepPlan(p.sweep_id, p.spec, settings, chosen, [], trials, p.machine)
    run_sweep(sub, store, trial, ray_address=ray_address, on_progress=on_progress, stop=stop)
    return sub


def summary(p: SweepPlan, store: TrialStore) -> list[dict]:
    """The result rows of `p` from what the store holds for this plan's machine and settings."""
    return summarize(
        sweep_id=p.sweep_id,
        machine_key=p.machine.key,
        designs=p.designs,
        invalid=p.invalid,
        settings=p.settings,
        store=store,
    )


def failures(p: SweepPlan, store: TrialStore) -> list[tuple[str, str, int, str]]:
    """(design, kind, round, message) of every trial of `p` recorded as failed, in plan order."""
    out = []
    for t in p.trials + again(p.trials, p.designs, p.settings, store, p.sweep_id, p.machine.key):
        rec = store.done(t.key)
        if rec is not None and rec.get("status") == "failed":
            out.append((p.designs[t.design].point.label, t.kind, t.round, str(rec.get("message"))))
    return out


def plan_from_spec(spec: dict, machine: Fingerprint | None = None) -> SweepPlan:
    """The plan of a recorded sweep (its store header's spec), to show its results again (on `machine`: this
    machine for the sweep's device unless given)."""
    from designer.design_io import load_yaml
    from designer.explore.space import parse_axis

    s = dict(spec["settings"])
    s["measure"] = tuple(s["measure"])
    axes = tuple(parse_axis(f"{k}={'|'.join(str(v) for v in vals)}") for k, vals in spec["axes"])
    return plan_sweep(
        load_yaml(spec["base"]),
        axes,
        Settings(**s),
        samples=spec.get("samples") or None,
        seed=spec.get("seed", 0),
        name=spec.get("name"),
        machine=machine,
    )
