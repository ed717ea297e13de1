"""Per-kernel-kind time regressors: fitted with scikit-learn / scipy, stored and evaluated as plain JSON numbers.

A regressor predicts one kernel's milliseconds from its features (designer.latency.kernels.FEATURES). It is a base
model, optionally corrected by gradient-boosted trees on the log of the base's error:

    roofline   ms = a + b*fma + c*bytes + d*act, non-negative least squares weighted to relative error (a kernel
               costs a launch, its multiply-adds and its memory traffic); extrapolates linearly, so it stays sane
               for layers larger than any calibration saw
    loglinear  log ms = ridge regression on log features (a power law in FMA, channels per group, ...)
    +trees     sklearn GradientBoostingRegressor on log(measured / base): what neither form captures (oneDNN's
               kernel choice by channels per group, cache sizes), piecewise constant, bounded by what it saw

`fit_kind` picks, per kind, the candidate with the lowest held-out error in group k-fold over the calibration's
designs (a kernel's siblings in the same design never judge it). Why JSON and not a pickle: the fitted numbers
(coefficients, tree thresholds and leaf values) are a few kB, readable by any later scikit-learn (a pickled
estimator is tied to the version that wrote it), and safe to load from a shared workspace (unpickling runs code).
Evaluation is numpy only: well under a millisecond for a network's kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FLOOR_MS = 1e-3  # 1 us: the smallest time a kernel is taken to cost (log space needs > 0; profilers report 0)
MIN_FOR_TREES = 20  # samples below which only the base forms compete (trees would learn the noise)
FOLDS = 3
TREES = 150  # boosting rounds of the +trees forms (docs/performance.md: how the number was chosen, measured)


def log_features(X: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(X, 0.0))


def _roofline_columns(X: np.ndarray) -> np.ndarray:
    """[1, fma, bytes-ish elements (in + out + weights), act] (FEATURES order: fma, in, out, weights, act, ...);
    vfma, the multiply-adds as vector lanes run them, is the log-linear form's and the trees' to use."""
    return np.column_stack([np.ones(len(X)), X[:, 0], X[:, 1] + X[:, 2] + X[:, 3], X[:, 4]])


@dataclass(frozen=True)
class Trees:
    """A fitted gradient-boosting ensemble as arrays: prediction = init + rate * sum of the trees' leaf values."""

    init: float
    rate: float
    left: tuple[np.ndarray, ...]
    right: tuple[np.ndarray, ...]
    feature: tuple[np.ndarray, ...]
    threshold: tuple[np.ndarray, ...]
    value: tuple[np.ndarray, ...]

    def predict(self, Z: np.ndarray) -> np.ndarray:
        out = np.full(len(Z), self.init)
        rows = np.arange(len(Z))
        for left, right, feat, thr, val in zip(self.left, self.right, self.feature, self.threshold, self.value):
            node = np.zeros(len(Z), dtype=np.int64)
            while True:
                leaf = left[node] < 0
                if leaf.all():
                    break
                go_left = Z[rows, np.maximum(feat[node], 0)] <= thr[node]
                node = np.where(leaf, node, np.where(go_left, left[node], right[node]))
            out += self.rate * val[node]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "init": self.init,
            "rate": self.rate,
            "trees": [
                {
                    "left": lft.tolist(),
                    "right": r.tolist(),
                    "feature": f.tolist(),
                    "threshold": t.tolist(),
                    "value": v.tolist(),
                }
                for lft, r, f, t, v in zip(self.left, self.right, self.feature, self.threshold, self.value)
            ],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trees:
        ts = d["trees"]
        return cls(
            float(d["init"]),
            float(d["rate"]),
            tuple(np.asarray(t["left"], dtype=np.int64) for t in ts),
            tuple(np.asarray(t["right"], dtype=np.int64) for t in ts),
            tuple(np.asarray(t["feature"], dtype=np.int64) for t in ts),
            tuple(np.asarray(t["threshold"], dtype=float) for t in ts),
            tuple(np.asarray(t["value"], dtype=float) for t in ts),
        )

    @classmethod
    def from_sklearn(cls, gbr: Any) -> Trees:
        """A fitted sklearn GradientBoostingRegressor (squared error, a constant init) as arrays."""
        trees = [e[0].tree_ for e in gbr.estimators_]
        return cls(
            float(np.ravel(gbr.init_.constant_)[0]),
            float(gbr.learning_rate),
            tuple(t.children_left.astype(np.int64) for t in trees),
            tuple(t.children_right.astype(np.int64) for t in trees),
            tuple(t.feature.astype(np.int64) for t in trees),
            tuple(t.threshold.astype(float) for t in trees),
            tuple(t.value.reshape(-1).astype(float) for t in trees),
        )


