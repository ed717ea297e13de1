"""The torch runtime's optimised build side by side with timm's best PyTorch mode, on CPU or CUDA.

    python benchmarks/bench_vs_timm.py [--device cpu|cuda] [--quick] [--rounds N] [--batches 1,8] [--threads 1,2]
                                       [--networks mixnet-s,...]

Same networks, same parameter counts (random weights: latency does not depend on their values):
MixNet-S, MixNet-M, EfficientNet-B0 against timm's `mixnet_s`, `mixnet_m`, `efficientnet_b0`; plus our
MixNet-M-GPU (the `mixnet-m-gpu` preset: MixNet-M with `--dw-group-size 4`), which timm lacks, against our MixNet-M.

- ours: `runtime.bench.measure(optimized=True, channels_last=True)`: BN folded, MixConv and SE spans fused,
  NHWC; on CPU executed traced and frozen ("torchscript", the default there), on CUDA eager and as a CUDA graph.
- timm: `timm.create_model(name).eval()`, channels_last, `torch.jit.freeze(torch.jit.trace(...))` under
  no_grad (timm's benchmark script's best inference mode); on CUDA eager and as a CUDA graph.

CPU: every setting (implementation, network, batch, threads) is its own Python process, as a user would run it,
and stays up while its group (one network and batch: ours and timm at 1 and 2 threads) is timed: a cycle gives
each process one window of --min-run-time seconds in turn (the order rotates and flips every cycle), so the windows
a ratio compares lie seconds apart and a slow phase of a shared or virtual machine falls on both. The figure per
setting is the median over cycles of each window's median, with the interquartile range; ratios (ours/timm,
2 threads/1 thread) are taken within each cycle, then their median and interquartile range.
CUDA: one process per (implementation, network) times every batch, dtype (fp32, fp16) and execution (eager,
cuda-graph: replays timed with CUDA events, runtime.cuda_graphs) in turn, so a round costs one CUDA start each.

Writes benchmarks/results/bench_vs_timm_<device>.txt (or --out): the machine fingerprint, library versions,
the OpenMP wait policy and the load average before and after, then the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# ours (preset) -> timm's model name, or None where timm has no counterpart (compared with `BASE` instead)
NETWORKS: dict[str, str | None] = {
    "mixnet-s": "mixnet_s",
    "mixnet-m": "mixnet_m",
    "efficientnet-b0": "efficientnet_b0",
    "mixnet-m-gpu": None,
}
BASE = {"mixnet-m-gpu": "mixnet-m"}
CUDA_DTYPES = ("fp32", "fp16")
CUDA_EXECUTIONS = ("eager", "cuda-graph")


# ------------------------------------------------------------------ one measurement (child process)


def _timm_model(name: str, device: str, dtype: str):
    import torch

    from benchmarks.timm_import import import_timm
    from runtime.bench import DTYPES

    timm, how = import_timm()
    if timm is None:
        raise RuntimeError(how)
    return timm.create_model(name).eval().to(device=device, dtype=DTYPES[dtype]).to(memory_format=torch.channels_last)


def _time_timm(model, x, *, threads: int, execution: str, min_run_time: float) -> tuple[float, float]:
    import torch
    from torch.utils import benchmark

    from runtime.cuda_graphs import capture, time_events

    with torch.no_grad():
        if execution == "cuda-graph":
            return time_events(capture(model, x).replay, min_run_time)
        if execution == "torchscript":
            model = torch.jit.freeze(torch.jit.trace(model, x))
        for _ in range(3):
            model(x)
        m = benchmark.Timer("m(x)", globals={"m": model, "x": x}, num_threads=threads)
        r = m.blocked_autorange(min_run_time=min_run_time)
        return r.median, r.iqr


def child(spec: dict) -> list[dict]:
    """Time what `spec` names; one row per (batch, dtype, execution) in it."""
    import torch

    from designer.api import load
    from runtime.bench import DTYPES, measure, tune_cpu_allocator

    if spec["device"] == "cpu":
        tune_cpu_allocator()
    torch.set_num_threads(spec["threads"])
    rows = []
    for batch in spec["batches"]:
        for dtype in spec["dtypes"]:
            for execution in spec["executions"]:
                row = dict(batch=batch, dtype=dtype, execution=execution)
                t0 = time.perf_counter()
                try:
                    if spec["impl"] == "ours":
                        r = measure(
                            load(spec["network"]).network,
                            device=spec["device"],
                            batch=batch,
                            dtype=dtype,
                            channels_last=True,
                            threads=spec["threads"],
                            optimized=True,
                            execution=execution,
                            min_run_time=spec["min_run_time"],
                        )
                        row.update(median_ms=r.median_ms, iqr_ms=r.iqr_ms)
                    else:
                        model = _timm_model(spec["network"], spec["device"], dtype)
                        x = torch.randn(batch, 3, 224, 224, device=spec["device"], dtype=DTYPES[dtype])
                        x = x.contiguous(memory_format=torch.channels_last)
                        med, iqr = _time_timm(
                            model, x, threads=spec["threads"], execution=execution, min_run_time=spec["min_run_time"]
                        )
                        row.update(median_ms=med * 1e3, iqr_ms=iqr * 1e3)
                except Exception as e:  # a setting that cannot run here is a row that says why
                    row["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                row["wall_s"] = round(time.perf_counter() - t0, 1)  # build, warm-up and timing: where a round goes
                rows.append(row)
    return rows


def run_child(spec: dict, timeout: float) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return [{"error": f"timed out after {timeout:.0f} s"}]
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("[")]
    if p.returncode or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return [{"error": f"exit {p.returncode}: {tail}"}]
    return json.loads(lines[-1])


# ------------------------------------------------------------------ plan, rounds, summary


def plan(args) -> list[dict]:
    """Every child process of one round, in run order: per setting ours then timm."""
    specs = []
    base = dict(device=args.device, min_run_time=args.min_run_time)
    for net, timm_name in NETWORKS.items():
        if net not in args.networks:
            continue
        if args.device == "cpu":
            for batch in args.batches:
                for threads in args.threads:
                    common = dict(base, batches=[batch], threads=threads, dtypes=["fp32"], executions=["torchscript"])
                    specs.append(dict(common, impl="ours", network=net))
                    if timm_name:
                        specs.append(dict(common, impl="timm", network=timm_name))
        else:
            common = dict(
                base, batches=args.batches, threads=1, dtypes=list(CUDA_DTYPES), executions=list(CUDA_EXECUTIONS)
            )
            specs.append(dict(common, impl="ours", network=net))
            if timm_name:
                specs.append(dict(common, impl="timm", network=timm_name))
    return specs


# ------------------------------------------------------------------ CPU: persistent children, interleaved windows


def _cpu_model(spec: dict):
    """(callable, input) for one CPU setting: ours as `runtime.bench.measure` builds it (optimised, channels_last,
    traced and frozen), timm as `_time_timm` runs it (channels_last, traced and frozen)."""
    import torch

    from designer import load_preset, lower
    from runtime.bench import prepare, tune_cpu_allocator

    tune_cpu_allocator()
    torch.set_num_threads(spec["threads"])
    x = torch.randn(spec["batch"], 3, 224, 224).contiguous(memory_format=torch.channels_last)
    if spec["impl"] == "ours":
        model = prepare(
            lower(load_preset(spec["network"])),
            device="cpu",
            dtype="fp32",
            channels_last=True,
            optimized=True,
            execution="torchscript",
        )
    else:
        with torch.no_grad():
            model = torch.jit.freeze(torch.jit.trace(_timm_model(spec["network"], "cpu", "fp32"), x))
    return model, x


def serve(spec: dict) -> int:
    """A child that builds one setting once, says `ready`, then times a window per `time SECONDS` line on stdin
    (calls timed one by one until the window and 3 calls are done; prints the window's median ms as JSON) until
    `quit`. Idle between windows it blocks on stdin, so the other children's windows run alone."""
    import torch

    try:
        model, x = _cpu_model(spec)
        with torch.no_grad():
            for _ in range(3):
                model(x)
    except Exception as e:  # a setting that cannot run here answers with why, once
        print(json.dumps({"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"}))
        return 0
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        window, times = float(cmd[1]), []
        end = time.perf_counter() + window
        with torch.no_grad():
            while len(times) < 3 or time.perf_counter() < end:
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        print(json.dumps({"median_ms": statistics.median(times) * 1e3, "calls": len(times)}), flush=True)
    return 0


class _Server:
    """The coordinator's handle on one serving child."""

    def __init__(self, spec: dict, timeout: float):
        self.spec, self.timeout, self.error = spec, timeout, None
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", json.dumps(spec)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO
        )
        answer = self._answer()
        if "error" in answer:
            self.error = answer["error"]

    def _answer(self) -> dict:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            return {"error": f"exit {self.proc.wait(self.timeout)}: the child stopped without an answer"}
        return json.loads(line)

    def window(self, seconds: float) -> float | str:
        if self.error:
            return self.error
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"time {seconds}\n")
        self.proc.stdin.flush()
        answer = self._answer()
        return answer.get("median_ms", answer.get("error", "no answer"))

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cpu_groups(args) -> list[list[dict]]:
    """The settings compared with each other, one group per (network, batch): ours and timm at every thread count
    (MixNet-M-GPU joins MixNet-M's group, its baseline)."""
    groups = []
    for batch in args.batches:
        for net in args.networks:
            if net in BASE and BASE[net] in args.networks:
                continue  # measured in its baseline's group
            members = [net] + [n for n, b in BASE.items() if b == net and n in args.networks]
            group = []
            for member in members:
                for threads in args.threads:
                    group.append(dict(impl="ours", network=member, batch=batch, threads=threads))
                    if NETWORKS[member]:
                        group.append(dict(impl="timm", network=NETWORKS[member], batch=batch, threads=threads))
            groups.append(group)
    return groups


