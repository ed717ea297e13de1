"""Run a sweep: count every design, then measure it (inference, training step, quick-train accuracy), recording
each trial in a TrialStore as it finishes.

Timed measurements are interleaved in rounds: round r measures every design once, in the design order rotated by
r, so slow drift on a shared machine (another job starting, thermal limits) falls on all designs alike; a
design's latency is the median of its round medians (its spread: max - min of them). A trial is one design x one
kind x one round on one machine (its key names the machine's fingerprint and every setting); a trial already in
the store is not measured again, so rerunning the same sweep resumes.

A trial that raises a MixdesignError is recorded as failed with its message and the sweep goes on; a rerun does
not retry it unless asked (retry_failed). Invalid points are recorded as trials with status "invalid" and their
reason. Timed trials the runtime flags `unstable` are re-measured once at the end, as extra rounds (`again`).
Designs whose cfg text is identical (e.g. two dw-group-size values that round to the same groups) are measured
once and share the result.

The work of one trial (what a Ray task runs too) is runtime.explore.run_trial, passed in by the caller (the CLI,
the app, a benchmark): this torch-free core never imports the runtime.
"""

from __future__ import annotations

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
from designer.keys import cfg_sha256, layers_sha256
from designer.lower import lower
from designer.spec import Arch

KINDS = ("count", "estimate", "infer", "train", "accuracy")
TIMED = ("infer", "train")
ESTIMATE = "estimate"  # inference latency from this machine's latency model (designer/explore/estimate.py)


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
    latency_model: str = ""  # estimate: the uid of the latency model that makes the estimates

    def __post_init__(self) -> None:
        bad = [k for k in self.measure if k not in KINDS]
        if bad:
            raise SweepError(f"--measure {','.join(bad)}: choose from {','.join(KINDS)}")
        if self.rounds < 1 or self.batch < 1 or self.train_batch < 1 or self.epochs < 1:
            raise SweepError("--rounds, --batch, --train-batch and --epochs must be at least 1")
        if not self.min_run_time > 0:
            raise SweepError(f"--min-run-time {self.min_run_time}: use a positive number of seconds")

    def kind_settings(self, kind: str) -> dict[str, Any]:
        """The settings a trial of `kind` depends on (its key and what run_trial gets). An estimate depends on the
        inference setting and the model, not on timing: one estimate per design whatever --min-run-time says."""
        if kind in (*TIMED, ESTIMATE):
            s: dict[str, Any] = dict(
                device=self.device,
                backend=self.backend if kind != "train" else "torch",
                batch=self.batch if kind != "train" else self.train_batch,
                dtype=self.dtype,
                threads=self.threads,
            )
            return {**s, "model": self.latency_model} if kind == ESTIMATE else {**s, "min_run_time": self.min_run_time}
        if kind == "accuracy":
            return dict(
                device=self.device, data=self.data, epochs=self.epochs, size=self.train_size, threads=self.threads
            )
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
    """What a sweep is (its id hashes it). A sweep that does not estimate has no `latency_model` setting, so its
    id is the one it had before sweeps could estimate, and stores recorded then still resume."""
    s = asdict(settings)
    if not s["latency_model"]:
        del s["latency_model"]
    return {
        "base": dump_yaml(base),
        "axes": [[a.key, [format_value(v) for v in a.values]] for a in axes],
        "samples": samples or 0,
        "seed": seed,
        "settings": s,
    }


def designs_of(points: list[Point]) -> tuple[list[Design], list[Point]]:
    """Valid points -> distinct designs (by exported cfg text); invalid points returned apart."""
    out: dict[str, Design] = {}
    invalid = []
    for p in points:
        if p.arch is None:
            invalid.append(p)
            continue
        text = emit_cfg(lower(p.arch))
        sha = cfg_sha256(text)
        if sha in out:
            out[sha].also.append(p)
            continue
        c = count(lower(p.arch, with_design=False))
        out[sha] = Design(p, text, sha, c.params, c.fma)
    return list(out.values()), invalid


def trial_key(sweep_id: str, machine_key: str, cfg_sha256: str, kind: str, kind_settings: dict, rnd: int) -> str:
    """One measurement of one design: the sweep (its settings hash), the machine (designer.machine.Fingerprint.key:
    machine B never reuses machine A's timings), the design's cfg, the kind, every setting the kind depends on
    (a changed batch or backend is another trial) and the round."""
    return f"{sweep_id}/{machine_key}/{cfg_sha256[:16]}/{kind}/{spec_hash(kind_settings)}/r{rnd}"


def invalid_key(sweep_id: str, p: Point) -> str:
    """The trial of an invalid point (recorded with its reason; the same on every machine)."""
    return f"{sweep_id}/invalid/{spec_hash(p.as_dict)}"


