"""Calibration on this CPU with tiny designs and a tiny budget (seconds): it round-trips through the workspace and
export/import, and the model it fits reacts to channels per group as measurements do. Tests never assert on time:
the last test compares a ratio of estimates with the same ratio measured (fastest whole passes, which a shared
machine disturbs least)."""

from __future__ import annotations

import itertools
import statistics

import pytest

from designer import load_yaml, parse_cfg
from designer.latency.sampling import random_designs
from designer.latency.setting import Setting
from designer.latency.store import find_model, save_model
from designer.machine import fingerprint
from tests.conftest import TINY_YAML

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_designs(n: int, seed: int = 0):
    base = load_yaml(TINY_YAML)
    return [
        (label, net) for label, _, net in itertools.islice(random_designs(seed, bases=(base,), sizes=(16, 24, 32)), n)
    ]


def test_a_calibration_round_trips_through_the_workspace_and_export_import(tmp_path):
    from designer.workspace import Workspace
    from designer.workspace.transfer import export_workspace, import_workspace
    from runtime.calibrate import calibrate

    setting = Setting.make(threads=1)
    model = calibrate(setting, budget_s=1, designs=tiny_designs(4), progress=False, min_run_time=0.02)
    assert model.metrics["designs"] >= 3 and model.fingerprint == fingerprint("cpu")
    check = tiny_designs(1, seed=5)[0][1]
    with Workspace.open(tmp_path / "a.sqlite") as a:
        save_model(a, model)
        stored = find_model(a, setting)
        assert stored.to_json() == model.to_json()
        export_workspace(a, tmp_path / "shared.sqlite")
    with Workspace.open(tmp_path / "b.sqlite") as b:
        assert import_workspace(b, tmp_path / "shared.sqlite").added["latency_models"] == 1
        assert import_workspace(b, tmp_path / "shared.sqlite").added["latency_models"] == 0  # once only
        back = find_model(b, setting)
    assert back.to_json() == model.to_json()
    assert back.estimate(check).ms == model.estimate(check).ms > 0


def _grouped(groups: int, size: int):
    """Two 3x3 convs over 64 channels at size x size, `groups` groups (64 / groups channels per group)."""
    conv = f"[convolutional]\nfilters=64\nsize=3\nstride=1\npad=1\ngroups={groups}\nactivation=relu\n"
    return parse_cfg(f"[net]\nwidth={size}\nheight={size}\nchannels=64\n{conv}{conv}")


def test_the_estimate_reacts_to_channels_per_group_as_measurements_do():
    """Two 3x3 convs over 64 channels: 32 channels per group is 32x the multiply-adds of depthwise and 8x those of
    4 per group, but on a CPU only a few times the time (depthwise and narrow groups run far below the CPU's
    multiply-add rate). The model's ratios must follow the measured ones, not the FMA's: across kinds (depthwise
    against grouped) and within one (4 against 32 channels per group)."""
    from runtime.calibrate import calibrate, measure_design

    setting = Setting.make(threads=1)
    designs = [(f"g{g} s{s}", _grouped(g, s)) for g in (64, 32, 16, 8, 4, 2) for s in (32, 40, 56)]
    model = calibrate(setting, budget_s=60, designs=designs, progress=False, min_run_time=0.05)
    assert model.metrics["designs"] == len(designs)  # the list ends long before the budget
    probes = [_grouped(g, 48) for g in (64, 16, 2)]  # 1, 4 and 32 channels per group, a size calibration never saw
    # three alternating measurements of each, their medians: a slow spell of a shared host during one of them
    # (seen in CI: the depthwise pass 1.8x its usual time) does not decide the reference
    rounds = [[measure_design(n, setting, min_run_time=0.3) for n in probes] for _ in range(3)]
    estimated = [model.estimate(n) for n in probes]
    for m, e in zip(rounds[0], estimated):
        assert [k.first for k in m.kernels] == [k.first for k in e.kernels] == [0, 1]
    kernel_ms = [statistics.median(r[i].kernel_ms[0] for r in rounds) for i in range(3)]  # the first conv, alone
    total_ms = [statistics.median(r[i].total_ms for r in rounds) for i in range(3)]
    for narrow, fma_ratio in ((0, 32), (1, 8)):
        kernel_ratio = kernel_ms[2] / kernel_ms[narrow]
        assert kernel_ratio < fma_ratio / 2
        assert 0.5 < (estimated[2].kernels[0].ms / estimated[narrow].kernels[0].ms) / kernel_ratio < 2.0, narrow
        pass_ratio = total_ms[2] / total_ms[narrow]
        assert 0.5 < (estimated[2].ms / estimated[narrow].ms) / pass_ratio < 2.0, (narrow, total_ms, estimated)


