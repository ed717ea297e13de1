"""Calibrate a latency model on this machine: measure the kernels of sampled designs, then fit.

`calibrate(setting, budget_s=...)` draws designs across the design space (designer.latency.sampling), measures
each with the runtime's own per-layer timing, the same code `mixdesign bench --per-layer` runs:
    torch inference     runtime.bench.measure(per_layer=True): each step of the optimised build timed alone
    onnxruntime         its profiler; OpenVINO: its performance counters (runtime.deploy.backends), node names
                        mapped back to darknet layers; time in unnamed nodes (inserted reorders) is overhead
    training step       runtime.train_step.measure_train_step(per_layer=True): forward + backward per layer
and the whole pass (the median of its calls, in rounds interleaved with the designs measured beside it:
measure_designs) for the network-level terms, until the budget is spent (a progress bar on stderr), then fits
designer.latency.fit.fit_model. A kernel the backend fused into a neighbour (OpenVINO folds some adds
and concatenations) is measured as 0 ms: its time is in the neighbour, as it will be for a new design.
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypedDict

from designer.ir import Network
from designer.latency.fit import DesignSample, choose_anchors, fit_model
from designer.latency.model import LatencyModel, network_kernels
from designer.latency.sampling import PLAIN_EVERY, random_designs, random_plain_net
from designer.latency.setting import DEFAULT_BUDGET_S, REFRESH_BUDGET_S, Setting
from designer.machine import fingerprint
from designer.shapes import infer_shapes

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

MIN_DESIGNS = 3  # measured whatever the budget: fewer cannot judge a model on held-out designs
MIN_RUN_TIME_S = 0.25  # per design: the whole pass, and the per-layer windows together
INTERLEAVE = 6  # designs measured together, their whole passes in interleaved rounds (measure_designs)
PASS_ROUNDS = 5  # interleaved rounds of the whole passes: a median of 5 round-normalised windows
REFERENCE = "reference"  # the key of collect's reference pass among a batch's timed passes


@dataclass(frozen=True)
class Level:
    """How fast the host ran while one batch was measured, as collect's reference design took it there: its whole
    pass (the median window of the batch's interleaved rounds, ms) and, where kernels are timed one by one rather
    than as shares of the pass (torch, training steps), the sum of its kernels timed amid the batch's
    per-layer timings (ms; None for the ONNX backends, whose kernels follow the pass)."""

    passes: float
    kernels: float | None = None


Progress = Callable[[float, str], None]  # (fraction of the budget spent, 0..1; what was measured so far)


def measure_design(
    network: Network, setting: Setting, *, label: str = "", min_run_time: float = MIN_RUN_TIME_S
) -> DesignSample:
    """One design's kernels with their measured ms, and its whole pass, in `setting` (measure_designs of one)."""
    return measure_designs([(label, network)], setting, min_run_time=min_run_time)[0][0]


def measure_designs(
    designs: list[tuple[str, Network]],
    setting: Setting,
    *,
    min_run_time: float = MIN_RUN_TIME_S,
    measured: Callable[[DesignSample], None] | None = None,
    reference: Timed | None = None,
) -> tuple[list[DesignSample], Level | None]:
    """Each design's kernels with their measured ms, and its whole pass, in `setting`, measured together: all
    built (build_timed); their whole passes in PASS_ROUNDS interleaved rounds of min_run_time / PASS_ROUNDS
    seconds per design, some before and the rest after each one's per-layer timings (_kernel_ms), so that those
    fall between them; each round divided by its host speed (round_normalised) and the median taken. `measured`
    hears each sample as its kernels are timed. `reference`, a built design (collect's, the same in every batch)
    timed with them, gives the second value, how fast the host ran while these designs were measured (Level;
    None without one): its whole pass in the rounds, and its kernels timed with the designs' own.

    Why together: a shared host runs 20-50 % slower for seconds at a time, and a design timed alone for a
    fraction of a second takes a whole spell into its total (and, with onnxruntime and OpenVINO, into every
    kernel, which are shares of the total). In interleaved rounds a spell falls on every design of the round
    alike, and the round's speed takes it out: the way bench_estimate measures its reference. The per-layer
    phase lies between rounds, seconds long, and a spell can fall on it and not on them (a calibration's
    batches have shown whole pass / kernel sum of 1.10 to 1.51 where 1.33 is usual, and the reference's own
    1.12 to 1.34 over one calibration: its pass 8.5-10.0 ms, its kernels 6.9-7.8 ms, not in step): hence the
    reference's kernels, timed amid the designs' own."""
    from runtime.bench import timing_threads

    cuda = setting.device.startswith("cuda")
    window = min_run_time / PASS_ROUNDS
    with timing_threads(setting.batch, setting.threads) as threads:
        shapes = [infer_shapes(net) for _, net in designs]
        built = [
            build_timed(net, setting, sh, warmup=1 if setting.mode == "train" else 3)
            for (_, net), sh in zip(designs, shapes)
        ]
        fns: dict[Any, Callable[[], object]] = {i: t.run for i, t in enumerate(built)}
        if reference is not None:
            fns[REFERENCE] = reference.run
        interleaved_ms(fns, 1, window, cuda=cuda)  # untimed: the first calls of a fresh build run slower
        before = interleaved_ms(fns, (PASS_ROUNDS + 1) // 2, window, cuda=cuda)
        first_ms = {i: statistics.median(before[i]) for i in range(len(built))}
        per_layer, reference_kernels = [], None
        for i, timed in enumerate(built):
            per_layer.append(_kernel_ms(timed, setting, threads, first_ms[i], min_run_time))
            if reference is not None and i == len(built) // 2 and not per_layer[-1][1]:  # timed alone, not shares
                ref = _kernel_ms(reference, setting, threads, statistics.median(before[REFERENCE]), min_run_time)
                reference_kernels = sum(ref[0].values())  # amid the designs' own: the phase's host speed
        after = interleaved_ms(fns, PASS_ROUNDS // 2, window, cuda=cuda) if PASS_ROUNDS > 1 else {}
        windows = {key: before[key] + after.get(key, []) for key in fns}
        totals = {key: statistics.median(w) for key, w in round_normalised(windows)[0].items()}
        samples = []
        for i, ((label, net), sh) in enumerate(zip(designs, shapes)):
            ks = network_kernels(net, setting, sh)
            by_first, shares = per_layer[i]
            scale = totals[i] if shares else 1.0
            samples.append(DesignSample(label, ks, tuple(by_first.get(k.first, 0.0) * scale for k in ks), totals[i]))
            if measured is not None:
                measured(samples[-1])
    return samples, Level(totals[REFERENCE], reference_kernels) if reference is not None else None


def interleaved_ms(
    fns: dict[Any, Callable[[], object]],
    rounds: int,
    window: float,
    *,
    cuda: bool = False,
    after_round: Callable[[int], bool] | None = None,
) -> dict[Any, list[float]]:
    """Per callable, the median call (ms) of each of `rounds` windows of about `window` seconds (at least 3
    calls), taken in interleaved rounds: each round times every callable once. `after_round(r)` hears after
    round r (1-based) and may return True to take more rounds than `rounds` (a time budget)."""
    times: dict[Any, list[float]] = {key: [] for key in fns}
    r = 0
    while True:
        for key, fn in fns.items():
            times[key].append(statistics.median(call_times_ms(fn, window, cuda=cuda, at_least=3)))
        r += 1
        more = after_round(r) if after_round is not None else False
        if r >= rounds and not more:
            return times


def host_speed(times: dict[Any, list[float]]) -> list[float]:
    """Per round, the median over callables of (that round's window / the callable's median window): how slow
    the host ran in that round against its median state (1.0); every callable of a round shares its state."""
    ref = {key: statistics.median(w) for key, w in times.items()}
    rounds = min(len(w) for w in times.values())
    return [statistics.median(w[r] / ref[key] for key, w in times.items()) for r in range(rounds)]


def round_normalised(times: dict[Any, list[float]]) -> tuple[dict[Any, list[float]], list[float]]:
    """Each window divided by its round's host speed (host_speed), and those speeds. A round is a block every
    callable shares, so its speed is a block effect: dividing it out leaves each callable's own variation. It
    keeps the level (the median round runs at 1.0) and takes out the rounds a slow spell of the host fell on,
    which the median of a few windows does not fully do."""
    speed = host_speed(times)
    return {key: [t / v for t, v in zip(w, speed)] for key, w in times.items()}, speed


def call_times_ms(
    fn, min_run_time: float, *, cuda: bool = False, at_least: int = 3, at_most: int = 1000
) -> list[float]:
    """Repeated single calls of `fn` for about `min_run_time` seconds (at least `at_least`, at most `at_most`
    calls): each call's time in ms."""
    import torch

    times: list[float] = []
    spent = 0.0
    while len(times) < at_least or (spent < min_run_time and len(times) < at_most):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        times.append(dt * 1e3)
        spent += dt
    return times


def fastest_ms(fn, min_run_time: float, *, cuda: bool = False, at_least: int = 3, at_most: int = 1000) -> float:
    """The fastest of repeated single calls of `fn` within about `min_run_time` seconds, in ms: the call the rest
    of a shared machine disturbed least. How each kernel is timed: a median of timed blocks on a busy machine is
    mostly other processes' time slices, the fastest call is not."""
    return min(call_times_ms(fn, min_run_time, cuda=cuda, at_least=at_least, at_most=at_most))


@dataclass
class Timed:
    """What `mixdesign bench` times in a setting, built once as bench builds it: `run`, one whole pass (torch's
    optimised build, traced and frozen on CPU as bench's "auto" execution runs it; the backend runner's inference;
    or runtime.train_step's iteration: forward, loss, backward, SGD step, autocast for fp16 / bf16), plus what
    the per-layer timings need: the eager model whose steps are timed one by one and its input, or the runner."""

    run: Callable[[], object]
    model: Any = None  # DarknetModel (torch inference: the eager build behind `run`; training: the model trained)
    x: Any = None
    runner: Any = None  # runtime.deploy.backends' runner (onnxruntime, OpenVINO)


def build_timed(network: Network, setting: Setting, shapes=None, *, warmup: int = 3) -> Timed:
    """The Timed for `network` in `setting`, warmed up by `warmup` calls (oneDNN / cuDNN choose their kernels,
    SGD creates its momentum buffers). Run it under the setting's threads (runtime.bench.timing_threads):
    calibration and bench_estimate time exactly this."""
    import torch

    if setting.mode == "train":
        from runtime.train_step import MOMENTUM, sgd_step, train_model

        torch.manual_seed(0)
        model = train_model(network, device=setting.device, dtype=setting.dtype, shapes=shapes)
        x = torch.randn(setting.batch, *network.input_shape, device=setting.device)  # fp32: autocast casts it
        y = torch.randint(0, model.shapes[model.outputs[0]].outputs, (setting.batch,), device=setting.device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=MOMENTUM)
        timed = Timed(sgd_step(model, opt, x, y, device=setting.device, dtype=setting.dtype), model, x)
    elif setting.backend == "torch":
        from runtime.bench import DTYPES, default_channels_last, prepare
        from runtime.execution import resolve_execution
        from runtime.model import DarknetModel
        from runtime.optimize.build import FrozenModel

        nhwc = default_channels_last(setting.device)  # the memory format `mixdesign bench` builds in by default
        eager = prepare(
            network, device=setting.device, dtype=setting.dtype, optimized=True, channels_last=nhwc, shapes=shapes
        )
        assert isinstance(eager, DarknetModel)  # eager execution: prepare returns the model itself
        x = torch.randn(setting.batch, *network.input_shape, device=setting.device).to(DTYPES[setting.dtype])
        if nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        # traced and frozen on CPU (no Python between steps), as bench's "auto" execution; the steps themselves
        # can only be timed one by one in the eager model
        torchscript = resolve_execution("auto", device=setting.device, optimized=True) == "torchscript"
        whole = FrozenModel(eager) if torchscript else eager

        @torch.no_grad()
        def run() -> object:
            return whole(x)

        timed = Timed(run, eager, x)
    else:
        from runtime.deploy.backends import get_backend

        runner = get_backend(setting.backend).prepare(
            network, setting.batch, setting.dtype, setting.threads, setting.device, optimized=True
        )
        timed = Timed(runner.run, runner=runner)
    for _ in range(warmup):
        timed.run()
    return timed


def _kernel_ms(
    timed: Timed, setting: Setting, threads: int, pass_ms: float, min_run_time: float
) -> tuple[dict[int, float], bool]:
    """Per kernel (keyed by its first darknet layer), its measured ms, or with True its share of the whole pass
    (`pass_ms`, about the whole pass: how many profiled calls fit in `min_run_time`):
    training step  runtime.train_step's per-layer forward + backward scaffold (time_layers_train, under autocast
                   as the step is), each layer by fastest_ms
    torch          runtime.bench's per-step scaffold (time_steps) on the eager model, each step by fastest_ms (a
                   benchmark.Timer per step would cost more than most steps)
    ONNX backends  the runtime's own profiler per node (runtime.deploy.backends), mapped back to darknet layers
                   by node name; a profiled run is slower than a plain one (OpenVINO's performance counters,
                   onnxruntime's trace), so each kernel's time is its profiled share of the plain pass;
                   the share of nodes without a layer name (inserted reorders) stays out of the kernels:
                   runtime overhead"""
    import torch

    cuda = setting.device.startswith("cuda")
    if setting.mode == "train":
        from runtime.bench import DTYPES
        from runtime.train_step import time_layers_train

        half = DTYPES[setting.dtype] if setting.dtype != "fp32" else None
        with torch.autocast(torch.device(setting.device).type, dtype=half, enabled=half is not None):
            rows = time_layers_train(
                timed.model,
                timed.x,
                threads,
                min_run_time,
                timer=lambda fn, window: fastest_ms(fn, window, cuda=cuda, at_most=200) / 1e3,
            )
        return {t.index: t.ms for t in rows}, False
    if setting.backend == "torch":
        from runtime.bench import time_steps

        def one_step(p, module, ins, out, window: float) -> float:
            return fastest_ms(lambda: module(*ins), window, cuda=cuda, at_most=200) / 1e3

        best = time_steps(timed.model, timed.x, min_run_time, 2, one_step)
        return {timed.model.steps[k].first: sec * 1e3 for k, sec in best.items()}, False
    seconds = timed.runner.layer_seconds(max(3, min(30, int(min_run_time * 1e3 / max(pass_ms, 1e-3)))))
    whole = max(sum(seconds.values()), 1e-12)
    return {step.first: sec / whole for step, sec in seconds.items() if step is not None}, True


def calibration_designs(seed: int, sizes: tuple[int, ...] | None) -> Iterator[tuple[str, Network]]:
    """Random MixNet-family designs, every PLAIN_EVERY-th a darknet-style plain net (designer.latency.sampling)."""
    rng = random.Random(seed + 1)
    for i, (label, _, network) in enumerate(random_designs(seed, sizes=sizes)):
        if i % PLAIN_EVERY == PLAIN_EVERY - 1:
            yield random_plain_net(rng, sizes)
        yield label, network


def collect(
    setting: Setting,
    *,
    budget_s: float = DEFAULT_BUDGET_S,
    designs: Iterable[tuple[str, Network]] | None = None,
    seed: int = 0,
    progress: bool = True,
    min_run_time: float = MIN_RUN_TIME_S,
    sizes: tuple[int, ...] | None = None,
    on_progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> list[DesignSample]:
    """Measure designs (default: random ones across the space, at `sizes` where given) for about `budget_s`
    seconds, at least MIN_DESIGNS of them (a progress bar on stderr unless `progress` is False). `on_progress`
    hears after each design how much of the budget is spent (the app's progress bar); `stop` ends the
    measuring early, once MIN_DESIGNS are measured. Designs are measured INTERLEAVE at a time
    (measure_designs), as many as the budget has room for at the pace so far, and brought to one level of the
    host's speed (leveled) by a reference design (the first, built once more) timed in every batch."""
    from tqdm import tqdm

    if setting.device == "cpu":
        from runtime.bench import tune_cpu_allocator

        tune_cpu_allocator()
    start = time.perf_counter()
    samples: list[DesignSample] = []
    total = max(1, round(budget_s))
    bar = tqdm(
        total=total,
        unit="s",
        desc=f"calibrating {setting.backend}, {setting.threads} thr",
        file=sys.stderr,
        disable=not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s {postfix}",
    )
    shown, done, kernel_count = 0, 0, 0

    def tick(sample: DesignSample) -> None:
        nonlocal shown, done, kernel_count
        done, kernel_count = done + 1, kernel_count + len(sample.kernels)
        now = min(total, round(time.perf_counter() - start))
        bar.update(now - shown)
        shown = now
        what = f"{done} designs, {kernel_count} kernels"
        bar.set_postfix_str(what)
        if on_progress is not None:
            on_progress(min(1.0, (time.perf_counter() - start) / budget_s), what)

    chosen = iter(designs if designs is not None else calibration_designs(seed, sizes))
    batches: list[tuple[list[DesignSample], Level | None]] = []
    reference: Timed | None = None
    try:
        while True:
            if len(samples) < MIN_DESIGNS:  # measured whatever the budget
                n = MIN_DESIGNS - len(samples)
            else:
                elapsed = time.perf_counter() - start
                room = int((budget_s - elapsed) // (elapsed / len(samples)))
                if room < 1 or (stop is not None and stop.is_set()):
                    break
                n = min(INTERLEAVE, room)
            batch = list(itertools.islice(chosen, n))  # drawn only when measured: calibrate_samples counts on it
            if not batch:
                break
            if reference is None:
                reference = _reference_build(batch[0][1], setting)
            got, level = measure_designs(batch, setting, min_run_time=min_run_time, measured=tick, reference=reference)
            batches.append((got, level))
            samples += got
    finally:
        bar.close()
    return leveled(batches)


def _reference_build(network: Network, setting: Setting) -> Timed:
    from runtime.bench import timing_threads

    with timing_threads(setting.batch, setting.threads):
        return build_timed(network, setting)


def leveled(batches: list[tuple[list[DesignSample], Level | None]]) -> list[DesignSample]:
    """The samples of every batch, each batch's times divided by how fast the host ran while it was measured:
    whole passes by its reference pass over the median of those over all batches, kernels likewise by its
    reference kernels where it has them (else as its passes).

    Why: the host's speed wanders by +-10 % over tens of seconds (docs/performance.md), the time one batch takes,
    so batches measured a minute apart are measured on different machines; the reference, the same network
    timed in every batch, measures the difference, and dividing it out puts every design on the calibration's
    median state of the host. Passes and kernels apart, because they are timed seconds apart, and a spell
    that slows one phase of a batch and not the other would otherwise move that batch's whole pass / kernel sum,
    which the network terms fit."""
    levels = [level for _, level in batches if level]
    if len(levels) < 2:
        return [s for got, _ in batches for s in got]
    typical = statistics.median(x.passes for x in levels)
    kernel_levels = [x.kernels for x in levels if x.kernels]
    typical_kernels = statistics.median(kernel_levels) if len(kernel_levels) == len(levels) else None
    out = []
    for got, level in batches:
        f = level.passes / typical if level else 1.0
        fk = level.kernels / typical_kernels if level and level.kernels and typical_kernels else f
        out += [replace(s, kernel_ms=tuple(ms / fk for ms in s.kernel_ms), total_ms=s.total_ms / f) for s in got]
    return out


class CollectOptions(TypedDict, total=False):
    """collect()'s keywords, which calibrate() passes on."""

    budget_s: float
    designs: Iterable[tuple[str, Network]] | None
    seed: int
    progress: bool
    min_run_time: float
    sizes: tuple[int, ...] | None
    on_progress: Progress | None
    stop: threading.Event | None


def calibrate(setting: Setting, **options: Unpack[CollectOptions]) -> LatencyModel:
    """collect() then fit: the model for `setting` on this machine; its metrics say how long it all took. The
    model keeps a few of the measured designs as its reference designs (designer.latency.fit.choose_anchors),
    which refresh() times again later."""
    return calibrate_samples(setting, **options)[0]


def calibrate_samples(setting: Setting, **options: Unpack[CollectOptions]) -> tuple[LatencyModel, list[DesignSample]]:
    """calibrate(), and the samples it was fitted on (benchmarks/bench_estimate.py keeps unseen designs apart)."""
    start = time.perf_counter()
    budget_s, sizes = options.get("budget_s", DEFAULT_BUDGET_S), options.get("sizes")
    designs = options.get("designs")
    networks: list[Network] = []  # in the order collect() measures them: networks[i] is samples[i]'s

    def remembered(items: Iterable[tuple[str, Network]]) -> Iterator[tuple[str, Network]]:
        for label, network in items:
            networks.append(network)
            yield label, network

    chosen = designs if designs is not None else calibration_designs(options.get("seed", 0), sizes)
    rest = CollectOptions(**options)  # a copy: the caller's options stay as they were
    rest["designs"] = remembered(chosen)
    samples = collect(setting, **rest)
    measured = time.perf_counter() - start
    model = fit_model(
        samples,
        setting,
        fingerprint(setting.device),
        seconds=measured,
        extra={"budget_s": budget_s, "measure_s": round(measured, 1), "sizes": list(sizes) if sizes else "sweep"},
        started=start,
    )
    return replace(model, anchors=choose_anchors(model, samples, networks)), samples


REFRESH_WINDOW_S = 0.1  # each reference timed this long per round (at least 3 calls), as bench_estimate does
MIN_REFRESH_ROUNDS = 3


def refresh(
    model: LatencyModel,
    *,
    budget_s: float = REFRESH_BUDGET_S,
    progress: bool = True,
    window: float = REFRESH_WINDOW_S,
) -> LatencyModel:
    """`model` brought to this machine's present speed: its reference designs (model.anchors) built as `bench`
    builds them, timed in interleaved rounds for about `budget_s` seconds (at least MIN_REFRESH_ROUNDS), and
    every estimate multiplied by the median over them of measured / estimated (LatencyModel.releveled; a new
    model, uid and time of its own, the original's calibration time kept).

    Why: a shared host's speed drifts by 0.7-1.5x over minutes to hours (docs/performance.md), and one such
    change moves every estimate alike; timing six known designs for seconds measures it, where calibrating
    again takes minutes. What it cannot fix is a change that hits kinds of kernels differently (a new library
    version is a new fingerprint anyway): the spread over the references is kept beside the factor."""
    from designer.cfg import parse_cfg

    if not model.anchors:
        raise ValueError(
            "this latency model keeps no reference designs to time again (calibrated before they were kept)"
        )
    start = time.perf_counter()
    networks = {f"{i}: {label}": parse_cfg(cfg) for i, (label, cfg) in enumerate(model.anchors)}
    times = _time_references(networks, model.setting, budget_s, window, progress)
    rounds = min(len(t) for t in times.values())
    measured = {label: statistics.median(t) for label, t in times.items()}
    ratios = sorted(measured[label] / model.estimate(net).ms for label, net in networks.items())
    factor = statistics.median(ratios)
    return model.releveled(
        factor,
        {
            "seconds": round(time.perf_counter() - start, 1),
            "rounds": rounds,
            "references": len(ratios),
            "spread": [ratios[0], ratios[-1]],
        },
        uid=uuid.uuid4().hex,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _time_references(
    networks: dict[str, Network], setting: Setting, budget_s: float, window: float, progress: bool
) -> dict[str, list[float]]:
    """Each network built as calibration builds it (build_timed), then timed in interleaved rounds until
    `budget_s` seconds have passed since the start (at least MIN_REFRESH_ROUNDS): per network, each round's
    median call in ms."""
    from tqdm import tqdm

    from runtime.bench import timing_threads

    start = time.perf_counter()
    cuda = setting.device.startswith("cuda")
    if setting.device == "cpu":
        from runtime.bench import tune_cpu_allocator

        tune_cpu_allocator()
    bar = tqdm(
        total=max(1, round(budget_s)),
        unit="s",
        desc=f"refreshing {setting.backend}, {setting.threads} thr",
        file=sys.stderr,
        disable=not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} s",
    )
    with timing_threads(setting.batch, setting.threads), bar:
        built = {label: build_timed(net, setting).run for label, net in networks.items()}

        def after_round(r: int) -> bool:
            spent = time.perf_counter() - start
            bar.update(min(bar.total, round(spent)) - bar.n)
            return spent < budget_s

        return interleaved_ms(built, MIN_REFRESH_ROUNDS, window, cuda=cuda, after_round=after_round)
