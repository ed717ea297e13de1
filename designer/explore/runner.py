"""Run a sweep: count every design, then measure it (inference, training step, quick-train accuracy), recording
each trial in a TrialStore as it finishes.

Timed measurements are interleaved in rounds: round r measures every design once, in the design order rotated by
r, so slow drift on a shared machine (another job starting, thermal limits) falls on all designs alike; a
design's latency is the median of its round medians (its spread: max - min of them). A trial is one design x one
kind x one round; a trial already in the store is not measured again, so rerunning the same sweep resumes.
Designs whose cfg text is identical (e.g. two dw-group-size values that round to the same groups) are measured
once and share the result.

The work of one trial (what a Ray task runs too) is runtime.explore.run_trial, passed in by the caller (the CLI,
the app, a benchmark): this torch-free core never imports the runtime.
"""

from __future__ import annotations

import hashlib
import statistics
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from designer.cfg import emit_cfg
from designer.cost import count
from designer.design_io import dump_yaml
from designer.errors import MixdesignError
from designer.explore.pareto import objectives, pareto_front
from designer.explore.space import Axis, Point, format_value, spec_hash
from designer.explore.store import TrialStore
from designer.lower import lower
from designer.spec import Arch

KINDS = ("count", "infer", "train", "accuracy")
TIMED = ("infer", "train")


class SweepError(MixdesignError):
    """A sweep that cannot run as asked (unknown measurement, backend not available here, ...)."""


@dataclass(frozen=True)
class Settings:
    """How each design is measured; part of every trial key."""

    measure: tuple[str, ...] = ("count", "infer")
    device: str = "cpu"
    backend: str = "torch"  # inference backend; training steps always run in torch
    batch: int = 1
    train_batch: int = 8
    dtype: str = "fp32"
    threads: int | None = None
    rounds: int = 3
    min_run_time: float = 0.5  # timed seconds per trial (one round of one design)
    data: str = "digits"  # accuracy: quick-train data set
    epochs: int = 1
    train_size: int = 32  # accuracy: input size of the quick-train

    def __post_init__(self) -> None:
        bad = [k for k in self.measure if k not in KINDS]
        if bad:
            raise SweepError(f"--measure {','.join(bad)}: choose from {','.join(KINDS)}")
        if self.rounds < 1 or self.batch < 1 or self.train_batch < 1 or self.epochs < 1:
            raise SweepError("--rounds, --batch, --train-batch and --epochs must be at least 1")
        if not self.min_run_time > 0:
            raise SweepError(f"--min-run-time {self.min_run_time}: use a positive number of seconds")

    def kind_settings(self, kind: str) -> dict[str, Any]:
        """The settings a trial of `kind` depends on (its key and what run_trial gets)."""
        if kind == "infer":
            return dict(device=self.device, backend=self.backend, batch=self.batch, dtype=self.dtype,
                        threads=self.threads, min_run_time=self.min_run_time)
        if kind == "train":
            return dict(device=self.device, backend="torch", batch=self.train_batch, dtype=self.dtype,
                        threads=self.threads, min_run_time=self.min_run_time)
        if kind == "accuracy":
            return dict(device=self.device, data=self.data, epochs=self.epochs, size=self.train_size,
                        threads=self.threads)
        return {}


@dataclass
class Design:
    """One distinct design of the sweep (points with the same cfg text share it)."""

    point: Point
    cfg_text: str
    cfg_sha256: str
    params: int
    fma: int
    also: list[Point] = field(default_factory=list)  # other points that lowered to the same cfg


@dataclass(frozen=True)
class Trial:
    key: str
    design: int  # index into the sweep's designs
    kind: str
    round: int


def sweep_spec(base: Arch, axes: tuple[Axis, ...], samples: int | None, seed: int, settings: Settings) -> dict:
    return {"base": dump_yaml(base), "axes": [[a.key, [format_value(v) for v in a.values]] for a in axes],
            "samples": samples or 0, "seed": seed, "settings": asdict(settings)}


def designs_of(points: list[Point]) -> tuple[list[Design], list[Point]]:
    """Valid points -> distinct designs (by exported cfg text); invalid points returned apart."""
    out: dict[str, Design] = {}
    invalid = []
    for p in points:
        if p.arch is None:
            invalid.append(p)
            continue
        text = emit_cfg(lower(p.arch))
        sha = hashlib.sha256(text.encode()).hexdigest()
        if sha in out:
            out[sha].also.append(p)
            continue
        c = count(lower(p.arch, with_design=False))
        out[sha] = Design(p, text, sha, c.params, c.fma)
    return list(out.values()), invalid


def trial_key(sweep_id: str, cfg_sha256: str, kind: str, kind_settings: dict, rnd: int) -> str:
    settings = spec_hash(kind_settings)
    return f"{sweep_id}/{cfg_sha256[:16]}/{kind}/{settings}/r{rnd}"


