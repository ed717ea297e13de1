"""What carries a whole pass beyond its kernels timed alone? The evidence for the latency model's network terms.

Calibrate as `mixdesign calibrate` does (runtime.calibrate.calibrate_samples, --budget seconds, torch unless
--backend), then per design take its whole pass and the sum of its kernels as measured, so that no kernel model's
error enters: the pass / kernel-sum ratio, its correlation with per-design quantities (kernels, weights,
activations, FMA, each per kernel-millisecond), and leave-one-out fits of the network terms in the form
designer.latency.fit uses (non-negative least relative squares) with and without the per-weight term: the fraction
of designs within +-10 % and the median error. Last, the terms designer.latency.fit.fit_model fits on the same
samples (on held-out kernel predictions, as a stored model has them).

    python benchmarks/bench_network_terms.py                       # torch, 1 thread, 300 s of calibration
    python benchmarks/bench_network_terms.py --budget 60 --out /tmp/terms.txt

The results file (benchmarks/results/bench_network_terms_cpu.txt unless --out) states the machine and the load
average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from designer.files import atomic_write_text  # noqa: E402
from designer.latency.fit import fit_model  # noqa: E402
from designer.latency.kernels import FEATURES  # noqa: E402
from designer.latency.model import kernel_mweights  # noqa: E402
from designer.latency.setting import Setting  # noqa: E402
from designer.machine import fingerprint  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "bench_network_terms_cpu.txt"


def loo(columns: list[np.ndarray], totals: np.ndarray) -> np.ndarray:
    """Each design's relative error when the terms are fitted on all the other designs."""
    from scipy.optimize import nnls

    A = np.column_stack(columns) / totals[:, None]
    errors = np.zeros(len(totals))
    for i in range(len(totals)):
        rest = np.arange(len(totals)) != i
        coef, _ = nnls(A[rest], np.ones(int(rest.sum())))
        errors[i] = A[i] @ coef - 1.0
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="torch", choices=("torch", "onnxruntime", "openvino"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=300.0, help="seconds of calibration (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    from runtime.bench import timing_threads
    from runtime.calibrate import calibrate_samples

    setting = Setting.make(backend=args.backend, threads=args.threads)
    machine = fingerprint("cpu")
    lines = [
        f"# bench_network_terms --backend {args.backend} --threads {args.threads} --budget {args.budget:g}",
        f"date {datetime.now(timezone.utc).isoformat(timespec='seconds')}; machine {machine.describe()}",
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    t0 = time.perf_counter()
    with timing_threads(setting.batch, setting.threads):
        _, samples = calibrate_samples(setting, budget_s=args.budget, seed=args.seed)
    lines.append(f"calibration: {time.perf_counter() - t0:.0f} s, {len(samples)} designs ({setting.describe()})")

    fi = {name: i for i, name in enumerate(FEATURES)}
    totals = np.array([s.total_ms for s in samples])
    sums = np.array([sum(s.kernel_ms) for s in samples])
    feats = [np.array([k.features for k in s.kernels]) for s in samples]
    kernels = np.array([len(s.kernels) for s in samples], dtype=float)
    mweights = np.array([kernel_mweights(s.kernels).sum() for s in samples])  # what the fit and estimate use
    mio = np.array([(f[:, fi["in"]].sum() + f[:, fi["out"]].sum()) / 1e6 for f in feats])
    gfma = np.array([f[:, fi["fma"]].sum() / 1e9 for f in feats])
    ratio = totals / sums
    q1, q3 = np.quantile(ratio, [0.25, 0.75])
    lines.append(
        f"whole pass / sum of its kernels timed alone: median {np.median(ratio):.3f}, quartiles {q1:.3f}-{q3:.3f}, "
        f"range {ratio.min():.3f}-{ratio.max():.3f}"
    )
    lines.append("correlation of that ratio with (per design):")
    for name, v in (
        ("kernels", kernels),
        ("million weights", mweights),
        ("million activations read + written", mio),
        ("GFMA", gfma),
        ("kernels per kernel-ms", kernels / sums),
        ("million weights per kernel-ms", mweights / sums),
        ("million activations per kernel-ms", mio / sums),
    ):
        lines.append(f"  {name:36s} {np.corrcoef(ratio, v)[0, 1]:+.2f}")
    lines.append(
        "network terms fitted leave-one-out on the measured kernel sums (total ~ terms, least relative squares):"
    )
    one = np.ones(len(totals))
    for label, cols in (
        ("scale, per run, per kernel", [sums, one, kernels]),
        ("+ per million weights", [sums, one, kernels, mweights]),
        ("+ per million activations", [sums, one, kernels, mio]),
        ("+ both", [sums, one, kernels, mweights, mio]),
    ):
        e = np.abs(loo(cols, totals))
        lines.append(
            f"  {label:30s} {np.mean(e <= 0.10):4.0%} within +-10 %, {np.mean(e <= 0.05):4.0%} within +-5 %, "
            f"median {100 * np.median(e):.1f} %"
        )
    model = fit_model(samples, setting, machine, seconds=0.0)
    t = model.network
    lines.append(
        f"fit_model's terms (on held-out kernel predictions): scale {t.scale:.3f}, per run {t.per_run_ms:.3f} ms, "
        f"per kernel {t.per_kernel_ms:.4f} ms, per million weights {t.per_mweights_ms:.3f} ms; held-out designs "
        f"{model.metrics['held_out_within_10pct']:.0%} within +-10 %, median "
        f"{model.metrics['held_out_median_abs_pct']:.1f} %"
    )
    lines.append(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
