"""`mixdesign sweep`: measure a grid (or random samples) of variants of a design and mark the Pareto front.

designer/cli/main.py calls `register(subparsers)`. Every trial is recorded in the trial store as it finishes
(default: the workspace, designer/explore/workspace_store.py; or a JSON-lines file: --store / $MIXDESIGN_SWEEPS), so rerunning the same
command resumes and Ctrl-C loses nothing finished. torch loads only when the first timed trial runs.

`--measure estimate` screens the space with this machine's latency model (milliseconds per design, no torch
build; no model for this machine and setting: one line naming the `mixdesign calibrate` command, exit 2), and
`--confirm K` then measures the K best estimated designs on the estimate's front and prints estimate against
measurement (designer/explore/estimate.py).

A design that fails to measure (a MixdesignError: too little memory, a batch the network refuses) is recorded as
a failed trial and the sweep goes on; the failures are listed at the end and the exit code is 1. A rerun does not
measure a failed trial again unless --retry-failed. Trials the runtime flags unstable are measured once more at
the end (extra rounds). Exit codes: 0 every trial measured, 1 some trials failed, 2 a user error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from designer.api.sweep import confirm_planned, design_of, run_planned
from designer.backends import BACKEND_LABELS
from designer.cli.record import add_workspace_argument, workspace_of
from designer.commands import EXIT_USER_ERROR
from designer.explore import output
from designer.explore.runner import ESTIMATE, KINDS, TIMED, Progress, Settings, SweepError
from designer.explore.space import AXES, ROW_AXES, parse_axes, space_size
from designer.explore.store import ENV_PATH, JsonlStore, TrialStore
from designer.explore.sweep import SweepPlan, failures, plan_sweep, summary
from designer.options import add_device, add_out, add_source, add_threads

if TYPE_CHECKING:
    from designer.latency.model import LatencyModel

EXIT_SOME_FAILED = 1
UNSTABLE_FIX = (
    "an unstable figure rests on a noisy machine: rerun the sweep when fewer cores are busy, or with "
    "a longer --min-run-time (the sweep already re-measured each unstable trial once)"
)


def _measure(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"--measure takes a comma-separated list of {','.join(KINDS)}, got {text!r}")
    return kinds


@contextlib.contextmanager
def _progress_bar(total_hint: int, disable: bool) -> Iterator[Progress]:
    """A tqdm bar on stderr for the duration of the block, fed by the Progress callback it yields."""
    from tqdm import tqdm

    bar = tqdm(total=total_hint, unit="trial", file=sys.stderr, dynamic_ncols=True, leave=False, disable=disable)
    started = [False]

    def on_progress(done: int, total: int, message: str) -> None:
        if not started[0]:  # trials already in the store start the bar: the ETA counts only what runs now
            bar.reset(total=total)
            bar.initial = bar.n = bar.last_print_n = done
            bar.refresh()
            started[0] = True
        if done > bar.n:
            bar.update(done - bar.n)
        if message:
            bar.set_description_str(message[:60])

    try:
        yield on_progress
    finally:
        bar.close()


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a positive integer, got {text!r}")
    return n


def _store(args: argparse.Namespace) -> TrialStore:
    """The workspace (--workspace, $MIXDESIGN_WORKSPACE or the default), unless a JSON-lines trial file is named
    (--store or $MIXDESIGN_SWEEPS)."""
    if args.store or os.environ.get(ENV_PATH):
        return JsonlStore(args.store)
    from designer.api.sweep import trial_store

    return trial_store(workspace_of(args))


def _settings(args: argparse.Namespace) -> tuple[Settings, LatencyModel | None]:
    """The sweep's settings and, when it estimates, this machine's latency model for them (none: NoLatencyModel,
    one line naming the calibrate command)."""
    settings = Settings(
        measure=args.measure,
        device=args.device,
        backend=args.backend,
        batch=args.batch,
        train_batch=args.train_batch,
        dtype=args.dtype,
        threads=args.threads,
        rounds=args.rounds,
        min_run_time=args.min_run_time,
        data=args.data,
        epochs=args.epochs,
        train_size=args.train_size,
    )
    if args.confirm and ESTIMATE not in settings.measure:
        raise SweepError(f"--confirm {args.confirm} measures the best estimated designs: add estimate to --measure")
    if ESTIMATE not in settings.measure:
        return settings, None
    from designer.api.workspace import opened
    from designer.explore.estimate import with_latency_model

    with opened(workspace_of(args)) as ws:
        return with_latency_model(settings, workspace=ws)


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        base = design_of(args.source)
        axes = parse_axes(args.vary, base)
        settings, model = _settings(args)
        plan = plan_sweep(base, axes, settings, samples=args.samples, seed=args.seed)
        store = _store(args)
        _print_plan(plan, axes, store, args)
        with _progress_bar(len(plan.trials), args.no_progress) as on_progress:
            rows = run_planned(
                plan,
                store,
                ray_address=args.ray,
                on_progress=on_progress,
                retry_failed=args.retry_failed,
                tune_allocator=True,  # this process only measures (as mixdesign bench does)
                latency_model=model,
            )
        confirmed = None
        if args.confirm:
            with _progress_bar(0, args.no_progress) as on_progress:
                confirmed = confirm_planned(plan, store, args.confirm, ray_address=args.ray, on_progress=on_progress)
            rows = summary(plan, store)
        failed = failures(plan, store) + (failures(confirmed, store) if confirmed is not None else [])
    except KeyboardInterrupt:
        print("interrupted: the finished trials are in the store; rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as e:  # MixdesignError: designer.commands.run_command (main) prints it
        print(f"mixdesign sweep: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    _print(rows, [a.key for a in axes], plan, settings, args)
    if model is not None:
        _print_estimates(rows, model, confirmed, asked=args.confirm)
    return _finish(rows, plan, failed, args)


def _print_plan(plan: SweepPlan, axes, store: TrialStore, args: argparse.Namespace) -> None:
    n_points = len(plan.designs) + sum(len(d.also) for d in plan.designs) + len(plan.invalid)
    print(
        f"sweep {plan.sweep_id}: {args.source}, {n_points} of {space_size(axes)} points "
        f"({'grid' if not args.samples else f'{args.samples} samples, seed {args.seed}'}): "
        f"{len(plan.designs)} distinct designs, {len(plan.invalid)} invalid; {len(plan.trials)} trials "
        f"({_what(plan.settings)}); machine {plan.machine.key} ({plan.machine.describe()}); store {store.path}",
        file=sys.stderr,
    )


def _finish(rows: list[dict], plan: SweepPlan, failed: list, args: argparse.Namespace) -> int:
    """Write --out, list the failed trials; the exit code."""
    if args.out:
        try:
            output.write(args.out, rows, {"sweep_id": plan.sweep_id, **plan.spec})
        except OSError as e:
            print(f"mixdesign sweep: error: {args.out}: {e.strerror or e}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"wrote {args.out}: {len(rows)} rows")
    if failed:
        print(
            f"{len(failed)} trial(s) failed (recorded; a rerun skips them, --retry-failed measures them again):",
            file=sys.stderr,
        )
        for design, kind, rnd, message in failed:
            print(f"  {design}: {kind} round {rnd + 1}: {message}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


def _print_estimates(rows: list[dict], model: LatencyModel, confirmed: SweepPlan | None, *, asked: int) -> None:
    """Which model estimated, and with --confirm each confirmed design's estimate against its measurement."""
    from designer.cli.main import _print_table
    from designer.explore.estimate import checks, median_abs_error_pct

    m = model.metrics
    print(
        f"est. ms: estimated by latency model {model.uid[:8]} ({model.setting.describe()}), "
        f"{model.dates()} on this machine; held-out designs {m.get('held_out_within_10pct', 0):.0%} "
        "within +-10%"
    )
    if confirmed is None:
        return
    found = checks(rows, confirmed.designs)
    n = len(confirmed.designs)
    print(
        f"\nconfirmed {n} design{'s' if n != 1 else ''} of front:estimate, lowest estimates first (--confirm {asked}; "
        f"measured: median of {confirmed.settings.rounds} interleaved rounds, same setting):"
    )
    body = [(c.design, f"{c.estimate_ms:.3f}", f"{c.measured_ms:.3f}", f"{c.ratio:.2f}") for c in found]
    _print_table(("design", "estimated ms", "measured ms", "measured / estimated"), body)
    med = median_abs_error_pct(found)
    if med is not None:
        within = sum(abs(c.error_pct) <= 10 for c in found)
        print(
            f"median |error| {med:.1f}% over {len(found)} designs ({within} within +-10%; error = "
            "(estimated - measured) / measured)"
        )


