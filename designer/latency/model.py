"""A fitted latency model for one machine and setting, and the estimate it makes for a network.

    estimate = sum over kernels of (scale * prediction + per_mweights_ms * weights / 1e6)
               + per_run_ms + per_kernel_ms * kernels                                      (milliseconds)

Each kernel (designer.latency.kernels) is predicted by its kind's regressor (designer.latency.regress); a kind
the calibration never saw uses the fallback regressor, fitted on every kernel, and the estimate says which
layers that covered. The network-level terms are fitted on whole-network measurements: the runtime's own cost
per inference (dispatch, the unprofiled reorders of onnxruntime / OpenVINO, a training step's loss and SGD
update) and the difference between a kernel timed alone and inside a pass. A kernel timed alone, call after call,
finds its weights in cache; inside a pass they were last read a whole pass ago and come from memory again, so
each kernel also pays for its weights (per_mweights_ms per million; a training step's SGD update reads and writes
every weight too). The interval is the spread of the calibration's held-out network errors (quantiles of
measured / estimated).

A model is plain JSON (`to_json` / `from_json`, with a format number): stored in the workspace with the
fingerprint of the machine it was measured on (designer/latency/store.py), never used under another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from designer.cost import Cost, count
from designer.ir import Network
from designer.latency.kernels import FEATURES, Kernel, kernels
from designer.latency.regress import Regressor
from designer.latency.setting import Setting
from designer.machine import Fingerprint
from designer.shapes import Shape, infer_shapes

# the JSON layout of a model (2: the vfma feature; 3: the lanes feature); a stored model of another format is not used
FORMAT = 3
# What the runtime builds and times for a setting: a model calibrated against another revision describes kernels
# that are no longer run as measured, so it is not used (the fingerprint covers library versions, not this
# project's own build). Bump it when runtime.bench.prepare, runtime.calibrate or the backends' export change
# what a kernel costs, or the fit change what a model's numbers mean. 2: NHWC by default on CPU, each conv fused
# with its activation (oneDNN). 3: the whole pass is the median of both halves, and the network terms are fitted
# on held-out kernel predictions (designer/latency/fit.py): revision-2 models carry a bias of 5-30 %.
# 4: OpenVINO's per-node shares are medians over warmed-up profiled calls (runtime.deploy.backends).
# 5: depthwise and grouped convs (and MixConvs) are kernel kinds of their own (designer.latency.kernels).
# 6: designs are measured six at a time, their whole passes in interleaved rounds with each round's host speed
# divided out (runtime.calibrate.measure_designs), and each batch brought to one host speed by a reference pass
# timed in all of them (runtime.calibrate.leveled).
# 7: each batch's kernels are brought to the calibration's level by the reference design's kernels timed among
# them, not by its whole pass (runtime.calibrate.Level): the two are timed seconds apart and drift apart.
# 8: the network terms have a per-weight term (NetworkTerms.per_mweights_ms), so the scale no longer carries the
# weights' reading from memory.
RUNTIME_REVISION = 8


@dataclass(frozen=True)
class NetworkTerms:
    scale: float = 1.0  # whole pass / sum of kernels timed alone
    per_run_ms: float = 0.0
    per_kernel_ms: float = 0.0
    per_mweights_ms: float = 0.0  # per million weights of a kernel: reading them from memory inside a pass

    def kernel_part(self, ms: Any, mweights: Any) -> Any:
        """Kernels' share of a pass (ms): their time as timed alone, scaled, plus reading their weights (millions)
        within the pass. Per kernel or summed over a design, floats or numpy arrays alike (the terms are linear)."""
        return self.scale * ms + self.per_mweights_ms * mweights

    def overhead(self, kernels: Any) -> Any:
        """What a pass costs beyond its kernels' shares (ms): per run, and per kernel launched."""
        return self.per_run_ms + self.per_kernel_ms * kernels

    def total(self, ms: Any, mweights: Any, kernels: Any) -> Any:
        """A whole pass (ms) from its kernels' summed time, summed million weights and count: the one formula the
        estimate, the fit's held-out check and the benchmarks share."""
        return self.kernel_part(ms, mweights) + self.overhead(kernels)


@dataclass(frozen=True)
class KernelEstimate:
    first: int
    last: int
    label: str  # darknet type or fused kind, as per-layer timings name it
    kind: str
    ms: float  # the kernel's share of the estimate (scaled like the total's kernel part)
    fma: int
    fallback: bool  # predicted by the fallback model (a kind calibration never saw)