def plan(sweep_id: str, designs: list[Design], settings: Settings) -> list[Trial]:
    """Every trial in the order it runs: timed rounds (rotated design order), then accuracy."""
    trials = []
    n = len(designs)
    timed = [k for k in TIMED if k in settings.measure]
    for r in range(settings.rounds if timed else 0):
        for j in range(n):
            i = (j + r) % n
            for kind in timed:
                trials.append(Trial(trial_key(sweep_id, designs[i].cfg_sha256, kind, settings.kind_settings(kind), r),
                                    i, kind, r))
    if "accuracy" in settings.measure:
        for i, d in enumerate(designs):
            trials.append(Trial(trial_key(sweep_id, d.cfg_sha256, "accuracy", settings.kind_settings("accuracy"), 0),
                                i, "accuracy", 0))
    return trials


# ------------------------------------------------------------------ running and summarising

Progress = Callable[[int, int, str], None]  # (trials done, trials in the sweep, message)
TrialFn = Callable[[str, str, dict], dict]  # (cfg text, kind, kind settings) -> result: runtime.explore.run_trial


def run_local(sweep_id: str, designs: list[Design], trials: list[Trial], settings: Settings, store: TrialStore,
              trial: TrialFn, on_progress: Progress | None = None, stop: threading.Event | None = None) -> int:
    """Measure every trial not yet in the store, in plan order; returns how many were measured now."""
    pending = [t for t in trials if store.done(t.key) is None]
    done = len(trials) - len(pending)
    if on_progress:
        on_progress(done, len(trials), "")  # what an earlier run finished: not part of this run's rate
    for t in pending:
        if stop is not None and stop.is_set():
            break
        d = designs[t.design]
        if on_progress:
            on_progress(done, len(trials), f"{t.kind} round {t.round + 1}: {d.point.label}")
        result = trial(d.cfg_text, t.kind, settings.kind_settings(t.kind))
        store.record(t.key, record_of(sweep_id, d, t, result))
        done += 1
        if on_progress:
            on_progress(done, len(trials), "")
    return done - (len(trials) - len(pending))


def record_of(sweep_id: str, d: Design, t: Trial, result: dict) -> dict:
    return {"sweep_id": sweep_id, "cfg_sha256": d.cfg_sha256, "kind": t.kind, "round": t.round,
            "point": d.point.as_dict, "label": d.point.label, **result}


def summarize(sweep_id: str, designs: list[Design], invalid: list[Point], settings: Settings,
              store: TrialStore) -> list[dict]:
    """One row per point (valid ones first): counts, per-kind medians over rounds, Pareto flags."""
    by_key: dict[tuple[str, str], list[dict]] = {}
    for rec in store.list(sweep_id):
        by_key.setdefault((rec["cfg_sha256"], rec["kind"]), []).append(rec)
    rows = []
    for d in designs:
        base = {"design": d.point.label, **d.point.as_dict, "valid": True, "params": d.params, "fma": d.fma,
                "cfg_sha256": d.cfg_sha256, "notes": "; ".join(d.point.notes)}
        for kind in TIMED:
            recs = by_key.get((d.cfg_sha256, kind), [])
            if kind in settings.measure:
                meds = [r["median_ms"] for r in recs]
                base[f"{kind}_ms"] = statistics.median(meds) if meds else None
                base[f"{kind}_iqr_ms"] = statistics.median(r["iqr_ms"] for r in recs) if recs else None
                base[f"{kind}_spread_ms"] = (max(meds) - min(meds)) if meds else None
                base[f"{kind}_rounds"] = len(recs)
                if recs:
                    base["device_name"] = recs[0]["device_name"]
                    base["threads"] = recs[0]["threads"]
                    base[f"{kind}_backend"] = recs[0].get("backend", "torch")
        if "accuracy" in settings.measure:
            recs = by_key.get((d.cfg_sha256, "accuracy"), [])
            base["accuracy"] = recs[-1]["accuracy"] if recs else None
        for p in [d.point, *d.also]:
            rows.append({**base, "design": p.label, **p.as_dict, "same_cfg_as": d.point.label if p is not d.point
                         else ""})
    for name, keys in fronts(settings).items():
        flags = pareto_front([objectives(r, keys) for r in rows])
        for r, f in zip(rows, flags):
            r[f"pareto_{name}"] = f
    for p in invalid:
        rows.append({"design": p.label, **p.as_dict, "valid": False, "reason": p.reason})
    return rows


def fronts(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The Pareto fronts a sweep marks: one per measured latency, over (latency, FMA, params[, -accuracy])."""
    tail = ("fma", "params") + (("accuracy",) if "accuracy" in settings.measure else ())
    timed = [k for k in TIMED if k in settings.measure]
    if not timed:
        return {"count": tail}
    return {k: (f"{k}_ms", *tail) for k in timed}
