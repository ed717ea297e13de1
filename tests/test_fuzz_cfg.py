"""Mutated darknet cfgs are accepted or refused with the designer's own error, never a crash (issue 12).

The generator is benchmarks/fuzz_cfg.py (10,000 cases there, results in benchmarks/results/fuzz_cfg.txt);
here a seeded few hundred, and a runtime build (meta device) of a sample of the accepted ones.
"""

from __future__ import annotations

import importlib.util
import random

import pytest

from designer.cfg import parse_cfg
from designer.cost import count
from designer.errors import MixdesignError
from designer.ir import CfgError
from tests.conftest import REPO, shared_path


def _fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_cfg", REPO / "benchmarks" / "fuzz_cfg.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def fuzz():
    shared_path("darknet", "cfg")
    return _fuzz()


def test_mutated_cfgs_never_crash(fuzz):
    cfgs = fuzz.load_cfgs()
    rng = random.Random(12)
    outcomes = {"accepted": 0, "rejected": 0}
    for _ in range(400):
        name, text, ops = fuzz.make_case(cfgs, rng)
        out = fuzz.run_case(text, build=False)
        assert not out.startswith("crash"), (name, ops, out)
        outcomes[out.split(":")[0]] += 1
    assert outcomes["accepted"] > 50 and outcomes["rejected"] > 50  # the mutations reach both sides


def test_accepted_mutants_build_in_the_runtime(fuzz, one_torch_thread):
    pytest.importorskip("torch")
    cfgs = fuzz.load_cfgs()
    rng = random.Random(7)
    built = 0
    for _ in range(200):
        name, text, ops = fuzz.make_case(cfgs, rng)
        try:
            network = parse_cfg(text)
            count(network)
        except MixdesignError:
            continue
        try:
            fuzz.build_check(network)
        except MixdesignError:
            pass  # refused with the designer's own error (unsupported layer, memory estimate, small-input shape)
        built += 1
        if built == 25:
            break
    assert built == 25


@pytest.mark.parametrize(
    "key,value",
    [
        ("stride", "0"),
        ("stride", "-2"),
        ("size", "0"),
        ("groups", "0"),
        ("filters", "-3"),
        ("stride_x", "0"),
        ("dilation", "0"),
        ("filters", "99999999999"),
    ],
)
def test_zero_negative_huge_conv_keys_name_key_and_line(key, value):
    text = (
        "[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\n"
        "activation=leaky\n"
    )
    lines = text.split("\n")
    at = next((i for i, ln in enumerate(lines) if ln.startswith(key + "=")), None)
    if at is None:
        lines.insert(9, f"{key}={value}")
        at = 9
    else:
        lines[at] = f"{key}={value}"
    with pytest.raises(CfgError) as e:
        parse_cfg("\n".join(lines))
    assert e.value.line == at + 1 and f"{key}={value}" in str(e.value)


@pytest.mark.parametrize(
    "section",
    [
        "[maxpool]\nsize=2\nstride=0",
        "[reorg]\nstride=0",
        "[upsample]\nstride=0",
        "[route]\nlayers=-1\ngroups=0",
        "[local_avgpool]\nsize=0\nstride=1",
        "[softmax]\ngroups=0",
    ],
)
def test_zero_in_other_sections_is_a_cfg_error(section):
    text = (
        "[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n\n" + section
    )
    with pytest.raises(CfgError, match=r"=0"):
        parse_cfg(text)


def test_layers_built_in_code_are_checked_too():
    from designer import Network, infer_shapes, make_layer

    net = Network(
        make_layer("net", width=8, height=8, channels=3),
        (make_layer("convolutional", filters=4, size=3, stride=0, activation="linear"),),
    )
    with pytest.raises(CfgError, match="layer 0 .*stride=0"):
        infer_shapes(net)