@dataclass(frozen=True)
class Estimate:
    ms: float
    low_ms: float
    high_ms: float
    overhead_ms: float  # per_run_ms + per_kernel_ms * kernels
    kernels: tuple[KernelEstimate, ...]
    setting: Setting
    model_uid: str
    model_created: str
    fingerprint: Fingerprint

    @property
    def fallback_share(self) -> float:
        """Fraction of the kernel time predicted by the fallback (kinds the calibration did not see)."""
        total = sum(k.ms for k in self.kernels) or 1.0
        return sum(k.ms for k in self.kernels if k.fallback) / total

    def to_json(self, per_layer: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "estimate_ms": self.ms,
            "low_ms": self.low_ms,
            "high_ms": self.high_ms,
            **self.setting.to_json(),
            "overhead_ms": self.overhead_ms,
            "fallback_share": self.fallback_share,
            "model": {
                "uid": self.model_uid,
                "created": self.model_created,
                "fingerprint": self.fingerprint.key,
                "machine": self.fingerprint.describe(),
            },
        }
        if per_layer:
            total_ms = sum(k.ms for k in self.kernels) or 1.0
            total_fma = sum(k.fma for k in self.kernels) or 1
            d["per_layer"] = [
                {
                    "first": k.first,
                    "last": k.last,
                    "type": k.label,
                    "kind": k.kind,
                    "ms": k.ms,
                    "time_share": k.ms / total_ms,
                    "fma": k.fma,
                    "fma_share": k.fma / total_fma,
                    "fallback": k.fallback,
                }
                for k in self.kernels
            ]
        return d