def collect_cpu(args, log) -> dict[tuple, list[float | str]]:
    """(impl, ours network name, batch, threads, "fp32", "torchscript") -> the median ms of each cycle's window.

    Every setting of a group is a child process that stays up; a cycle gives each child one timing window in turn
    (the order rotates every cycle), so the windows compared in a ratio lie within seconds of each other and a
    slow phase of the machine falls on both."""
    results: dict[tuple, list] = {}
    for group in cpu_groups(args):
        t0 = time.perf_counter()
        servers = [_Server(spec, args.child_timeout) for spec in group]
        try:
            for cycle in range(args.rounds):
                k = cycle % len(servers)
                order = servers[k:] + servers[:k]
                for server in order if cycle % 2 == 0 else order[::-1]:
                    spec = server.spec
                    key = (spec["impl"], _ours_name(spec), spec["batch"], spec["threads"], "fp32", "torchscript")
                    results.setdefault(key, []).append(server.window(args.min_run_time))
        finally:
            for server in servers:
                server.close()
        names = sorted({s["network"] for s in group})
        log(f"{', '.join(names)} batch {group[0]['batch']}: {args.rounds} cycles ({time.perf_counter() - t0:.1f} s)")
    return results


def _ours_name(spec: dict) -> str:
    return spec["network"] if spec["impl"] == "ours" else next(k for k, v in NETWORKS.items() if v == spec["network"])