def plan(sweep_id: str, designs: list[Design], settings: Settings, machine_key: str) -> list[Trial]:
    """Every trial in the order it runs: estimates (one per design: they take milliseconds), timed rounds (rotated
    design order), then accuracy."""

    def trial(i: int, kind: str, rnd: int) -> Trial:
        key = trial_key(sweep_id, machine_key, designs[i].cfg_sha256, kind, settings.kind_settings(kind), rnd)
        return Trial(key, i, kind, rnd)

    n = len(designs)
    trials = [trial(i, ESTIMATE, 0) for i in range(n)] if ESTIMATE in settings.measure else []
    timed = [k for k in TIMED if k in settings.measure]
    for r in range(settings.rounds if timed else 0):
        trials += [trial((j + r) % n, kind, r) for j in range(n) for kind in timed]
    if "accuracy" in settings.measure:
        trials += [trial(i, "accuracy", 0) for i in range(n)]
    return trials


def again(
    trials: list[Trial], designs: list[Design], settings: Settings, store: TrialStore, sweep_id: str, machine_key: str
) -> list[Trial]:
    """The re-measurements of the timed trials recorded `unstable`: each once, as round `rounds + r` of the same
    design and kind (a new round entry that the design's median then includes). Re-measurements are never
    re-measured, so a sweep ends; their keys are fixed, so a rerun measures nothing twice."""
    out = []
    for t in trials:
        if t.kind in TIMED and t.round < settings.rounds:
            rec = store.done(t.key)
            if rec is not None and rec.get("status", "ok") == "ok" and rec.get("unstable"):
                r = settings.rounds + t.round
                out.append(
                    Trial(
                        trial_key(
                            sweep_id,
                            machine_key,
                            designs[t.design].cfg_sha256,
                            t.kind,
                            settings.kind_settings(t.kind),
                            r,
                        ),
                        t.design,
                        t.kind,
                        r,
                    )
                )
    return out


# ------------------------------------------------------------------ running and summarising

Progress = Callable[[int, int, str], None]  # (trials done, trials in the sweep, message)
TrialFn = Callable[[str, str, dict], dict]  # (cfg text, kind, kind settings) -> result: runtime.explore.run_trial


def pending(trials: list[Trial], store: TrialStore, retry_failed: bool = False) -> list[Trial]:
    """The trials still to measure: not in the store (and, with retry_failed, those recorded as failed)."""
    out = []
    for t in trials:
        rec = store.done(t.key)
        if rec is None or (retry_failed and rec.get("status") == "failed"):
            out.append(t)
    return out


def guarded(trial: TrialFn, cfg_text: str, kind: str, s: dict) -> dict:
    """`trial`'s result, or {"status": "failed", "message": ...} when it raises a MixdesignError (a design that
    cannot be measured as asked: too little memory, a batch the network refuses, ...): one failure is recorded
    and the sweep goes on. Module-level so that a Ray worker can run it."""
    try:
        return {"status": "ok", **trial(cfg_text, kind, s)}
    except MixdesignError as e:
        return {"status": "failed", "message": str(e)}


@dataclass(frozen=True)
class Work:
    """What a runner (run_local, ray_runner.run_ray) measures: trials of one sweep in plan order (indices into
    `designs`), each by `trial` with `settings`, recorded in `store` under `machine` (the fingerprint the keys
    name); with retry_failed, trials recorded as failed are measured again."""

    sweep_id: str
    designs: list[Design]
    trials: list[Trial]
    settings: Settings
    store: TrialStore
    trial: TrialFn
    machine: dict | None = None
    retry_failed: bool = False

    def pending(self) -> list[Trial]:
        return pending(self.trials, self.store, self.retry_failed)

    def record(self, t: Trial, result: dict) -> None:
        self.store.record(t.key, record_of(self.sweep_id, self.designs[t.design], t, result, self.machine))


def run_local(work: Work, on_progress: Progress | None = None, stop: threading.Event | None = None) -> int:
    """Measure every trial still pending (see `pending`), in plan order; returns how many were measured now."""
    todo = work.pending()
    total = len(work.trials)
    done = total - len(todo)
    if on_progress:
        on_progress(done, total, "")  # what an earlier run finished: not part of this run's rate
    for t in todo:
        if stop is not None and stop.is_set():
            break
        d = work.designs[t.design]
        if on_progress:
            on_progress(done, total, f"{t.kind} round {t.round + 1}: {d.point.label}")
        work.record(t, guarded(work.trial, d.cfg_text, t.kind, work.settings.kind_settings(t.kind)))
        done += 1
        if on_progress:
            on_progress(done, total, "")
    return done - (total - len(todo))


def record_of(sweep_id: str, d: Design, t: Trial, result: dict, machine: dict | None = None) -> dict:
    """What the store keeps of a trial: where it belongs, its status (ok / failed), and the result; `machine` (the
    fingerprint the trial key names) unless the result says where it ran."""
    rec = {
        "sweep_id": sweep_id,
        "cfg_sha256": d.cfg_sha256,
        "layers_sha256": layers_sha256(d.cfg_text),
        "kind": t.kind,
        "round": t.round,
        "point": d.point.as_dict,
        "label": d.point.label,
        "status": "ok",
        **result,
    }
    if machine is not None and not rec.get("machine"):
        rec["machine"] = machine
    return rec


