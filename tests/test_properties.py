"""Property-based tests over random valid designs: lowering, emitting, re-parsing and counting agree.

The params/FMA check is differential: a closed form per block, computed from the spec alone (as the reference
tables in mixnet_arch.md are), against `count` over the lowered Darknet layers.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import designer
from designer.cfg import emit_cfg, parse_cfg
from designer.design_io import dump_yaml, format_block_string, load_yaml, parse_block_string
from designer.spec import Arch, Block, Head, Stem, head_channels, resolve, round_filters

ACTS = ["relu", "swish", "leaky", "mish", "hard_mish", "gelu", "linear"]


@st.composite
def blocks(draw) -> Block:
    n = draw(st.sampled_from([1, 1, 2, 3, 4]))
    kernels = tuple(sorted(draw(st.lists(st.sampled_from([3, 5, 7, 9, 11]), min_size=n, max_size=n, unique=True))))
    return Block(
        out_channels=8 * draw(st.integers(1, 8)),
        repeats=draw(st.integers(1, 3)),
        kernels=kernels,
        expand_ratio=float(draw(st.sampled_from([1, 2, 3, 4, 6]))),
        expand_groups=draw(st.sampled_from([1, 1, 2])),
        project_groups=draw(st.sampled_from([1, 1, 2])),
        dw_group_size=draw(st.sampled_from([0, 0, 2, 4])),
        se_ratio=draw(st.sampled_from([0.0, 0.25, 0.5])),
        stride=draw(st.sampled_from([1, 1, 2])),
        activation=draw(st.sampled_from(ACTS)),
        skip=draw(st.booleans()),
    )


@st.composite
def archs(draw) -> Arch:
    arch = Arch(
        name="random",
        blocks=tuple(draw(st.lists(blocks(), min_size=1, max_size=5))),
        stem=Stem(channels=8 * draw(st.integers(1, 4)), kernel=draw(st.sampled_from([3, 5])),
                  stride=draw(st.sampled_from([1, 2])), activation=draw(st.sampled_from(ACTS))),
        head=Head(channels=16 * draw(st.integers(1, 8)), activation=draw(st.sampled_from(ACTS)),
                  scale_with_width=draw(st.booleans())),
        classes=draw(st.integers(2, 20)),
        input_size=draw(st.sampled_from([32, 40, 64])),
        dropout=draw(st.sampled_from([0.0, 0.2])),
        width_mult=draw(st.sampled_from([0.5, 1.0, 1.3])),
        depth_mult=draw(st.sampled_from([0.5, 1.0, 1.5])),
    )
    assume(not designer.validate(arch))
    return arch


def _out(size: int, k: int, s: int) -> int:
    return (size + 2 * (k // 2) - k) // s + 1


def closed_form(arch: Arch) -> tuple[int, int]:
    """(params, FMA) from the spec alone: conv weights, BN gamma/beta, biases of SE and classifier."""
    hw = _out(arch.input_size, arch.stem.kernel, arch.stem.stride)
    c0 = round_filters(arch.stem.channels, arch.width_mult)
    params = 3 * arch.stem.kernel**2 * c0 + 2 * c0
    fma = 3 * arch.stem.kernel**2 * c0 * hw * hw
    last = c0
    for rb in resolve(arch):
        b = rb.spec
        cin, mid, cout = rb.in_channels, rb.mid_channels, rb.out_channels
        if b.expand_ratio != 1:
            w = cin // b.expand_groups * mid
            params += w + 2 * mid
            fma += w * hw * hw
        hw = _out(hw, 3, rb.stride)
        per = mid // len(b.kernels)
        n_per_group = b.dw_group_size or 1
        w = sum(n_per_group * per * k * k for k in b.kernels)
        params += w + 2 * mid
        fma += w * hw * hw
        if rb.se_channels:
            params += 2 * rb.se_channels * mid + rb.se_channels + mid
            fma += 2 * rb.se_channels * mid
        w = mid // b.project_groups * cout
        params += w + 2 * cout
        fma += w * hw * hw
        last = cout
    head = head_channels(arch)
    params += last * head + 2 * head + head * arch.classes + arch.classes
    fma += last * head * hw * hw + head * arch.classes
    return params, fma


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                      HealthCheck.too_slow])


@FAST
@given(archs())
def test_lower_emit_parse_count_agree(arch):
    net = designer.lower(arch)
    text = emit_cfg(net)
    back = parse_cfg(text)
    assert back == net
    assert emit_cfg(back) == text
    cost = designer.count(back)
    assert (cost.params, cost.fma) == closed_form(arch)
    assert cost.params_stored - cost.params == 2 * sum(
        L["filters"] for L in net.layers if L.type == "convolutional" and L["batch_normalize"])
    assert designer.lint(text) == []


@FAST
@given(archs())
def test_design_yaml_and_block_strings_round_trip(arch):
    assert load_yaml(dump_yaml(arch)) == arch
    for b in arch.blocks:
        assert parse_block_string(format_block_string(b)) == b


@FAST
@given(archs(), st.sampled_from([2, 3, 4, 8]))
def test_gpu_variant_always_lowers_and_keeps_shapes(arch, gs):
    v = designer.gpu_variant(arch, gs)
    assert designer.validate(v) == []
    a, b = designer.lower(arch), designer.lower(v)
    assert [s.out for s in designer.infer_shapes(a)] == [s.out for s in designer.infer_shapes(b)]
    depthwise = designer.lower(designer.gpu_variant(arch, 1))
    assert designer.count(b).fma >= designer.count(depthwise).fma


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]=#;,.-_abcdefgilnorstuvwxyz0123456789 \n", max_size=300))
def test_parser_never_raises_anything_but_cfg_error(text):
    try:
        designer.count(parse_cfg("[net]\nwidth=8\nheight=8\nchannels=3\n" + text))
    except designer.CfgError as e:
        assert e.message
    assert isinstance(designer.lint(text), list)


def test_closed_form_matches_reference_presets():
    for name, other_width in (("mixnet-s", 4 / 3), ("mixnet-m", 0.75), ("efficientnet-b0", 0.75)):
        for arch in (designer.load_preset(name), replace(designer.load_preset(name), width_mult=other_width)):
            c = designer.count(designer.lower(arch))
            assert closed_form(arch) == (c.params, c.fma)
