"""Plain vs optimised torch runtime on MixNet-S and MixNet-M, measured side by side in one process.

For each case (network x batch) three builds are timed in turn, repetition after repetition, with
torch.utils.benchmark (blocked_autorange), so that a load change on the machine hits all of them:
- plain: what build_model gives (conv + BatchNorm + activation modules, routes as slices and concatenations);
- optimised: runtime.bench.prepare(optimized=True, channels_last=True) = runtime.optimize with BN folded, SE
  spans fused, each MixConv span as one zero-padded grouped conv, NHWC (what `measure` runs, ready at once);
- frozen: the same optimised model traced and torch.jit.freeze'd (runtime.optimize freeze=True: what `measure`
  times on CPU by default, execution "torchscript");
- compiled: the same optimised model through torch.compile (minutes of compilation per network and batch).
Warm-up before timing: every build runs for --warmup seconds (at least 5 calls; CUDA synchronised), then one
whole round of timings over all builds is run and discarded, so that neither kernel selection / compilation nor
a device still ramping its clocks up (the first build timed on an idle GPU) lands in the figures.
Printed per case: median and IQR of each build (ms), the ratio to plain per repetition (median and range: the
figure for the 0.6 target at batch 1), and the physical floor: FMA / the peak multiply-adds per second of a
large fp32 matmul timed the same way on the same device, with the fraction of it each build reaches.

    python benchmarks/bench_runtime.py                 # CPU, 2 threads
    python benchmarks/bench_runtime.py --device cuda
    python benchmarks/bench_runtime.py --ablation      # each optimisation added in turn, batch 1

OpenMP's waiting is chosen before torch loads as `mixdesign` chooses it (designer/threads.py): libgomp's spin on
a quiet machine, PASSIVE when other processes keep a core busy (spinning then makes a 2-thread pass up to 100x
slower); OMP_WAIT_POLICY set by the user wins. It also raises glibc's mmap threshold
(runtime.bench.tune_cpu_allocator) so that large activations are not page-faulted in on every forward pass;
both settings are printed and apply to every build alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from designer.threads import configure  # noqa: E402

# OpenMP's waiting, chosen as every entry point chooses it (designer/threads.py) before torch loads: libgomp's
# spin on a quiet machine, PASSIVE when other processes keep a core busy; a user's OMP_WAIT_POLICY wins.
OMP_CHOICE = configure()

import argparse  # noqa: E402
import statistics  # noqa: E402

import torch  # noqa: E402
from torch.utils import benchmark  # noqa: E402

import designer  # noqa: E402
from runtime.bench import device_name, prepare, tune_cpu_allocator  # noqa: E402
from runtime.optimize.build import FrozenModel  # noqa: E402


def matmul_timer(device: str, threads: int, n: int):
    """A function timing one n x n x n fp32 matmul (n^3 FMA): the device's practical peak multiply-add rate."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(3):
        torch.mm(a, b)
    t = benchmark.Timer("torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b}, num_threads=threads)
    return lambda min_run_time: t.blocked_autorange(min_run_time=min_run_time)


def warm_up(model, x, seconds: float) -> int:
    """Run `model` for at least `seconds` (and 5 calls), synchronising CUDA; returns the number of calls."""
    import time

    calls, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while calls < 5 or time.perf_counter() - t0 < seconds:
            model(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            calls += 1
    return calls


def time_once(model, x, threads: int, min_run_time: float) -> benchmark.Measurement:
    @torch.no_grad()
    def run():
        return model(x)

    return benchmark.Timer("run()", globals={"run": run}, num_threads=threads).blocked_autorange(
        min_run_time=min_run_time
    )


ABLATION = {  # name -> (runtime.optimize options or None for the plain build, channels_last)
    "plain": (None, False),
    "plain, NHWC": (None, True),
    "BN folded": (dict(mixconv="none", squeeze_excite=False), False),
    "+ MixConv split": (dict(mixconv="split", squeeze_excite=False), False),
    "+ MixConv padded": (dict(mixconv="padded", squeeze_excite=False), False),
    "+ MixConv padded + SE": (dict(mixconv="padded"), False),
    "+ MixConv split + SE, NHWC": (dict(mixconv="split"), True),
    "+ MixConv padded + SE, NHWC": (dict(mixconv="padded"), True),
}


def ablation(args: argparse.Namespace) -> None:
    """Which optimisation helps: each step added in turn, timed in turn with the plain build (batch 1)."""
    from runtime import build_model
    from runtime.optimize import optimize

    print(f"ablation, batch {args.batches.split(',')[0]}: ratio = variant / plain per repetition, median (min-max)")
    for name in args.nets.split(","):
        network = designer.cfg.with_net(designer.lower(designer.load_preset(name)), width=args.size, height=args.size)
        plain = build_model(network).to(args.device)
        models = {}
        for label, (opts, nhwc) in ABLATION.items():
            m = optimize(plain, channels_last=nhwc, **opts) if opts is not None else plain
            if opts is None and nhwc:
                m = build_model(network).to(args.device).set_channels_last()
            models[label] = m
        x = torch.randn(int(args.batches.split(",")[0]), *network.input_shape, device=args.device)
        with torch.no_grad():
            for m in models.values():
                for _ in range(3):
                    m(x)
        runs: dict[str, list[float]] = {k: [] for k in models}
        for _ in range(args.reps):
            for k, m in models.items():
                runs[k].append(time_once(m, x, args.threads, args.min_run_time).median)
        for k, v in runs.items():
            r = [a / b for a, b in zip(v, runs["plain"])]
            print(
                f"  {name:<9} {k:<30} {statistics.median(v) * 1e3:8.2f} ms  {statistics.median(r):5.2f} "
                f"({min(r):.2f}-{max(r):.2f})",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nets", default="mixnet-m,mixnet-s")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reps", type=int, default=7, help="repetitions per case, the builds timed in turn in each")
    ap.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timed block")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per build (at least 5 calls)")
    ap.add_argument("--matmul", type=int, default=2048, help="matmul size for the peak FMA/s")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile build")
    ap.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="keep glibc's default mmap threshold (see runtime.bench.tune_cpu_allocator)",
    )
    ap.add_argument(
        "--ablation",
        action="store_true",
        help="instead: time each optimisation step added in turn (first batch size only)",
    )
    args = ap.parse_args(argv)
    tuned = not args.no_malloc_tuning and tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.ablation:
        print(
            f"device {args.device} ({device_name(args.device)}), {args.threads} threads, "
            f"OpenMP wait: {OMP_CHOICE}, glibc mmap threshold "
            f"{'1 GiB' if tuned else 'default'}, input {args.size}x{args.size}, {args.reps} repetitions"
        )
        ablation(args)
        return 0

    mm = matmul_timer(args.device, args.threads, args.matmul)
    mm_times: list[float] = [mm(1.0).median]
    kinds = ["plain", "optimised", "frozen"] + ([] if args.no_compile else ["compiled"])
    results = []  # (network, batch, fma, {kind: [Measurement per rep]})
    for name in args.nets.split(","):
        network = designer.cfg.with_net(designer.lower(designer.load_preset(name)), width=args.size, height=args.size)
        fma1 = designer.count(network).fma
        for batch in (int(b) for b in args.batches.split(",")):
            builds = {
                "plain": prepare(network, device=args.device, optimized=False),
                "optimised": prepare(network, device=args.device, optimized=True, channels_last=True),
            }
            builds["frozen"] = FrozenModel(builds["optimised"])
            if "compiled" in kinds:  # a fresh compiled model per batch: static shapes, no recompilation
                builds["compiled"] = prepare(
                    network, device=args.device, optimized=True, channels_last=True, compile=True
                )
            x = torch.randn(batch, *network.input_shape, device=args.device)
            for m in builds.values():  # warm-up: kernel selection, profiling runs, compilation
                warm_up(m, x, args.warmup)
            for m in builds.values():  # one discarded round: every build timed once before the recorded ones
                time_once(m, x, args.threads, args.min_run_time)
            runs: dict[str, list[benchmark.Measurement]] = {k: [] for k in builds}
            for _ in range(args.reps):  # builds in turn, and the matmul among them: a load change hits all
                for k, m in builds.items():
                    runs[k].append(time_once(m, x, args.threads, args.min_run_time))
                mm_times.append(mm(args.min_run_time).median)
            results.append((name, batch, fma1 * batch, runs))
            print(f"measured {name} batch {batch}", file=sys.stderr, flush=True)

    peak = args.matmul**3 / min(mm_times)  # the best rate seen: the machine's practical peak
    print(
        f"device {args.device} ({device_name(args.device)}), {args.threads} threads, torch {torch.__version__}, "
        f"OpenMP wait: {OMP_CHOICE}, glibc mmap threshold "
        f"{'1 GiB (tune_cpu_allocator)' if tuned else 'default'}, input {args.size}x{args.size}, {args.reps} "
        f"repetitions of {args.min_run_time} s per build after {args.warmup} s of warm-up and one discarded round"
    )
    print(
        f"peak: {args.matmul}^3 fp32 matmul, fastest of {len(mm_times)} timings = {peak / 1e9:.1f} GFMA/s "
        f"(median {args.matmul**3 / statistics.median(mm_times) / 1e9:.1f}); floor = FMA / peak"
    )
    print()
    head = f"{'network':<9} {'batch':>5} {'FMA':>14} {'floor ms':>8}"
    for k in kinds:
        head += f" | {k + ' ms':>12} {'IQR':>5} {'floor':>5}" + ("" if k == "plain" else f" {'ratio (range)':>16}")
    print(head)
    print("-" * len(head))
    for name, batch, fma, runs in results:
        floor_ms = fma / peak * 1e3
        line = f"{name:<9} {batch:>5} {fma:>14,} {floor_ms:>8.2f}"
        for k in kinds:
            med = statistics.median(r.median for r in runs[k]) * 1e3
            iqr = statistics.median(r.iqr for r in runs[k]) * 1e3
            line += f" | {med:>12.2f} {iqr:>5.2f} {floor_ms / med:>5.1%}"
            if k != "plain":
                ratios = [a.median / p.median for a, p in zip(runs[k], runs["plain"])]
                line += f" {statistics.median(ratios):>5.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(line)
    print()
    print("ms: median over repetitions of each timing's median; IQR: median of the timings' interquartile ranges;")
    print("floor: the fraction of the matmul-peak floor reached; ratio: build/plain per repetition, median (min-max)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
