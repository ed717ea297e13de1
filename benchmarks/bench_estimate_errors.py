"""Where does the latency model's error on an unseen design come from: its kernels, or the whole pass around them?

bench_estimate says how far each estimate is from a measurement; this says which part of the model is off. Per
backend: calibrate as `mixdesign calibrate` does (runtime.calibrate.calibrate_samples, --budget seconds), then
measure unseen MixNet-family designs the way calibration measures its own (runtime.calibrate.collect: every
kernel's time and the whole pass, levelled by a reference design), and split each design's error in two:

- kernels: the model's kernel predictions summed, against the design's kernels as measured (before any network
  term);
- network: the model's network terms applied to the *measured* kernels, against the measured whole pass, that is
  the estimate the model would give if it knew every kernel's time.

Then each kernel kind's predicted / measured time over all unseen designs, and how the whole pass / kernel-sum
ratio varies between designs. With onnxruntime and OpenVINO a kernel's measured time is its share of the whole
pass (their profilers' per-node times, scaled to the pass), so there the network part is the scale alone and
every error is a kernel error.

    python benchmarks/bench_estimate_errors.py                          # torch and OpenVINO, 1 thread, 240 s each
    python benchmarks/bench_estimate_errors.py --backends torch --budget 60 --designs 8 --out /tmp/errors.txt

The results file (benchmarks/results/bench_estimate_errors_cpu.txt unless --out) states the machine and the load
average before and after. Run it alone: a busy host shows up as kernel noise.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from designer.files import atomic_write_text  # noqa: E402
from designer.latency.model import LatencyModel, kernel_mweights  # noqa: E402
from designer.latency.sampling import random_designs  # noqa: E402
from designer.latency.setting import Setting  # noqa: E402
from designer.machine import fingerprint  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "bench_estimate_errors_cpu.txt"
LABEL_CHARS = 110


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def within(errors: np.ndarray, bound: float = 0.10) -> str:
    return f"{np.mean(np.abs(errors) <= bound):4.0%}"


def split_errors(model: LatencyModel, samples: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per design: the estimate's error, the kernel sum's error and the network terms' error (on measured
    kernels), all as estimate / measured - 1; and each design's kernel predictions."""
    t = model.network
    est, kern, net, preds = [], [], [], []
    for s in samples:
        pred, _ = model.predict_kernels(s.kernels)
        measured = np.asarray(s.kernel_ms, dtype=float)
        mweights, count = kernel_mweights(s.kernels).sum(), len(s.kernels)
        est.append(t.total(pred.sum(), mweights, count) / s.total_ms - 1.0)
        kern.append(pred.sum() / max(measured.sum(), 1e-9) - 1.0)
        net.append(t.total(measured.sum(), mweights, count) / s.total_ms - 1.0)
        preds.append(pred)
    return np.array(est), np.array(kern), np.array(net), preds


