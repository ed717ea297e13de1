"""From calibration measurements to a LatencyModel: per-kind regressors, network terms, interval, held-out errors.

Input: one `DesignSample` per measured design (its kernels, each kernel's measured time, the whole pass's
median). Kernels are fitted per kind (designer.latency.regress.fit_kind, candidates judged on held-out designs),
then once more with the kernels of designs timed during a slow spell of a shared host brought back to its usual
speed (_slow_spells);
the network terms (scale, per run, per kernel, per million weights) by non-negative least squares of the
whole-pass times on the kernel models' held-out sums: what the kernel models predict for a design they did not
see, set against what its whole pass took. So the terms carry both how a pass relates to its kernels timed alone (the runtime's
doing) and whatever bias the kernel fits share (a log-space fit predicts a geometric mean; the slow-spell
correction moves kernels to the host's usual speed), and an estimate lands on the passes themselves. The
network-level errors reported are those of held-out kernel predictions: designs whose kernels the kernel models
did not see. The interval is the 5th and 95th percentile of measured / estimated over those designs.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from designer.ir import Network
from designer.latency.kernels import Kernel
from designer.latency.model import LatencyModel, NetworkTerms, kernel_mweights
from designer.latency.regress import Regressor, fit_kind, fit_roofline
from designer.latency.setting import Setting
from designer.machine import Fingerprint

MIN_DESIGNS_FOR_TERMS = 8  # fewer designs fit only the scale (nothing per run or per kernel)
MIN_HALF_WIDTH = 0.02  # an interval never narrower than +-2 %: the run-to-run spread of a quiet CPU


@dataclass(frozen=True)
class DesignSample:
    label: str
    kernels: tuple[Kernel, ...]
    kernel_ms: tuple[float, ...]  # measured per kernel, aligned with `kernels` (0 where the backend fused it away)
    total_ms: (
        float  # the whole pass (or training step), ms: the median of its calls (runtime.calibrate.measure_designs)
    )


def _network_terms(sums: np.ndarray, counts: np.ndarray, mweights: np.ndarray, totals: np.ndarray) -> NetworkTerms:
    """total ~ scale * sum + per_run + per_kernel * kernels + per_mweights * million weights, least relative
    squares with non-negative terms; a design whose whole pass is off the fit by more than 3 median deviations (at
    least 15 %: a pass another process interrupted) is left out of a second fit.

    Why the weights: kernels are timed alone, call after call, with their weights in cache; in a whole pass each
    kernel reads its weights from memory again. The pass / kernel-sum ratio follows a design's weights per
    kernel-millisecond, which neither the scale nor the per-kernel term carries
    (benchmarks/bench_network_terms.py)."""
    if len(totals) < MIN_DESIGNS_FOR_TERMS:
        return NetworkTerms(float(np.median(totals / np.maximum(sums, 1e-9))), 0.0, 0.0, 0.0)
    from scipy.optimize import nnls

    A = np.column_stack([sums, np.ones(len(sums)), counts, mweights]) / totals[:, None]  # relative error per design
    coef, _ = nnls(A, np.ones(len(totals)))
    resid = A @ coef - 1.0
    keep = np.abs(resid - np.median(resid)) <= max(0.15, 3 * np.median(np.abs(resid - np.median(resid))))
    if MIN_DESIGNS_FOR_TERMS <= keep.sum() < len(keep):
        coef, _ = nnls(A[keep], np.ones(int(keep.sum())))
    return NetworkTerms(float(coef[0]), float(coef[1]), float(coef[2]), float(coef[3]))


SPELL_MIN = 0.05  # a design's kernels this much (log) above the typical design's before it counts as slowed


def _fit_kinds(
    X: np.ndarray, y: np.ndarray, kinds: np.ndarray, design: np.ndarray
) -> tuple[dict[str, Regressor], dict[str, dict[str, Any]], np.ndarray]:
    """Each kind's regressor (designer.latency.regress.fit_kind), its summary, and every kernel's held-out
    prediction."""
    oof = np.zeros(len(y))
    regressors, per_kind = {}, {}
    for kind in sorted(set(kinds.tolist())):
        idx = np.flatnonzero(kinds == kind)
        kf = fit_kind(X[idx], y[idx], design[idx])
        regressors[kind] = kf.regressor
        oof[idx] = kf.out_of_fold
        per_kind[kind] = {"samples": kf.samples, "form": kf.regressor.name, "held_out_median_error": kf.held_out_error}
    return regressors, per_kind, oof


def _slow_spells(y: np.ndarray, oof: np.ndarray, design: np.ndarray, designs: int) -> np.ndarray:
    """Per design, log of how much slower than usual the host ran while its kernels were timed: the log of its
    measured kernel sum over its held-out predicted sum, less the median of that over all designs, where it
    exceeds SPELL_MIN (else 0).

    Why: a shared host slows down by 20-50 % for seconds to minutes at a time (other guests' memory traffic), and
    a design's kernels are timed within a second or two, so a slow spell raises all of one design's kernels
    together, which no kernel feature explains. Held-out predictions come from the other designs' kernels, so
    a design's own spell does not hide in them. A design whose kernels ran faster than predicted is left as it is:
    the host is not faster than its usual speed, the model is off there."""
    measured = np.bincount(design, weights=y, minlength=designs)
    predicted = np.bincount(design, weights=oof, minlength=designs)
    r = np.log(np.maximum(measured, 1e-9) / np.maximum(predicted, 1e-9))
    excess = r - np.median(r)
    return np.where(excess > SPELL_MIN, excess, 0.0)


def fit_model(
    samples: list[DesignSample],
    setting: Setting,
    fingerprint: Fingerprint,
    *,
    seconds: float,
    extra: dict[str, Any] | None = None,
    started: float | None = None,
) -> LatencyModel:
    """The model for `setting` on `fingerprint`'s machine from the calibration's samples (at least 2 designs).
    `started`: time.perf_counter() when calibration began, so calibration_s includes the fit (else `seconds`)."""
    if len(samples) < 2:
        raise ValueError("a latency model needs at least 2 measured designs")
    X = np.array([k.features for s in samples for k in s.kernels], dtype=float)
    y = np.array([ms for s in samples for ms in s.kernel_ms], dtype=float)
    kinds = np.array([k.kind for s in samples for k in s.kernels])
    design = np.array([d for d, s in enumerate(samples) for _ in s.kernels])
    regressors, per_kind, oof = _fit_kinds(X, y, kinds, design)
    slow = _slow_spells(y, oof, design, len(samples))
    if slow.any():  # refit with each slowed design's kernels brought back to the host's usual speed
        regressors, per_kind, oof = _fit_kinds(X, y * np.exp(-slow[design]), kinds, design)
    sums = np.array([oof[design == d].sum() for d in range(len(samples))])
    counts = np.array([len(s.kernels) for s in samples], dtype=float)
    mweights = np.array([kernel_mweights(s.kernels).sum() for s in samples])
    totals = np.array([s.total_ms for s in samples], dtype=float)
    terms = _network_terms(sums, counts, mweights, totals)
    held_out = terms.total(sums, mweights, counts)
    ratio = totals / np.maximum(held_out, 1e-9)
    lo = min(float(np.quantile(ratio, 0.05)), 1.0 - MIN_HALF_WIDTH)
    hi = max(float(np.quantile(ratio, 0.95)), 1.0 + MIN_HALF_WIDTH)
    rel = np.abs(held_out / totals - 1.0)
    if started is not None:
        seconds = time.perf_counter() - started
    metrics = {
        "designs": len(samples),
        "kernels": len(y),
        "calibration_s": round(seconds, 1),
        "held_out_within_10pct": float(np.mean(rel <= 0.10)),
        "held_out_median_abs_pct": float(100 * np.median(rel)),
        "slowed_designs": int((slow > 0).sum()),
        "kinds": per_kind,
        **(extra or {}),
    }
    return LatencyModel(
        setting,
        fingerprint,
        regressors,
        fit_roofline(X, y),
        terms,
        (lo, hi),
        metrics,
        uid=uuid.uuid4().hex,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


ANCHORS = 6  # reference designs a model keeps for `calibrate --refresh`: a median over 6 halves one design's error


def choose_anchors(
    model: LatencyModel, samples: list[DesignSample], networks: list[Network], n: int = ANCHORS
) -> tuple[tuple[str, str], ...]:
    """The calibration designs a refresh times again, as (label, cfg text): the measured designs sorted by their
    whole pass, cut into `n` bins of neighbours, and from each the one the model fits closest (|log measured /
    estimated| least). Spread over the range of times, so a change of speed that hits small and large networks
    differently shows in the refresh's spread; fitted closely, so that what a refresh measures against the
    estimate is the machine's change, not the model's error on that design. `networks[i]` is `samples[i]`'s."""
    from designer.cfg import emit_cfg

    if not samples:
        return ()
    order = np.argsort([s.total_ms for s in samples])
    chosen = []
    for part in np.array_split(order, min(n, len(samples))):
        misfit = [abs(np.log(samples[i].total_ms / max(model.estimate(networks[i]).ms, 1e-9))) for i in part]
        chosen.append(int(part[int(np.argmin(misfit))]))
    return tuple((samples[i].label, emit_cfg(networks[i])) for i in chosen)
