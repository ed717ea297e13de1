"""Sweeps that estimate: `--measure estimate` screens a space with this machine's latency model
(designer/latency), and `--confirm K` measures the K best estimated designs to check the screen.

An estimate trial is one per design (kind "estimate", round 0): the model's inference latency for the sweep's
setting (backend, device, threads, batch, dtype), worked out from the design's shapes and costs in milliseconds
without building it in torch. Its key names the model's uid (Settings.latency_model), so a rerun with the same
model estimates nothing again and a new calibration makes new trials. There is no model for another machine:
`with_latency_model` raises NoLatencyModel, whose message names the `mixdesign calibrate ...` command.

The confirmation measures the designs on the estimate's Pareto front (runner.fronts: estimated latency, FMA,
params[, -accuracy]) with the lowest estimates, as ordinary "infer" trials of the same sweep (interleaved
rounds, resumable), and `checks` sets each estimate against its measurement. Torch-free.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from designer.cost import count
from designer.explore.runner import ESTIMATE, Design, Settings, TrialFn
from designer.latency.model import LatencyModel
from designer.latency.setting import Setting
from designer.lower import lower
from designer.machine import Fingerprint
from designer.shapes import infer_shapes


def estimate_setting(settings: Settings) -> Setting:
    """The latency-model setting a sweep's estimates (and their confirmation) are for: its inference setting,
    threads resolved as a model needs them (designer.latency.setting.default_threads)."""
    return Setting.make(
        backend=settings.backend,
        device=settings.device,
        threads=settings.threads,
        batch=settings.batch,
        dtype=settings.dtype,
        mode="infer",
    )


def with_latency_model(
    settings: Settings, *, workspace, machine: Fingerprint | None = None
) -> tuple[Settings, LatencyModel]:
    """The workspace's model for this machine and the sweep's setting, and the settings that name it (threads
    fixed to the model's, so the confirming measurements run in the setting the estimates are for). Raises
    NoLatencyModel (a MixdesignError: one line naming the calibrate command) when there is none."""
    from designer.latency.store import find_model

    setting = estimate_setting(settings)
    model = find_model(workspace, setting, machine)
    return replace(settings, threads=setting.threads, latency_model=model.uid), model


def estimate_arch(model: LatencyModel, design: Design) -> dict:
    """An estimate trial's result: the model's latency of the design (ms per batch) with its interval."""
    network = lower(design.point.arch, with_design=False) if design.point.arch is not None else None
    if network is None:  # designs_of keeps only points with a design
        raise ValueError(f"{design.point.label}: no design to estimate")
    shapes = infer_shapes(network)
    e = model.estimate(network, shapes, count(network, shapes))
    s = model.setting
    return {
        "estimate_ms": e.ms,
        "low_ms": e.low_ms,
        "high_ms": e.high_ms,
        "fallback_share": e.fallback_share,
        "model": model.uid,
        "backend": s.backend,
        "threads": s.threads,
        "batch": s.batch,
    }


def estimating(model: LatencyModel, designs: list[Design]) -> TrialFn:
    """The trial function of a sweep's estimate trials (runner.Work.trial): the design is found by its cfg text,
    and estimated from its spec (lowering is quicker than parsing the cfg back)."""
    by_text = {d.cfg_text: d for d in designs}

    def trial(cfg_text: str, kind: str, s: dict) -> dict:
        if kind != ESTIMATE:
            raise ValueError(f"the estimate trial function got a {kind} trial")
        return estimate_arch(model, by_text[cfg_text])

    return trial


def to_confirm(rows: list[dict], designs: list[Design], k: int) -> list[Design]:
    """The K designs on the estimate's front with the lowest estimates (fewer when the front is smaller)."""
    on_front = sorted(
        (r for r in rows if r.get("valid") and r.get(f"pareto_{ESTIMATE}") and r.get("estimate_ms") is not None),
        key=lambda r: r["estimate_ms"],
    )
    by_sha = {d.cfg_sha256: d for d in designs}
    chosen = list(dict.fromkeys(r["cfg_sha256"] for r in on_front))[:k]
    return [by_sha[sha] for sha in chosen]


@dataclass(frozen=True)
class Check:
    """One design's estimate against its measurement (ms per batch, same setting)."""

    design: str
    estimate_ms: float
    measured_ms: float

    @property
    def ratio(self) -> float:
        """measured / estimated."""
        return self.measured_ms / self.estimate_ms

    @property
    def error_pct(self) -> float:
        """(estimated - measured) / measured, in %."""
        return 100.0 * (self.estimate_ms - self.measured_ms) / self.measured_ms


def checks(rows: list[dict], confirmed: list[Design] | None = None) -> tuple[Check, ...]:
    """Estimate against measurement for each confirmed design that has both (in the order given; without
    `confirmed`, every design of the rows that has both, lowest estimate first)."""
    both = [
        r for r in rows if r.get("valid") and not r.get("same_cfg_as") and r.get("estimate_ms") and r.get("infer_ms")
    ]
    if confirmed is None:
        order = sorted(both, key=lambda r: r["estimate_ms"])
    else:
        by_sha = {r["cfg_sha256"]: r for r in both}
        order = [by_sha[d.cfg_sha256] for d in confirmed if d.cfg_sha256 in by_sha]
    return tuple(Check(r["design"], float(r["estimate_ms"]), float(r["infer_ms"])) for r in order)


def median_abs_error_pct(found: tuple[Check, ...]) -> float | None:
    """The median of |estimated - measured| / measured over the checks, in %; None without any."""
    return statistics.median(abs(c.error_pct) for c in found) if found else None