def one_backend(backend: str, args: argparse.Namespace, lines: list[str]) -> None:
    from runtime.bench import timing_threads
    from runtime.calibrate import calibrate_samples, collect

    setting = Setting.make(backend=backend, threads=args.threads)
    lines.append(f"\n## {setting.describe()}")
    t0 = time.perf_counter()
    with timing_threads(setting.batch, setting.threads):
        model, calibration = calibrate_samples(setting, budget_s=args.budget, seed=0, progress=not args.quiet)
        seen = frozenset(s.label for s in calibration)
        unseen = [
            (label, net) for label, _, net in itertools.islice(random_designs(args.seed, exclude=seen), args.designs)
        ]
        t1 = time.perf_counter()
        samples = collect(setting, designs=iter(unseen), budget_s=1e9, progress=False)  # all of them
    m = model.metrics
    t = model.network
    lines.append(
        f"calibration: {t1 - t0:.0f} s, {len(calibration)} designs, {m['slowed_designs']} of them slowed by the host "
        f"(designer.latency.fit._slow_spells); network terms: scale {t.scale:.3f}, per run {t.per_run_ms:.3f} ms, "
        f"per kernel {t.per_kernel_ms:.4f} ms, per million weights {t.per_mweights_ms:.3f} ms"
    )
    lines.append(f"unseen designs measured per kernel: {len(samples)} in {time.perf_counter() - t1:.0f} s")
    est, kern, net, preds = split_errors(model, samples)
    lines.append(
        f"within +-10 %: estimate {within(est)}, kernel sum {within(kern)}, network terms on measured kernels "
        f"{within(net)}; median |error| {100 * np.median(np.abs(est)):.1f} / {100 * np.median(np.abs(kern)):.1f} / "
        f"{100 * np.median(np.abs(net)):.1f} %"
    )
    if np.std(net) > 1e-9:
        lines.append(
            f"correlation with the estimate's error: kernel sum's {np.corrcoef(kern, est)[0, 1]:+.2f}, network "
            f"terms' {np.corrcoef(net, est)[0, 1]:+.2f}; with each other {np.corrcoef(kern, net)[0, 1]:+.2f} (a "
            "kernel timed slow while the pass was not shows as opposite errors that cancel in the estimate)"
        )
    else:
        lines.append("network terms' error is the same for every design: the kernels are shares of the pass")
    ratio = np.array([s.total_ms / max(sum(s.kernel_ms), 1e-9) for s in samples])
    per_ms = np.array(
        [kernel_mweights(s.kernels).sum() / max(sum(s.kernel_ms), 1e-9) for s in samples]
    )  # million weights per kernel-ms
    q = np.quantile(ratio, [0.1, 0.5, 0.9])
    lines.append(
        f"whole pass / kernel sum: median {q[1]:.3f}, 10-90 % {q[0]:.3f}-{q[2]:.3f}; its correlation with million "
        f"weights per kernel-ms {np.corrcoef(ratio, per_ms)[0, 1]:+.2f}"
        if np.std(ratio) > 1e-9
        else f"whole pass / kernel sum: {q[1]:.3f} for every design"
    )
    lines.append("per kernel kind over the unseen designs (kernels the backend fused away left out):")
    lines.append(f"  {'kind':16s} {'kernels':>7s} {'time':>6s} {'pred/meas':>9s} {'median':>7s} {'quartiles':>15s}")
    kinds = np.array([k.kind for s in samples for k in s.kernels])
    measured = np.array([ms for s in samples for ms in s.kernel_ms], dtype=float)
    predicted = np.concatenate(preds)
    live = measured > 0
    for kind in sorted(set(kinds[live].tolist()), key=lambda k: -measured[kinds == k].sum()):
        sel = live & (kinds == kind)
        r = predicted[sel] / measured[sel] - 1.0
        q1, q2, q3 = np.quantile(r, [0.25, 0.5, 0.75])
        lines.append(
            f"  {kind:16s} {int(sel.sum()):7d} {measured[sel].sum() / measured[live].sum():6.1%} "
            f"{predicted[sel].sum() / measured[sel].sum():9.3f} {q2:+7.1%} {q1:+7.1%}..{q3:+6.1%}"
        )
    lines.append("per design, sorted by the estimate's error (each as estimate / measured - 1):")
    lines.append(f"  {'estimate':>8s} {'kernels':>8s} {'network':>8s} {'pass ms':>8s} {'pass/kern':>9s}  design")
    for i in np.argsort(est):
        s = samples[i]
        flag = " *" if abs(est[i]) > 0.10 else ""
        lines.append(
            f"  {est[i]:+8.1%} {kern[i]:+8.1%} {net[i]:+8.1%} {s.total_ms:8.2f} {ratio[i]:9.3f}  "
            f"{s.label[:LABEL_CHARS]}{flag}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="torch,openvino")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=240.0, help="seconds of calibration per backend (default 240)")
    ap.add_argument("--designs", type=int, default=40, help="unseen MixNet-family designs (default 40)")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the unseen designs (calibration uses 0)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    argv = " ".join(sys.argv[1:])
    lines = [
        f"# bench_estimate_errors {argv}".rstrip(),
        f"date {datetime.now(timezone.utc).isoformat(timespec='seconds')}; machine {fingerprint('cpu').describe()}",
        f"load average before: {load()}",
        "* : an estimate more than 10 % off",
    ]
    start = time.perf_counter()
    for backend in args.backends.split(","):
        one_backend(backend.strip(), args, lines)
    lines.append(f"\nload average after: {load()}; whole run {time.perf_counter() - start:.0f} s")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