@dataclass(frozen=True)
class Regressor:
    """One kind's fitted model: `form` ("const", "roofline" or "loglinear"), its numbers, optional trees."""

    form: str
    coef: tuple[float, ...]  # const: (ms,); roofline: (a, b, c, d); loglinear: (intercept, w...)
    center: tuple[float, ...] = ()  # loglinear: feature means and scales (standardised log features)
    scale: tuple[float, ...] = ()
    trees: Trees | None = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Milliseconds per kernel for rows of features (FEATURES order)."""
        X = np.asarray(X, dtype=float).reshape(len(X), -1)
        if self.form == "const":
            base = np.full(len(X), self.coef[0])
        elif self.form == "roofline":
            base = _roofline_columns(X) @ np.asarray(self.coef)
        else:
            Z = (log_features(X) - np.asarray(self.center)) / np.asarray(self.scale)
            base = np.exp(self.coef[0] + Z @ np.asarray(self.coef[1:])) - FLOOR_MS
        base = np.maximum(base, 0.0)
        if self.trees is None:
            return base
        return np.maximum(np.exp(np.log(base + FLOOR_MS) + self.trees.predict(log_features(X))) - FLOOR_MS, 0.0)

    @property
    def name(self) -> str:
        return self.form + ("+trees" if self.trees is not None else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "coef": list(self.coef),
            "center": list(self.center),
            "scale": list(self.scale),
            "trees": self.trees.to_json() if self.trees is not None else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Regressor:
        return cls(
            str(d["form"]),
            tuple(float(v) for v in d["coef"]),
            tuple(float(v) for v in d.get("center", ())),
            tuple(float(v) for v in d.get("scale", ())),
            Trees.from_json(d["trees"]) if d.get("trees") else None,
        )


# ------------------------------------------------------------------ fitting (scikit-learn / scipy)


def fit_const(y: np.ndarray) -> Regressor:
    return Regressor("const", (float(np.median(y)) if len(y) else 0.0,))


def fit_roofline(X: np.ndarray, y: np.ndarray) -> Regressor:
    from scipy.optimize import nnls

    A = _roofline_columns(X)
    w = 1.0 / (y + FLOOR_MS)  # minimise relative error: every kernel counts, not only the big ones
    coef, _ = nnls(A * w[:, None], np.ones(len(y)) * (y * w), maxiter=50 * A.shape[1])
    return Regressor("roofline", tuple(float(c) for c in coef))


def fit_loglinear(X: np.ndarray, y: np.ndarray) -> Regressor:
    from sklearn.linear_model import Ridge

    L = log_features(X)
    center, scale = L.mean(axis=0), L.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    r = Ridge(alpha=1.0).fit((L - center) / scale, np.log(y + FLOOR_MS))
    return Regressor("loglinear", (float(r.intercept_), *(float(c) for c in r.coef_)), tuple(center), tuple(scale))


def with_trees(base: Regressor, X: np.ndarray, y: np.ndarray, seed: int = 0) -> Regressor:
    from sklearn.ensemble import GradientBoostingRegressor

    target = np.log(y + FLOOR_MS) - np.log(base.predict(X) + FLOOR_MS)
    gbr = GradientBoostingRegressor(
        n_estimators=TREES, max_depth=3, learning_rate=0.1, subsample=0.8, min_samples_leaf=4, random_state=seed
    ).fit(log_features(X), target)
    return Regressor(base.form, base.coef, base.center, base.scale, Trees.from_sklearn(gbr))


CANDIDATES = {
    "roofline": lambda X, y: fit_roofline(X, y),
    "loglinear": lambda X, y: fit_loglinear(X, y),
    "roofline+trees": lambda X, y: with_trees(fit_roofline(X, y), X, y),
    "loglinear+trees": lambda X, y: with_trees(fit_loglinear(X, y), X, y),
}


def log_error(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|log(predicted / measured)|: about the relative error for small errors, symmetric for large ones."""
    return np.abs(np.log(pred + FLOOR_MS) - np.log(y + FLOOR_MS))


@dataclass(frozen=True)
class KindFit:
    regressor: Regressor
    samples: int
    held_out_error: float | None  # median |predicted / measured - 1| on held-out designs (None: too few designs)
    out_of_fold: np.ndarray  # held-out prediction per sample (the final fit's where there were too few designs)


def fit_kind(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> KindFit:
    """The best candidate for one kind by held-out error over designs (`groups`: the design of each sample),
    refitted on every sample; its out-of-fold predictions feed the network-level fit."""
    X, y, groups = np.asarray(X, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    n_groups = len(set(groups.tolist()))
    if len(y) < 2:
        r = fit_const(y)
        return KindFit(r, len(y), None, r.predict(X))
    if n_groups < 3 or len(y) < 4:  # too few to judge candidates: the form that extrapolates soberly
        r = fit_roofline(X, y)
        return KindFit(r, len(y), None, r.predict(X))
    from sklearn.model_selection import GroupKFold

    names = [n for n in CANDIDATES if "+trees" not in n or len(y) >= MIN_FOR_TREES]
    oof = {n: np.zeros(len(y)) for n in names}
    for train, test in GroupKFold(n_splits=min(FOLDS, n_groups)).split(X, y, groups):
        for n in names:
            oof[n][test] = CANDIDATES[n](X[train], y[train]).predict(X[test])
    scores = {n: float(np.mean(log_error(p, y))) for n, p in oof.items()}
    best = min(scores, key=lambda n: scores[n])
    rel = np.abs((oof[best] + FLOOR_MS) / (y + FLOOR_MS) - 1.0)
    return KindFit(CANDIDATES[best](X, y), len(y), float(np.median(rel)), oof[best])
