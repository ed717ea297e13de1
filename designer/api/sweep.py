"""`sweep`: measure a grid (or random samples) of variants of a design and mark the Pareto fronts
(designer.explore: plan_sweep plans, run_sweep runs with runtime.explore.run_trial). Every trial is kept in a
trial store as it finishes (the workspace by default), so the same sweep run again resumes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.api.workspace import WorkspaceTarget
from designer.spec import Arch

if TYPE_CHECKING:  # designer.explore loads when a sweep runs, not with designer.api
    from designer.explore.runner import Progress
    from designer.explore.store import TrialStore
    from designer.explore.sweep import SweepPlan
    from designer.latency.model import LatencyModel


@dataclass(frozen=True)
class Swept:
    """The plan (sweep id, designs, settings, machine), one summary row per point (its axis values, `fma`,
    `params`, `<kind>_ms` medians, `pareto_<kind>` True on the Pareto front over latency, FMA and params) and the
    failed trials as (design, kind, round, message)."""

    plan: SweepPlan
    rows: tuple[dict, ...]
    failed: tuple[tuple[str, str, int, str], ...]


def trial_store(workspace: WorkspaceTarget = True) -> TrialStore:
    """The workspace as a trial store (the store `mixdesign sweep` and the app share by default)."""
    from designer.api.workspace import open_workspace
    from designer.explore.workspace_store import WorkspaceTrialStore
    from designer.workspace import Workspace

    if isinstance(workspace, Workspace):
        return WorkspaceTrialStore(workspace)
    return WorkspaceTrialStore(open_workspace(workspace if isinstance(workspace, (str, Path)) else None))


def run_planned(
    plan: SweepPlan,
    store: TrialStore,
    *,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
    ray_address: str | None = None,
    retry_failed: bool = False,
    tune_allocator: bool = False,
    latency_model: LatencyModel | None = None,
) -> list[dict]:
    """Run what `store` lacks of `plan` (the backend checked first) and return the summary rows.
    `tune_allocator`: raise glibc's mmap threshold first, for a process that only measures (runtime.bench).
    `latency_model`: the model an `estimate` sweep screens with (designer.explore.estimate.with_latency_model)."""
    from designer.explore.sweep import run_sweep
    from runtime.explore import check_backend, run_trial

    measure = plan.settings.measure
    if "infer" in measure:
        check_backend(plan.settings.backend)
    if tune_allocator and plan.settings.device == "cpu" and any(k in measure for k in ("infer", "train")):
        from runtime.bench import tune_cpu_allocator

        tune_cpu_allocator()
    return run_sweep(
        plan,
        store,
        run_trial,
        ray_address=ray_address,
        on_progress=on_progress,
        stop=stop,
        retry_failed=retry_failed,
        latency_model=latency_model,
    )


def confirm_planned(
    plan: SweepPlan,
    store: TrialStore,
    k: int,
    *,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
    ray_address: str | None = None,
) -> SweepPlan:
    """Measure the K best estimated designs of an estimate sweep (designer.explore.sweep.confirm_sweep, the
    backend checked first); returns the plan of the confirming trials."""
    from designer.explore.sweep import confirm_sweep
    from runtime.explore import check_backend, run_trial

    check_backend(plan.settings.backend)
    return confirm_sweep(plan, store, run_trial, k, ray_address=ray_address, on_progress=on_progress, stop=stop)


def sweep(
    design: Arch | str,
    *,
    vary: Sequence[str],
    samples: int | None = None,
    seed: int = 0,
    workspace: WorkspaceTarget = True,
    on_progress: Progress | None = None,
    **settings: Any,
) -> Swept:
    """Sweep `design` (an Arch, a preset name, a design .yaml or a cfg exported by mixdesign) over the `vary`
    axes (the CLI's --vary texts, e.g. "dw_group_size=1,8,16"). `settings` are designer.explore.runner.Settings
    fields (measure=("count", "infer"), device, backend, batch, threads, rounds, min_run_time, ...). Trials are
    kept in `workspace` (default: the default workspace) as they finish: the same sweep run again resumes."""
    from designer.explore.runner import Settings
    from designer.explore.space import parse_axes
    from designer.explore.sweep import failures, plan_sweep

    base = design if isinstance(design, Arch) else design_of(design)
    axes = parse_axes(list(vary), base)
    plan = plan_sweep(base, axes, Settings(**settings), samples=samples, seed=seed)
    store = trial_store(workspace)
    rows = run_planned(plan, store, on_progress=on_progress)
    return Swept(plan, tuple(rows), tuple(failures(plan, store)))


def design_of(source: str) -> Arch:
    """The design a sweep varies: a preset, a design .yaml, or the design a mixdesign cfg carries (SourceError
    for a cfg without one)."""
    from designer.api.sources import SourceError, load_source
    from designer.embedded import embedded_design
    from designer.ir import Network

    src: Arch | Network = load_source(source)
    if isinstance(src, Arch):
        return src
    found = embedded_design(src)
    if found.arch is None:
        why = f"this cfg {found.reason}" if found.reason else "this cfg has no design"
        raise SourceError(
            f"{source}: a sweep varies a design (preset, design .yaml, or a cfg exported by mixdesign); {why}"
        )
    return found.arch
