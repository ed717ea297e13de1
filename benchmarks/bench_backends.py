"""torch vs onnxruntime vs OpenVINO on MixNet-S, MixNet-M, MixNet-M-GPU and EfficientNet-B0, side by side in
one process (CPU, fp32).

For each case (network x batch x threads) three runners are timed in turn, repetition after repetition, with
torch.utils.benchmark (blocked_autorange), so that a load change on the shared machine hits all of them:
- torch: the optimised build as benchmarks/bench_runtime.py measures it (runtime.bench.prepare(optimized=True,
  channels_last=True): BN folded, SE fused, MixConv as one zero-padded grouped conv, NHWC);
- onnxruntime / openvino: that optimised build exported to ONNX at the case's fixed batch
  (runtime.deploy.onnx_export) and run by runtime.deploy.backends (the runners `mixdesign bench --backend` times:
  onnxruntime with intra_op_num_threads=threads, inter_op 1, all graph optimisations; OpenVINO with
  INFERENCE_NUM_THREADS=threads, INFERENCE_PRECISION_HINT=f32, latency hint, one stream).
Printed per case: each backend's median and IQR (ms), its ratio to torch per repetition (median and range), and
the fraction of the physical floor it reaches: FMA / the peak multiply-adds per second of a 2048^3 fp32 matmul
(torch.mm at the same thread count) timed among the repetitions; the fastest backend is marked.

    python benchmarks/bench_backends.py                      # all four networks, batch 1 and 8, 1 and 2 threads
    python benchmarks/bench_backends.py --nets mixnet-m --batches 1 --threads 1

As in bench_runtime.py, OpenMP's waiting is chosen before torch loads as `mixdesign` chooses it
(designer/threads.py: spin on a quiet machine, PASSIVE beside other load) and glibc's mmap threshold is raised
(runtime.bench.tune_cpu_allocator);
with it, runtime.deploy.backends turns off onnxruntime's spinning too (session.intra_op.allow_spinning=0:
results/bench_backends_cpu_ort_spinning.txt is a run with onnxruntime spinning, 1.2-2.7x torch at 2 threads on
the loaded machine). OpenVINO keeps its defaults.
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
import time  # noqa: E402

import torch  # noqa: E402
from torch.utils import benchmark  # noqa: E402

import designer  # noqa: E402
from benchmarks.bench_runtime import matmul_timer  # noqa: E402 (the same peak-FMA/s measurement)
from runtime.bench import device_name, prepare, tune_cpu_allocator  # noqa: E402
from runtime.deploy.backends import BACKENDS  # noqa: E402
from runtime.deploy.onnx_export import export_network  # noqa: E402

NAMES = {
    "mixnet-s": "MixNet-S",
    "mixnet-m": "MixNet-M",
    "mixnet-m-gpu": "MixNet-M-GPU",
    "efficientnet-b0": "EfficientNet-B0",
}
KINDS = ("torch", "onnxruntime", "openvino")


def timer(fn, threads: int):
    t = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=threads)
    return lambda min_run_time: t.blocked_autorange(min_run_time=min_run_time)


def runners(network: designer.Network, batch: int, threads: int) -> dict:
    model = prepare(network, optimized=True, channels_last=True)
    x = torch.randn(batch, *network.input_shape)

    @torch.no_grad()
    def torch_run():
        return model(x)

    onnx_bytes = export_network(network, batch=batch).SerializeToString()
    out = {"torch": torch_run}
    for k in KINDS[1:]:
        out[k] = BACKENDS[k].prepare(network, batch, "fp32", threads, "cpu", model=onnx_bytes).run
    for fn in out.values():
        for _ in range(5):  # warm-up: kernel selection, first-run allocations
            fn()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default=",".join(NAMES))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per case, the backends timed in turn in each")
    ap.add_argument("--min-run-time", type=float, default=0.3, help="seconds per timed block")
    ap.add_argument("--matmul", type=int, default=2048, help="matmul size for the peak FMA/s")
    args = ap.parse_args(argv)
    tuned = tune_cpu_allocator()
    torch.manual_seed(0)
    started = time.time()
    thread_counts = [int(t) for t in args.threads.split(",")]
    mm = {t: matmul_timer("cpu", t, args.matmul) for t in thread_counts}
    mm_times: dict[int, list[float]] = {t: [mm[t](0.5).median] for t in thread_counts}
    results = []  # (network, batch, threads, fma, {kind: [Measurement per rep]})
    for name in args.nets.split(","):
        network = designer.lower(designer.load_preset(name))
        fma1 = designer.count(network).fma
        for threads in thread_counts:
            for batch in (int(b) for b in args.batches.split(",")):
                torch.set_num_threads(threads)
                fns = runners(network, batch, threads)
                timers = {k: timer(fn, threads) for k, fn in fns.items()}
                runs: dict[str, list[benchmark.Measurement]] = {k: [] for k in fns}
                for _ in range(args.reps):  # backends in turn, and the matmul among them: a load change hits all
                    for k, t in timers.items():
                        runs[k].append(t(args.min_run_time))
                    mm_times[threads].append(mm[threads](args.min_run_time).median)
                results.append((name, batch, threads, fma1 * batch, runs))
                print(
                    f"measured {name} batch {batch} threads {threads} ({time.time() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

    import onnxruntime
    import openvino

    peak = {t: args.matmul**3 / min(v) for t, v in mm_times.items()}  # the best rate seen: practical peak
    print(
        f"device cpu ({device_name('cpu')}), torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"openvino {openvino.__version__.split('-')[0]}, fp32, OpenMP wait: {OMP_CHOICE}, "
        f"glibc mmap threshold {'1 GiB' if tuned else 'default'}, input 224x224, {args.reps} repetitions of "
        f"{args.min_run_time} s per backend, {time.time() - started:.0f} s in all"
    )
    for t in thread_counts:
        print(
            f"peak at {t} thread(s): {args.matmul}^3 fp32 matmul, fastest of {len(mm_times[t])} timings = "
            f"{peak[t] / 1e9:.1f} GFMA/s (median {args.matmul**3 / statistics.median(mm_times[t]) / 1e9:.1f})"
        )
    print()
    head = f"{'network':<15} {'batch':>5} {'thr':>3} {'FMA':>14} {'floor ms':>8}"
    for k in KINDS:
        head += f" | {k + ' ms':>14} {'IQR':>5} {'floor':>5}" + ("" if k == "torch" else f" {'ratio (range)':>16}")
    print(head + " | fastest")
    print("-" * (len(head) + 12))
    for name, batch, threads, fma, runs in results:
        floor_ms = fma / peak[threads] * 1e3
        line = f"{NAMES.get(name, name):<15} {batch:>5} {threads:>3} {fma:>14,} {floor_ms:>8.2f}"
        meds = {}
        for k in KINDS:
            med = meds[k] = statistics.median(r.median for r in runs[k]) * 1e3
            iqr = statistics.median(r.iqr for r in runs[k]) * 1e3
            line += f" | {med:>14.2f} {iqr:>5.2f} {floor_ms / med:>5.1%}"
            if k != "torch":
                ratios = [a.median / p.median for a, p in zip(runs[k], runs["torch"])]
                line += f" {statistics.median(ratios):>5.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(line + f" | {min(meds, key=meds.get)}")
    print()
    print("ms: median over repetitions of each timing's median (one forward pass of the whole batch); IQR: median")
    print("of the timings' interquartile ranges; floor: fraction of the matmul-peak floor (FMA / peak) reached;")
    print("ratio: backend / torch optimised build per repetition, median (min-max); fastest: lowest median ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