def test_calibrate_then_estimate_from_the_command_line(tmp_path, capsys):
    import json

    from designer.cli.main import main

    ws = str(tmp_path / "ws.sqlite")
    assert main(["calibrate", "--threads", "1", "--budget", "1", "--sizes", "32", "--quiet", "--workspace", ws]) == 0
    out = capsys.readouterr().out
    assert "calibrated torch on cpu, 1 thread, batch 1, fp32, inference" in out and "stored in" in out
    assert main(["estimate", "mixnet-s", "--size", "32", "--threads", "1", "--json", "--workspace", ws]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["low_ms"] <= d["estimate_ms"] <= d["high_ms"] and d["threads"] == 1
    with pytest.raises(SystemExit) as done:  # argparse refuses a bad size before anything runs
        main(["calibrate", "--threads", "1", "--sizes", "2", "--workspace", ws])
    assert done.value.code == 2 and "--sizes 2: input size 2 is below the minimum 8" in capsys.readouterr().err


def test_a_training_step_is_calibrated_on_the_plain_build_layer_by_layer():
    from designer.latency.fit import fit_model
    from runtime.calibrate import collect

    setting = Setting.make(threads=1, mode="train", batch=2)
    samples = collect(setting, budget_s=1, designs=tiny_designs(3), progress=False, min_run_time=0.02)
    for s in samples:  # every layer up to the logits is one kernel, and each got its own forward+backward time
        assert [k.first for k in s.kernels] == list(range(len(s.kernels)))
        assert all(ms > 0 for ms in s.kernel_ms) and s.total_ms > 0
    model = fit_model(samples, setting, fingerprint("cpu"), seconds=1.0)
    assert "route" in model.kinds and "mixconv" not in model.kinds  # MixConv's split routes, unfused


def test_a_bf16_training_step_is_calibrated_under_autocast_as_bench_runs_it():
    """`mixdesign bench --mode train --dtype bf16` runs fp32 weights under autocast (runtime.train_step); the
    calibration must time that same iteration, not a bf16 input fed to fp32 weights."""
    import torch

    from runtime.calibrate import build_timed, collect

    setting = Setting.make(threads=1, mode="train", batch=2, dtype="bf16")
    seen: list[torch.dtype] = []
    timed = build_timed(tiny_designs(1)[0][1], setting, warmup=0)
    hook = timed.model.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    timed.run()
    hook.remove()
    assert seen == [torch.bfloat16] and next(timed.model.parameters()).dtype == torch.float32
    samples = collect(setting, budget_s=1, designs=tiny_designs(3), progress=False, min_run_time=0.02)
    assert len(samples) == 3 and all(s.total_ms > 0 and all(ms > 0 for ms in s.kernel_ms) for s in samples)


def test_a_refresh_times_the_reference_designs_and_re_levels_the_stored_model(tmp_path):
    """A model calibrated while the machine ran twice as fast (here: a real calibration with its network terms
    halved) estimates half of what the machine now measures; `calibrate --refresh` times the model's reference
    designs again and stores the model re-levelled by about 2x, which estimates then use. The factor is a
    measurement: 2 times whatever the one-second calibration's own level was off by (on a shared host that has
    been 0.55x) and the host's drift over seconds. So the calibration as it came is refreshed first, seconds
    before, and the ratio of the two factors is checked against the 2 put in: a refresh that did not time, did
    not apply or inverted the factor gives about 1 or 0.5."""
    from dataclasses import replace

    from designer.api import estimate, refresh
    from designer.latency.fit import ANCHORS
    from designer.latency.model import NetworkTerms
    from designer.workspace import Workspace
    from runtime.calibrate import calibrate
    from runtime.calibrate import refresh as relevel

    setting = Setting.make(threads=1)
    designs = tiny_designs(5)
    model = calibrate(setting, budget_s=1, designs=designs, progress=False, min_run_time=0.02)
    n = min(ANCHORS, model.metrics["designs"])
    assert len(model.anchors) == n and len({label for label, _ in model.anchors}) == n
    by_label = dict(designs)
    for label, cfg in model.anchors:  # each reference design is kept as the cfg of the design calibration measured
        assert parse_cfg(cfg).layers == by_label[label].layers
    t = model.network
    fast = replace(model, network=NetworkTerms(t.scale / 2, t.per_run_ms / 2, t.per_kernel_ms / 2), uid="fast")
    check = tiny_designs(1, seed=5)[0][1]
    ws_path = tmp_path / "ws.sqlite"
    with Workspace.open(ws_path) as ws:
        save_model(ws, fast)
    as_calibrated = relevel(model, budget_s=2, progress=False).metrics["refresh"]["factor"]
    done = refresh(threads=1, budget_s=2, progress=False, workspace=ws_path)
    r = done.model.metrics["refresh"]
    assert 1.3 < r["factor"] / as_calibrated < 3.0, (r["factor"], as_calibrated)
    assert r["from_uid"] == "fast" and r["references"] == n and r["rounds"] >= 3
    assert done.previous.uid == "fast" and done.model.calibrated == model.created
    found = estimate(check, threads=1, workspace=ws_path)
    assert found.model.uid == done.model.uid  # the newest model for the setting: the refreshed one
    assert found.estimate.ms == pytest.approx(r["factor"] * fast.estimate(check).ms)


def test_a_round_the_host_ran_slow_in_is_divided_out_of_every_design_timed_in_it():
    """Three designs timed in three interleaved rounds; the second round ran 1.5x slow for all of them (a slow
    spell of the host), and design c also varies on its own. Worked by hand: the round speeds are the medians
    over designs of window / the design's median window: round 1 median(1, 1, 4/4.4) = 1, round 2
    median(1.5, 1.5, 6/4.4) = 1.5, round 3 median(1, 1, 1) = 1."""
    from runtime.calibrate import round_normalised

    windows = {"a": [1.0, 1.5, 1.0], "b": [2.0, 3.0, 2.0], "c": [4.0, 6.0, 4.4]}
    normalised, speed = round_normalised(windows)
    assert speed == pytest.approx([1.0, 1.5, 1.0])
    assert normalised == {"a": pytest.approx([1, 1, 1]), "b": pytest.approx([2, 2, 2]), "c": pytest.approx([4, 4, 4.4])}


def test_interleaved_rounds_time_every_design_once_a_round_until_the_caller_has_enough():
    from runtime.calibrate import interleaved_ms

    calls: list[str] = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    times = interleaved_ms(fns, 2, 0.0, after_round=lambda r: r < 3)  # 2 rounds asked; the caller wants a third
    assert [len(t) for t in times.values()] == [3, 3, 3]
    runs = [k for k, _ in itertools.groupby(calls)]  # at least 3 calls per window, one window per design a round
    assert runs == list("abc" * 3)


def test_calibration_totals_are_the_round_normalised_medians_of_designs_measured_together(monkeypatch):
    """measure_designs times the whole passes of the designs measured together in interleaved rounds (some
    before their per-layer timings, the rest after) and takes each one's median after dividing out each round's
    host speed. The windows are given, not timed: a spell of the host slows every design 1.5x in rounds 2 and 3
    and the first design also in round 4 (the spell ended while the others ran). Alone, that design's median
    window would be 1.5x its time; each round's speed (the median over designs: 1, 1.5, 1.5, 1, 1) divided out,
    it is its time again."""
    import runtime.calibrate as rc

    calls = []

    def windows(fns, rounds, window, **kw):
        calls.append(rounds)
        done = sum(calls[1:-1])  # the first call is the untimed warm-up round
        slow = {0: [1.0, 1.5, 1.5, 1.5, 1.0]}
        return {
            key: [(1.0 + key) * f for f in slow.get(key, [1.0, 1.5, 1.5, 1.0, 1.0])[done : done + rounds]]
            for key in fns
        }

    monkeypatch.setattr(rc, "interleaved_ms", windows)
    samples, level = rc.measure_designs(tiny_designs(3), Setting.make(threads=1), min_run_time=0.02)
    assert calls[0] == 1 and sum(calls[1:]) == rc.PASS_ROUNDS and len(calls) == 3 and level is None
    assert [s.total_ms for s in samples] == pytest.approx([1.0, 2.0, 3.0])
    assert all(len(s.kernel_ms) == len(s.kernels) and sum(s.kernel_ms) > 0 for s in samples)


def test_batches_measured_while_the_host_ran_slow_are_brought_to_the_calibrations_median_speed():
    """Three batches whose reference pass took 1.0, 1.5 and 1.2 ms: the host ran at 1/1.2, 1.25 and 1 times its
    median speed (1.2 ms), so their times are divided by 0.833, 1.25 and 1 (worked by hand). Where kernels come
    as shares of the pass (no reference kernels: the ONNX backends), they follow the pass."""
    from designer.latency.fit import DesignSample
    from runtime.calibrate import Level, leveled

    def batch(total: float) -> list[DesignSample]:
        return [DesignSample("d", (), (total / 2, total / 4), total)]

    out = leveled([(batch(10.0), Level(1.0)), (batch(15.0), Level(1.5)), (batch(12.0), Level(1.2))])
    assert [s.total_ms for s in out] == pytest.approx([12.0, 12.0, 12.0])
    assert [s.kernel_ms for s in out] == [pytest.approx((6.0, 3.0))] * 3
    assert leveled([(batch(10.0), None)])[0].total_ms == 10.0  # no reference: as measured


def test_kernels_timed_apart_from_the_passes_are_levelled_by_the_reference_kernels_timed_among_them():
    """The per-layer phase lies between the pass rounds: in batch 2 a spell slowed its kernels 1.5x (the
    reference's kernels took 1.2 ms against a median of 0.8) and not its passes (reference pass at the median,
    1.0 ms). Worked by hand: batch 2's passes stay, its kernels are divided by 1.5; batch 3's passes ran 1.2x
    slow (1.2 ms) and its kernels did not (0.8 ms), so only its passes are divided by 1.2."""
    from designer.latency.fit import DesignSample
    from runtime.calibrate import Level, leveled

    def batch(total: float, kernels: tuple[float, float]) -> list[DesignSample]:
        return [DesignSample("d", (), kernels, total)]

    out = leveled(
        [
            (batch(10.0, (4.0, 4.0)), Level(1.0, 0.8)),
            (batch(10.0, (6.0, 6.0)), Level(1.0, 1.2)),
            (batch(12.0, (4.0, 4.0)), Level(1.2, 0.8)),
            (batch(10.0, (4.0, 4.0)), Level(0.9, 0.7)),
        ]
    )
    assert [s.total_ms for s in out] == pytest.approx([10.0, 10.0, 10.0, 10.0 / 0.9])
    assert [s.kernel_ms for s in out] == [pytest.approx((4.0, 4.0))] * 3 + [pytest.approx((4 / 0.875, 4 / 0.875))]


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_each_batch_times_the_reference_kernels_where_kernels_are_timed_one_by_one(backend):
    """torch times each kernel alone, seconds away from the pass rounds, so the batch's Level carries the
    reference's kernels timed among them; OpenVINO's kernels are profiled shares of the pass, so it has none and
    its kernels follow the pass (leveled)."""
    from runtime.calibrate import _reference_build, measure_designs

    setting = Setting.make(threads=1, backend=backend)
    designs = tiny_designs(2)
    samples, level = measure_designs(
        designs, setting, min_run_time=0.02, reference=_reference_build(designs[0][1], setting)
    )
    assert len(samples) == 2 and level is not None and level.passes > 0
    if backend == "torch":
        assert level.kernels is not None and level.kernels > 0
    else:
        assert level.kernels is None