def record_invalid(sweep_id: str, invalid: list[Point], store: TrialStore) -> None:
    """Each invalid point as a trial with status "invalid" and its reason (once)."""
    for p in invalid:
        key = invalid_key(sweep_id, p)
        if store.done(key) is None:
            store.record(
                key,
                {
                    "sweep_id": sweep_id,
                    "kind": "count",
                    "round": 0,
                    "point": p.as_dict,
                    "label": p.label,
                    "status": "invalid",
                    "message": p.reason,
                },
            )


def summarize(
    *,
    sweep_id: str,
    machine_key: str,
    designs: list[Design],
    invalid: list[Point],
    settings: Settings,
    store: TrialStore,
) -> list[dict]:
    """One row per point (valid ones first): counts, per-kind medians over this machine's rounds (re-measurements
    included), estimates, failures and unstable rounds, Pareto flags. Only trials whose key this plan names count:
    another machine's timings, or another batch's, never enter a median. A sweep that estimates also shows the
    inference timings it has of its designs (the ones `--confirm` measured)."""
    rows = []
    for d in designs:
        base = {
            "design": d.point.label,
            **d.point.as_dict,
            "valid": True,
            "params": d.params,
            "fma": d.fma,
            "cfg_sha256": d.cfg_sha256,
            "notes": "; ".join(d.point.notes),
        }
        failed: list[str] = []
        for kind in summarized_kinds(settings):
            n_rounds = 2 * settings.rounds if kind in TIMED else 1
            keys_ = [
                trial_key(sweep_id, machine_key, d.cfg_sha256, kind, settings.kind_settings(kind), r)
                for r in range(n_rounds)
            ]
            recs = [r for k in keys_ if (r := store.done(k)) is not None]
            if kind in settings.measure or recs:
                base.update(kind_columns(kind, recs))
                failed += [
                    f"{kind} round {r['round'] + 1} failed: {r.get('message')}"
                    for r in recs
                    if r.get("status") == "failed"
                ]
        base["failed"] = "; ".join(failed) or None
        for p in [d.point, *d.also]:
            rows.append(
                {**base, "design": p.label, **p.as_dict, "same_cfg_as": d.point.label if p is not d.point else ""}
            )
    for name, keys in fronts(settings).items():
        flags = pareto_front([objectives(r, keys) for r in rows])
        for r, f in zip(rows, flags):
            r[f"pareto_{name}"] = f
    for p in invalid:
        rows.append({"design": p.label, **p.as_dict, "valid": False, "reason": p.reason})
    return rows


def summarized_kinds(settings: Settings) -> list[str]:
    """The kinds a row has columns for: what the sweep measures, and inference where it estimates."""
    return [k for k in KINDS[1:] if k in settings.measure or (k == "infer" and ESTIMATE in settings.measure)]


def kind_columns(kind: str, recs: list[dict]) -> dict[str, Any]:
    """A design's columns for one kind from its trial records (every round): the estimate with its interval, the
    accuracy, or the median over rounds with spread, IQR and unstable rounds."""
    ok = [r for r in recs if r.get("status", "ok") == "ok"]
    if kind == "accuracy":
        return {"accuracy": ok[-1]["accuracy"] if ok else None}
    if kind == ESTIMATE:
        e = ok[-1] if ok else {}
        return {
            "estimate_ms": e.get("estimate_ms"),
            "estimate_low_ms": e.get("low_ms"),
            "estimate_high_ms": e.get("high_ms"),
        }
    meds = [r["median_ms"] for r in ok]
    shaky = [r for r in ok if r.get("unstable")]
    out: dict[str, Any] = {
        f"{kind}_ms": statistics.median(meds) if meds else None,
        f"{kind}_iqr_ms": statistics.median(r["iqr_ms"] for r in ok) if ok else None,
        f"{kind}_spread_ms": (max(meds) - min(meds)) if meds else None,
        f"{kind}_rounds": len(ok),
        f"{kind}_unstable": f"{len(shaky)} of {len(ok)} rounds unstable: {shaky[-1]['unstable']}" if shaky else None,
    }
    if ok:
        out.update(device_name=ok[0].get("device_name", ""), threads=ok[0].get("threads"))
        out[f"{kind}_backend"] = ok[0].get("backend", "torch")
    return out


def fronts(settings: Settings) -> dict[str, tuple[str, ...]]:
    """The Pareto fronts a sweep marks: one per measured or estimated latency, over (latency, FMA, params
    [, -accuracy])."""
    tail = ("fma", "params") + (("accuracy",) if "accuracy" in settings.measure else ())
    timed = [k for k in (ESTIMATE, *TIMED) if k in settings.measure]
    if not timed:
        return {"count": tail}
    return {k: (f"{k}_ms", *tail) for k in timed}