def collect(args, log) -> dict[tuple, list[float | str]]:
    """(impl, ours network name, batch, threads, dtype, execution) -> median ms per round (or an error text)."""
    results: dict[tuple, list] = {}
    specs = plan(args)
    for r in range(args.rounds):
        order = specs if r % 2 == 0 else _flip_pairs(specs)
        for spec in order:
            t0 = time.perf_counter()
            rows = run_child(spec, args.child_timeout)
            for row in rows:
                key = (
                    spec["impl"],
                    _ours_name(spec),
                    row.get("batch"),
                    spec["threads"],
                    row.get("dtype"),
                    row.get("execution"),
                )
                results.setdefault(key, []).append(row.get("median_ms", row.get("error")))
            log(
                f"round {r + 1}/{args.rounds}: {spec['impl']} {spec['network']} threads {spec['threads']} "
                f"batches {spec['batches']} ({time.perf_counter() - t0:.1f} s"
                + "".join(
                    f"; {row['batch']} {row['dtype']} {row['execution']} {row['wall_s']} s"
                    for row in rows
                    if "wall_s" in row
                )
                + ")"
            )
    return results


def _flip_pairs(specs: list[dict]) -> list[dict]:
    """timm before ours within each setting (every other round)."""
    out, i = [], 0
    while i < len(specs):
        if i + 1 < len(specs) and specs[i]["impl"] == "ours" and specs[i + 1]["impl"] == "timm":
            out += [specs[i + 1], specs[i]]
            i += 2
        else:
            out.append(specs[i])
            i += 1
    return out


