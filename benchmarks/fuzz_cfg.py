"""Mutation fuzzing of darknet's own cfgs: every mutated cfg is accepted or refused with the designer's error.

Each case takes one cfg from ../shared/darknet/cfg and applies 1-3 mutations (delete, duplicate or swap
lines; a number made bad, zero, negative or huge; an inline comment; an unknown key or section; truncation).
The designer then reads it (parse_cfg, shapes) and counts it (designer.cost). An accepted cfg is set to a
small input (64x64 where it was larger), checked against the memory estimate (designer.memory, a 512 MB
budget here) and built in the torch runtime on the meta device (construction and a forward pass of shapes,
no allocation); with --real, networks under 2M params are also built for real and run once.

Outcomes: accepted | rejected (a designer.errors.MixdesignError, counted by class) | crash (anything else)
| hang (over the per-case timeout, SIGALRM). Usage:

    python benchmarks/fuzz_cfg.py [--cases 10000] [--seed 0] [--timeout 10] [--no-build] [--real]

tests/test_fuzz_cfg.py runs a few hundred cases of the same generator.
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CFG_DIR = REPO.parent / "shared" / "darknet" / "cfg"
SMALL = 64
BUILD_BUDGET = 512 * 10**6  # bytes the fuzz build may ask for (meta build allocates nothing; --real does)

NUMBERS = (
    "0",
    "-1",
    "-7",
    "1e9",
    "2147483648",
    "99999999999999999999",
    "1e999",
    "abc",
    "1..2",
    "",
    "0x10",
    "nan",
    "inf",
    "3.5",
    "1,2",
    "-0",
    "+2",
    "65536",
    "1000000",
    "9" * 5000,
    "1" + "0" * 400 + ".5",
)
KEYS = (
    "stride",
    "size",
    "filters",
    "groups",
    "pad",
    "padding",
    "dilation",
    "layers",
    "from",
    "classes",
    "num",
    "mask",
    "width",
    "height",
    "channels",
    "batch",
    "subdivisions",
    "stride_x",
    "stride_y",
    "output",
    "probability",
    "group_id",
    "out_channels",
    "reverse",
    "coords",
    "side",
    "crop_height",
    "hidden",
)
SECTIONS = (
    "convolutional",
    "maxpool",
    "route",
    "shortcut",
    "upsample",
    "avgpool",
    "reorg",
    "yolo",
    "connected",
    "dropout",
    "softmax",
    "local_avgpool",
    "scale_channels",
    "sam",
    "crop",
    "conv_lstm",
    "bogus",
    "Conv",
    "net",
    "region",
    "batchnorm",
    "rnn",
    "local",
)


class Hang(Exception):
    pass


def load_cfgs(directory: Path = CFG_DIR) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*.cfg"))}


def _value_lines(lines: list[str]) -> list[int]:
    return [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith(("#", ";", "["))]


def mutate_once(lines: list[str], rng: random.Random) -> tuple[list[str], str]:
    """One mutation; returns the new lines and its name."""
    lines = list(lines)
    op = rng.choice(
        (
            "delete",
            "duplicate",
            "swap",
            "number",
            "number",
            "number",
            "key",
            "comment",
            "unknown_key",
            "section",
            "truncate",
            "blank_value",
        )
    )
    vals = _value_lines(lines)
    n = len(lines)
    if op == "delete" and n > 1:
        del lines[rng.randrange(n)]
    elif op == "duplicate" and n:
        i = rng.randrange(n)
        lines.insert(rng.randrange(n + 1), lines[i])
    elif op == "swap" and n > 1:
        i, j = rng.randrange(n), rng.randrange(n)
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "number" and vals:
        i = rng.choice(vals)
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}={rng.choice(NUMBERS)}"
    elif op == "key" and vals:
        i = rng.choice(vals)
        lines.insert(i, f"{rng.choice(KEYS)}={rng.choice(NUMBERS)}")
    elif op == "comment" and vals:
        i = rng.choice(vals)
        lines[i] = lines[i] + rng.choice(("#x", " # 3", ";y", "#"))
    elif op == "unknown_key" and vals:
        lines.insert(rng.choice(vals), f"no_such_key_{rng.randrange(9)}=1")
    elif op == "section":
        lines.insert(rng.randrange(n + 1), f"[{rng.choice(SECTIONS)}]")
    elif op == "truncate" and n:
        text = "\n".join(lines)
        cut = rng.randrange(len(text) + 1)
        return text[:cut].split("\n"), op
    elif op == "blank_value" and vals:
        i = rng.choice(vals)
        lines[i] = lines[i].split("=", 1)[0] + "="
    return lines, op


def make_case(cfgs: dict[str, str], rng: random.Random) -> tuple[str, str, list[str]]:
    """(source cfg name, mutated text, mutation names)."""
    name = rng.choice(sorted(cfgs))
    lines = cfgs[name].split("\n")
    ops = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        lines, op = mutate_once(lines, rng)
        ops.append(op)
    return name, "\n".join(lines), ops


def _alarm(signum, frame):
    raise Hang()


def build_check(network, real: bool = False) -> None:
    """Build the runtime model of an accepted network at a small input (a MixdesignError if it cannot)."""
    import torch

    from designer.cfg import with_net
    from designer.memory import check_fits
    from runtime.model import build_model

    c, h, w = network.input_shape
    if h > SMALL or w > SMALL:
        network = with_net(network, width=min(w, SMALL), height=min(h, SMALL))
    est = check_fits(network, 1, limit=BUILD_BUDGET)  # after the resize: shapes re-checked by count()
    with torch.device("meta"):
        model = build_model(network)
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *network.input_shape)))
    if real and est.params_bytes < 8 * 10**6:
        model = build_model(network).eval()
        with torch.no_grad():
            model(torch.zeros((1, *network.input_shape)))


def run_case(text: str, build: bool = True, real: bool = False) -> str:
    """'accepted' | 'rejected:<ErrorClass>' | 'crash:<ExceptionClass>' (raises Hang on timeout)."""
    from designer.cfg import parse_cfg
    from designer.cost import count
    from designer.errors import MixdesignError

    try:
        network = parse_cfg(text)
        count(network)
        if build:
            build_check(network, real)
    except Hang:
        raise
    except MixdesignError as e:
        return f"rejected:{type(e).__name__}"
    except Exception as e:  # noqa: BLE001 - a crash is what this script counts
        return f"crash:{type(e).__name__}"
    return "accepted"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--no-build", action="store_true", help="skip the runtime build of accepted cfgs")
    ap.add_argument("--real", action="store_true", help="also build and run small accepted networks for real")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cfgs = load_cfgs()
    if not cfgs:
        print(f"no cfgs in {CFG_DIR}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    ops_count: collections.Counter[str] = collections.Counter()
    crashes: list[str] = []
    slowest: list[tuple[float, int, str, str, str]] = []
    signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    for k in range(args.cases):
        name, text, ops = make_case(cfgs, rng)
        ops_count.update(ops)
        t_case = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, args.timeout)
            try:
                out = run_case(text, build=not args.no_build, real=args.real)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Hang:
            out = "hang"
        slowest.append((time.perf_counter() - t_case, k, name, "+".join(ops), out))
        slowest = sorted(slowest, reverse=True)[:5]
        counts[out] += 1
        if out.startswith(("crash", "hang")) and len(crashes) < 20:
            crashes.append(f"case {k} ({name}, {'+'.join(ops)}): {out}")
            if out.startswith("crash"):
                try:
                    run_case(text, build=not args.no_build, real=args.real)
                    from designer.cfg import parse_cfg

                    parse_cfg(text)
                except Exception:  # noqa: BLE001
                    crashes.append(traceback.format_exc(limit=-3))
    wall = time.perf_counter() - t0
    accepted = counts["accepted"]
    rejected = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("rejected:")}
    crash = sum(v for k, v in counts.items() if k.startswith("crash"))
    print(
        f"fuzz_cfg: {args.cases} mutated cfgs from {len(cfgs)} files in {CFG_DIR.name}/, seed {args.seed}, "
        f"timeout {args.timeout:g} s per case, runtime build: "
        f"{'off' if args.no_build else 'meta device' + (' + real under 2M params' if args.real else '')}"
    )
    print("mutations applied: " + ", ".join(f"{k} {v}" for k, v in sorted(ops_count.items())))
    print(f"accepted  {accepted}")
    print(f"rejected  {sum(rejected.values())}  (" + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) + ")")
    print(
        f"crashes   {crash}"
        + ("  (" + ", ".join(f"{k[6:]} {v}" for k, v in counts.items() if k.startswith("crash")) + ")" if crash else "")
    )
    print(f"hangs     {counts['hang']}")
    print(f"wall time {wall:.1f} s ({1000 * wall / max(1, args.cases):.1f} ms per case)")
    print(
        "slowest cases: "
        + "; ".join(f"case {k} {name} {ops} -> {out} {sec:.2f} s" for sec, k, name, ops, out in slowest)
    )
    for line in crashes:
        print(line)
    return 1 if crash or counts["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