def _what(settings: Settings) -> str:
    timed = [k for k in TIMED if k in settings.measure]
    parts = [f"an estimate each (latency model {settings.latency_model[:8]})"] if ESTIMATE in settings.measure else []
    parts += [f"{settings.rounds} rounds of {' and '.join(timed)}"] if timed else []
    if "accuracy" in settings.measure:
        parts.append(f"a {settings.epochs}-epoch quick-train on {settings.data} each")
    return "; ".join(parts) or "counts only"


def _print(rows: list[dict], axes: list[str], plan, settings: Settings, args: argparse.Namespace) -> None:
    from designer.cli.main import _print_table

    measured = [r for r in rows if r.get("device_name")]
    where = ""
    if measured:
        r0 = measured[0]
        where = (
            f" | {settings.device} ({r0['device_name']}), {r0['threads']} threads, {settings.dtype}, "
            f"inference backend {settings.backend} (optimised build), batch {settings.batch}; training step "
            f"torch plain build, batch {settings.train_batch}; median of {settings.rounds} interleaved rounds"
        )
    print(f"{args.source}: {len(rows)} points{where}")
    head, body = output.table_rows(rows, axes)
    _print_table(head, body, right=set(range(len(axes), len(head) - 1)))
    from designer.explore.runner import fronts

    for name, keys in fronts(settings).items():
        print(
            f"front:{name} * = on the Pareto front over ({', '.join(keys)}): no other design is at least as good "
            "on all of them and better on one (accuracy maximised, the rest minimised)"
        )
    if any(r.get(f"{k}_unstable") for r in rows for k in ("infer", "train")):
        print(f"unstable: {UNSTABLE_FIX}")
    if plan.remeasured:
        print(f"{plan.remeasured} unstable trial(s) measured again as extra rounds")
    if plan.trial_s:
        print(
            f"measured {plan.measured} trials in {plan.elapsed_s:.1f} s: {statistics.median(plan.trial_s):.2f} s "
            f"per trial (median; includes building the model and warm-up)"
        )
    if plan.estimated:
        print(f"estimated {plan.estimated} designs in {plan.estimate_s:.1f} s (no torch build)")
    skipped = len(plan.trials) - plan.estimated - (plan.measured - plan.remeasured)  # re-measurements: extra rounds
    if skipped:
        print(f"{skipped} trials came from the store (an earlier run of this sweep)")