def _quartiles(nums: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3), numpy's linear interpolation; a single value is its own quartiles."""
    if len(nums) == 1:
        return nums[0], nums[0], nums[0]
    q1, med, q3 = statistics.quantiles(nums, n=4, method="inclusive")
    return q1, med, q3


def _fmt_ms(values: list) -> str:
    nums = [v for v in values if isinstance(v, float)]
    if not nums:
        return f"{'n/a':>25}"
    q1, med, q3 = _quartiles(nums)
    return f"{med:8.2f} ({q1:6.2f}-{q3:6.2f})"


def _ratio(a: list, b: list) -> str:
    pairs = [x / y for x, y in zip(a, b) if isinstance(x, float) and isinstance(y, float)]
    if not pairs:
        return f"{'n/a':>18}"
    q1, med, q3 = _quartiles(pairs)
    return f"{med:5.2f} ({q1:4.2f}-{q3:4.2f})"


def report(args, results: dict) -> list[str]:
    lines = []
    errors = sorted({(k, v) for k, vs in results.items() for v in vs if isinstance(v, str)})
    if args.device == "cpu":
        lines.append(
            f"{'network':<16}{'batch':>6}{'thr':>4} | {'ours ms (range)':>25} | {'timm ms (range)':>25} | "
            f"{'ours/timm (range)':>18}"
        )
        for net in args.networks:
            for batch in args.batches:
                for threads in args.threads:
                    ours = results.get(("ours", net, batch, threads, "fp32", "torchscript"), [])
                    if NETWORKS[net]:
                        timm_v = results.get(("timm", net, batch, threads, "fp32", "torchscript"), [])
                        vs = _ratio(ours, timm_v)
                    else:
                        timm_v = []
                        base = results.get(("ours", BASE[net], batch, threads, "fp32", "torchscript"), [])
                        vs = _ratio(ours, base) + f" vs our {BASE[net]}"
                    lines.append(f"{net:<16}{batch:>6}{threads:>4} | {_fmt_ms(ours)} | {_fmt_ms(timm_v)} | {vs}")
        if len(args.threads) == 2:
            t1, t2 = args.threads
            lines += ["", f"thread scaling: {t2} threads / {t1} thread(s), per cycle (below 1: faster with more)"]
            for net in args.networks:
                for batch in args.batches:
                    row = f"{net:<16}{batch:>6}    ours {_ratio(*(results.get(('ours', net, batch, t, 'fp32', 'torchscript'), []) for t in (t2, t1)))}"
                    if NETWORKS[net]:
                        row += f"   timm {_ratio(*(results.get(('timm', net, batch, t, 'fp32', 'torchscript'), []) for t in (t2, t1)))}"
                    lines.append(row)
    else:
        lines.append(
            f"{'network':<16}{'batch':>6} {'dtype':<5} {'execution':<11}| {'ours ms (range)':>25} | "
            f"{'timm ms (range)':>25} | {'ours/timm (range)':>18}"
        )
        for net in args.networks:
            for batch in args.batches:
                for dtype in CUDA_DTYPES:
                    for ex in CUDA_EXECUTIONS:
                        ours = results.get(("ours", net, batch, 1, dtype, ex), [])
                        if NETWORKS[net]:
                            timm_v = results.get(("timm", net, batch, 1, dtype, ex), [])
                            vs = _ratio(ours, timm_v)
                        else:
                            timm_v = []
                            vs = (
                                _ratio(ours, results.get(("ours", BASE[net], batch, 1, dtype, ex), []))
                                + f" vs our {BASE[net]}"
                            )
                        lines.append(
                            f"{net:<16}{batch:>6} {dtype:<5} {ex:<11}| {_fmt_ms(ours)} | {_fmt_ms(timm_v)} | {vs}"
                        )
    if errors:
        lines += ["", "settings that did not run:"]
        lines += [f"  {k[0]} {k[1]} batch {k[2]} threads {k[3]} {k[4]} {k[5]}: {v}" for k, v in errors]
    return lines


