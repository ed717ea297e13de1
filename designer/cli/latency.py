"""`mixdesign calibrate` (measure this machine, fit a latency model, store it in the workspace) and
`mixdesign estimate SOURCE` (a network's latency from that model in well under a second, with its interval).

Both name a setting the same way: --backend --device --threads --batch --dtype --mode (designer.latency.setting).
`estimate` is torch-free; `calibrate` loads the runtime when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from designer.cli.record import add_workspace_argument, workspace_of
from designer.latency.setting import BACKENDS, DEFAULT_BUDGET_S, DTYPES, MODES, REFRESH_BUDGET_S, SettingOptions
from designer.options import add_device, add_overrides, add_source, network_of, overrides


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {v}")
    return v


def _sizes(text: str) -> tuple[int, ...]:
    from designer.limits import value_problem

    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated integers, got {text!r}") from None
    for v in sizes:
        problem = value_problem("size", v)
        if problem:
            raise argparse.ArgumentTypeError(f"--sizes {v}: {problem}")
    if not sizes:
        raise argparse.ArgumentTypeError("--sizes needs at least one size")
    return sizes


def add_setting(p: argparse.ArgumentParser) -> None:
    """The setting a latency model is for (calibrate and estimate read it alike)."""
    from designer.machine import usable_cores

    g = p.add_argument_group("setting (a model answers for exactly one)")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="torch (optimised build), or the exported ONNX model in onnxruntime / OpenVINO",
    )
    add_device(g)
    g.add_argument(
        "--threads",
        type=_positive,
        help=f"CPU threads (default: OMP_NUM_THREADS, else every usable core: {usable_cores()} here)",
    )
    g.add_argument("--batch", type=_positive, default=1, help="images per inference or training step")
    g.add_argument("--dtype", choices=DTYPES, default="fp32")
    g.add_argument(
        "--mode",
        choices=MODES,
        default="infer",
        help="infer: one forward pass; train: one training step (torch, plain build)",
    )


def setting_from_args(args: argparse.Namespace) -> SettingOptions:
    """The setting options as designer.api.calibrate / estimate take them."""
    return SettingOptions(
        backend=args.backend,
        device=args.device,
        threads=args.threads,
        batch=args.batch,
        dtype=args.dtype,
        mode=args.mode,
    )


# ------------------------------------------------------------------ calibrate


def cmd_calibrate(args: argparse.Namespace) -> int:
    from designer.api import calibrate

    if args.refresh:
        return _refresh(args)
    done = calibrate(
        **setting_from_args(args),
        budget_s=DEFAULT_BUDGET_S if args.budget is None else args.budget,
        seed=args.seed,
        sizes=args.sizes,
        progress=not args.quiet,
        workspace=workspace_of(args),
    )
    model, setting, where = done.model, done.model.setting, done.stored_in
    m = model.metrics
    print(
        f"calibrated {setting.describe()} on {model.fingerprint.describe()} in {m['calibration_s']:.0f} s: "
        f"{m['designs']} designs, {m['kernels']} kernels"
    )
    print(
        f"held-out designs: {m['held_out_within_10pct']:.0%} within +-10%, median error "
        f"{m['held_out_median_abs_pct']:.1f}%; interval {model.interval[0]:.2f}x-{model.interval[1]:.2f}x "
        "of an estimate"
    )
    print(f"stored in {where} as latency model {model.uid}")
    return 0


def _refresh(args: argparse.Namespace) -> int:
    """`calibrate --refresh`: re-time the newest model's reference designs and store it re-levelled."""
    from designer.api import refresh
    from designer.errors import MixdesignError

    if args.sizes is not None or args.seed != 0:
        raise MixdesignError("--refresh times the model's own reference designs: leave out --sizes and --seed")
    done = refresh(
        **setting_from_args(args), budget_s=args.budget, progress=not args.quiet, workspace=workspace_of(args)
    )
    r = done.model.metrics["refresh"]
    low, high = r["spread"]
    print(
        f"refreshed latency model {done.previous.uid[:8]} ({done.model.setting.describe()}) in {r['seconds']:.0f} s: "
        f"this machine now takes {r['factor']:.2f}x what the model estimated ({r['references']} reference designs "
        f"over {r['rounds']} rounds, {low:.2f}x-{high:.2f}x); {r['level']:.2f}x its calibration of {r['calibrated']}"
    )
    print(f"stored in {done.stored_in} as latency model {done.model.uid}")
    return 0