def register(subparsers) -> None:
    """Add `sweep` to the mixdesign CLI (called by designer/cli/main.py)."""
    keys = ", ".join([*AXES, *(f"rowN.{k}" for k in ROW_AXES)])
    s = subparsers.add_parser(
        "sweep",
        help="measure a grid or random samples of design variants; Pareto front",
        description=__doc__.splitlines()[0],
    )
    add_source(s)
    s.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="KEY=VALUES",
        help=f"an axis, repeatable; keys: {keys} (e.g. width-mult=0.75,1.0 or row3.kernels=3.5.7.9|3.5|3)",
    )
    s.add_argument(
        "--measure",
        type=_measure,
        default=("count", "infer"),
        help=f"comma-separated, from {','.join(KINDS)} (default: count,infer); estimate: inference latency from "
        "this machine's latency model (mixdesign calibrate), milliseconds per design",
    )
    s.add_argument(
        "--backend",
        choices=tuple(BACKEND_LABELS),
        default="torch",
        help="inference backend (default: torch; training is always torch)",
    )
    add_device(s)
    s.add_argument("--batch", type=_positive, default=1, help="inference batch (default: 1)")
    s.add_argument("--train-batch", type=_positive, default=8, help="training-step batch (default: 8)")
    s.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32", help="default: fp32")
    add_threads(s, "CPU threads")
    s.add_argument("--samples", type=_positive, help="N random points instead of the whole grid")
    s.add_argument("--seed", type=int, default=0, help="seed of --samples (default: 0)")
    s.add_argument("--rounds", type=_positive, default=3, help="interleaved timing rounds (default: 3)")
    s.add_argument("--min-run-time", type=float, default=0.5, help="timed seconds per trial (default: 0.5)")
    s.add_argument(
        "--confirm",
        type=_positive,
        metavar="K",
        help="with --measure estimate: measure the K designs on the estimate's Pareto front with the lowest "
        "estimates (inference, --rounds interleaved rounds) and print estimate against measurement",
    )
    s.add_argument("--data", default="digits", help="accuracy: quick-train data (default: digits)")
    s.add_argument("--epochs", type=_positive, default=1, help="accuracy: quick-train epochs (default: 1)")
    s.add_argument("--train-size", type=_positive, default=32, help="accuracy: quick-train input size (default: 32)")
    add_out(s, help="write the table as .csv or .json", metavar="FILE.csv|FILE.json")
    s.add_argument(
        "--store",
        metavar="FILE.jsonl",
        help="keep the trials in this JSON-lines file instead of the workspace (default: $MIXDESIGN_SWEEPS "
        "when set, else the workspace)",
    )
    add_workspace_argument(s)
    s.add_argument(
        "--ray", metavar="ADDRESS", help="run trials as Ray tasks there ('auto', 'ray://host:10001', or 'local')"
    )
    s.add_argument(
        "--retry-failed",
        action="store_true",
        help="measure again the trials an earlier run recorded as failed (default: keep the failure)",
    )
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