def header(args, omp: str) -> list[str]:
    from benchmarks.timm_import import import_timm
    from designer.machine import fingerprint

    _, timm_how = import_timm()
    return [
        f"bench_vs_timm --device {args.device} --rounds {args.rounds} --batches {','.join(map(str, args.batches))}"
        + (f" --threads {','.join(map(str, args.threads))}" if args.device == "cpu" else "")
        + f" --min-run-time {args.min_run_time}",
        f"machine: {fingerprint(args.device).describe()}",
        f"python {sys.version.split()[0]}, {timm_how}; OpenMP wait: {omp}",
        f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--quick", action="store_true", help="few rounds, batch 1, short timing windows: a smoke check")
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="CPU: cycles of interleaved windows (15); CUDA: rounds of processes (3)",
    )
    p.add_argument("--batches", default="1,8")
    p.add_argument("--threads", default="1,2", help="CPU intra-op threads (cpu only)")
    p.add_argument("--min-run-time", type=float, default=None, help="seconds of timed runs per measurement")
    p.add_argument("--child-timeout", type=float, default=300.0)
    p.add_argument("--networks", default=",".join(NETWORKS), help=f"comma-separated subset of {', '.join(NETWORKS)}")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.serve:
        return serve(json.loads(args.serve))
    args.batches = [int(b) for b in args.batches.split(",")]
    args.threads = [int(t) for t in args.threads.split(",")]
    asked = args.networks.split(",")
    if set(asked) - set(NETWORKS):
        p.error(
            f"unknown network(s) {', '.join(sorted(set(asked) - set(NETWORKS)))}; choose from {', '.join(NETWORKS)}"
        )
    args.networks = [n for n in NETWORKS if n in asked]  # table order; mixnet-m-gpu is compared with mixnet-m
    if args.quick:
        args.batches = [1]
    if args.rounds is None:
        args.rounds = (3 if args.quick else 15) if args.device == "cpu" else (1 if args.quick else 3)
    if args.min_run_time is None:
        args.min_run_time = (0.2 if args.quick else 0.4) if args.device == "cpu" else (0.3 if args.quick else 0.5)
    from designer.threads import configure

    omp = configure()  # before any child starts: the children inherit OMP_WAIT_POLICY
    out = (
        args.out or REPO / "benchmarks" / "results" / f"bench_vs_timm_{args.device}{'_quick' if args.quick else ''}.txt"
    )
    lines = header(args, omp)
    shown = len(lines)
    for ln in lines:
        print(ln, flush=True)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    results = collect_cpu(args, log) if args.device == "cpu" else collect(args, log)
    lines.append(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    lines += [
        "",
        *report(args, results),
        "",
        (
            "ms: median over cycles of each window's median (interquartile range over cycles); ratios per cycle, "
            "median (interquartile range)"
            if args.device == "cpu"
            else "ms: median over rounds of each measurement's median (interquartile range over rounds); ratios per "
            "round, median (interquartile range)"
        ),
    ]
    for ln in lines[shown:]:
        print(ln)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    print(f"written: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