# ------------------------------------------------------------------ estimate


def cmd_estimate(args: argparse.Namespace) -> int:
    from designer.api import estimate

    network = network_of(args.source, **overrides(args))
    found = estimate(network, **setting_from_args(args), workspace=workspace_of(args))
    e, model, setting, cost = found.estimate, found.model, found.setting, found.cost
    if args.json:
        d = e.to_json(per_layer=args.per_layer)
        d["source"] = args.source
        d["fma"] = cost.fma * setting.batch
        print(json.dumps(d, indent=1))
        return 0
    m = model.metrics
    print(
        f"{args.source}: estimated {e.ms:.2f} ms ({e.low_ms:.2f}-{e.high_ms:.2f} ms) per "
        f"{'inference' if setting.mode == 'infer' else 'training step'} | {setting.describe()}"
    )
    print(
        f"model {model.uid[:8]}, {model.dates()} on this machine ({model.fingerprint.describe()}): "
        f"{m.get('designs')} designs, held-out {m.get('held_out_within_10pct', 0):.0%} within +-10%"
    )
    if e.fallback_share > 0:
        kinds = sorted({k.kind for k in e.kernels if k.fallback})
        print(
            f"note: {e.fallback_share:.0%} of the kernel time is from kinds calibration never measured "
            f"({', '.join(kinds)}): predicted by the fallback model, less certain than the interval says",
            file=sys.stderr,
        )
    if args.per_layer:
        rows = sorted(e.kernels, key=lambda k: -k.ms)
        total_ms = sum(k.ms for k in e.kernels) or 1.0
        total_fma = sum(k.fma for k in e.kernels) or 1
        print(
            f"\nslowest kernels (estimated time share vs FMA share; {e.overhead_ms:.3f} ms runtime overhead "
            "not in any):"
        )
        print(f"{'layers':>9}  {'type':<15}  {'est ms':>8}  {'time':>6}  {'FMA':>6}")
        for k in rows[: args.top]:
            span = str(k.first) if k.first == k.last else f"{k.first}-{k.last}"
            print(
                f"{span:>9}  {k.label:<15}  {k.ms:>8.3f}  {k.ms / total_ms:>6.1%}  {k.fma / total_fma:>6.1%}"
                f"{'  (fallback)' if k.fallback else ''}"
            )
    return 0


def register(subparsers) -> None:
    """Add `calibrate` and `estimate` to the mixdesign CLI (called by designer/cli/main.py)."""
    s = subparsers.add_parser(
        "calibrate", help="measure this machine and fit a latency model for one setting (stored in the workspace)"
    )
    add_setting(s)
    s.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help=f"about how long to measure (default {DEFAULT_BUDGET_S:.0f}; at least 3 designs are measured whatever "
        f"it says: 15-45 s on a 2-core CPU; with --refresh, default {REFRESH_BUDGET_S:.0f})",
    )
    s.add_argument(
        "--refresh",
        action="store_true",
        help="time the newest model's reference designs again (seconds) and re-level it to this machine's present "
        "speed, instead of calibrating anew",
    )
    s.add_argument(
        "--sizes",
        type=_sizes,
        metavar="N,N,...",
        help="input sizes of the designs measured, e.g. 224 when all your designs take 224 pixels "
        "(default: the sweep's 96-224; small sizes make a quick calibration)",
    )
    s.add_argument("--seed", type=int, default=0, help="which random designs are measured")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    add_workspace_argument(s)
    s.set_defaults(func=cmd_calibrate)

    s = subparsers.add_parser(
        "estimate",
        help="estimated latency of a cfg, design or preset from this machine's "
        "latency model (mixdesign calibrate makes it)",
    )
    add_source(s)
    add_setting(s)
    s.add_argument("--per-layer", action="store_true", help="each kernel's estimated time share next to its FMA share")
    s.add_argument("--top", type=_positive, default=15, help="kernels shown with --per-layer")
    s.add_argument("--json", action="store_true", help="one JSON object")
    add_overrides(s)
    add_workspace_argument(s)
    s.set_defaults(func=cmd_estimate)