@dataclass(frozen=True)
class LatencyModel:
    setting: Setting
    fingerprint: Fingerprint
    kinds: dict[str, Regressor]
    fallback: Regressor
    network: NetworkTerms
    interval: tuple[float, float]  # measured / estimated: low and high quantiles over held-out designs
    metrics: dict[str, Any] = field(default_factory=dict)  # held-out errors, sample counts, calibration seconds
    uid: str = ""
    created: str = ""  # ISO 8601, UTC
    revision: int = RUNTIME_REVISION  # the runtime build it was calibrated against
    # reference designs (label, cfg text) from the calibration, which `calibrate --refresh` times again to bring
    # the model to the machine's present speed (runtime.calibrate.refresh)
    anchors: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "setting": self.setting.to_json(),
            "fingerprint": self.fingerprint.to_json(),
            "kinds": {k: r.to_json() for k, r in sorted(self.kinds.items())},
            "fallback": self.fallback.to_json(),
            "network": vars(self.network).copy(),
            "interval": list(self.interval),
            "metrics": self.metrics,
            "uid": self.uid,
            "created": self.created,
            "runtime_revision": self.revision,
            "anchors": [{"label": label, "cfg": cfg} for label, cfg in self.anchors],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LatencyModel:
        if d.get("format") != FORMAT:
            raise ValueError(f"latency model format {d.get('format')!r}; this version reads format {FORMAT}")
        revision = int(d.get("runtime_revision", 1))  # models from before the field: revision 1
        if revision != RUNTIME_REVISION:
            raise ValueError(
                f"calibrated against runtime revision {revision}; this version builds and times networks as "
                f"revision {RUNTIME_REVISION}, so its kernel costs no longer apply"
            )
        return cls(
            Setting.from_json(d["setting"]),
            Fingerprint.from_json(d["fingerprint"]),
            {k: Regressor.from_json(r) for k, r in d["kinds"].items()},
            Regressor.from_json(d["fallback"]),
            NetworkTerms(**d["network"]),
            (float(d["interval"][0]), float(d["interval"][1])),
            dict(d.get("metrics") or {}),
            str(d.get("uid", "")),
            str(d.get("created", "")),
            revision,
            tuple((str(a["label"]), str(a["cfg"])) for a in d.get("anchors") or ()),
        )

    @property
    def calibrated(self) -> str:
        """When the calibration behind this model was measured (ISO 8601, UTC): its own `created`, or for a
        refreshed model the original's."""
        return str(self.metrics.get("refresh", {}).get("calibrated", self.created))

    def dates(self) -> str:
        """'calibrated <UTC minute>', and for a refreshed model ', refreshed <UTC minute> (<level>x)': how the CLI and
        the app say where an estimate's model stands in time."""

        def minute(iso: str) -> str:
            return f"{iso[:16].replace('T', ' ')} UTC"

        r = self.metrics.get("refresh")
        return f"calibrated {minute(self.calibrated)}" + (
            f", refreshed {minute(r['at'])} ({r['level']:.2f}x)" if r else ""
        )

    def releveled(self, factor: float, refresh: dict[str, Any], *, uid: str, created: str) -> LatencyModel:
        """This model with every estimate (total, overhead and per-kernel shares alike) `factor` times as long: the
        machine measured `factor`x as slow as the model says on its reference designs. `refresh` says how it was
        measured (kept in metrics["refresh"], with the original calibration's time and the level since it);
        the interval, a ratio, stays as it is."""
        if not (factor > 0 and np.isfinite(factor)):
            raise ValueError(f"a refresh factor must be a positive number, got {factor!r}")
        t = self.network
        before = self.metrics.get("refresh", {})
        metrics = {
            **self.metrics,
            "refresh": {
                **refresh,
                "at": created,
                "factor": factor,
                "level": float(before.get("level", 1.0)) * factor,  # against the calibration itself
                "calibrated": self.calibrated,
                "from_uid": self.uid,
            },
        }
        terms = NetworkTerms(
            t.scale * factor, t.per_run_ms * factor, t.per_kernel_ms * factor, t.per_mweights_ms * factor
        )
        return replace(self, network=terms, metrics=metrics, uid=uid, created=created)

    def kernels_of(
        self, network: Network, shapes: tuple[Shape, ...] | None = None, cost: Cost | None = None
    ) -> tuple[Kernel, ...]:
        return network_kernels(network, self.setting, shapes, cost)

    def predict_kernels(self, ks: tuple[Kernel, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Milliseconds per kernel (before the network terms) and whether the fallback predicted it."""
        ms = np.zeros(len(ks))
        fb = np.zeros(len(ks), dtype=bool)
        by_kind: dict[str, list[int]] = {}
        for i, k in enumerate(ks):
            by_kind.setdefault(k.kind, []).append(i)
        for kind, idx in by_kind.items():
            reg = self.kinds.get(kind)
            if reg is None:
                reg = self.fallback
                fb[idx] = True
            ms[idx] = reg.predict(np.array([ks[i].features for i in idx]))
        return ms, fb

    def estimate(self, network: Network, shapes: tuple[Shape, ...] | None = None, cost: Cost | None = None) -> Estimate:
        """The network's estimated latency in ms for the model's setting, with its interval and per kernel."""
        ks = self.kernels_of(network, shapes, cost)
        ms, fb = self.predict_kernels(ks)
        t = self.network
        part = t.kernel_part(ms, kernel_mweights(ks))
        overhead = t.overhead(len(ks))
        total = float(part.sum() + overhead)
        rows = tuple(
            KernelEstimate(k.first, k.last, k.label, k.kind, float(p), k.fma, bool(f)) for k, p, f in zip(ks, part, fb)
        )
        lo, hi = self.interval
        return Estimate(
            total, total * lo, total * hi, overhead, rows, self.setting, self.uid, self.created, self.fingerprint
        )


def kernel_mweights(ks: tuple[Kernel, ...]) -> np.ndarray:
    """Each kernel's weights in millions (its `weights` feature): what NetworkTerms.per_mweights_ms multiplies."""
    i = FEATURES.index("weights")
    return np.array([k.features[i] for k in ks], dtype=float) / 1e6


def network_kernels(
    network: Network, setting: Setting, shapes: tuple[Shape, ...] | None = None, cost: Cost | None = None
) -> tuple[Kernel, ...]:
    """The kernels `setting`'s runtime runs for `network` (runtime.bench, runtime.train_step, the ONNX backends)."""
    if shapes is None:
        shapes = infer_shapes(network)
    if cost is None:
        cost = count(network, shapes)
    upto = None
    if setting.mode == "train" and any(L.type == "softmax" for L in network.layers):
        from designer.edits import logits_index

        upto = logits_index(network)  # runtime.train_step runs the model up to the logits
    return kernels(network, shapes, cost, fused=setting.fused, batch=setting.batch, backend=setting.backend, upto=upto)
