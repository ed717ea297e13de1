"""Property-based tests over random valid designs: lowering, emitting, re-parsing and counting agree.

The params/FMA check is differential: a closed form per block, computed with the channel rounding, repeat
scaling, SE width and head width written out here from ../shared/reference/ (never the product's
round_filters/resolve/head_channels), against `count` over the lowered Darknet layers. The rules themselves
are checked against the reference files' tables (per-block in/mid/SE/out, EfficientNet's scaled channels,
timm's totals in models.json).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import designer
from designer.cfg import emit_cfg, parse_cfg
from designer.design_io import dump_yaml, format_block_string, load_yaml, parse_block_string
from designer.spec import Arch, Block, Head, Stem
from tests.conftest import shared_path

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
        se_ratio=draw(st.sampled_from([0.0, 0.25, 0.5, 0.3, 1 / 6])),  # 0.3, 1/6: int() truncation shows
        stride=draw(st.sampled_from([1, 1, 2])),
        activation=draw(st.sampled_from(ACTS)),
        skip=draw(st.booleans()),
    )


@st.composite
def archs(draw) -> Arch:
    arch = Arch(
        name="random",
        blocks=tuple(draw(st.lists(blocks(), min_size=1, max_size=5))),
        stem=Stem(
            channels=8 * draw(st.integers(1, 4)),
            kernel=draw(st.sampled_from([3, 5])),
            stride=draw(st.sampled_from([1, 2])),
            activation=draw(st.sampled_from(ACTS)),
        ),
        head=Head(
            channels=16 * draw(st.integers(1, 8)),
            activation=draw(st.sampled_from(ACTS)),
            scale_with_width=draw(st.booleans()),
        ),
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


# ------------------------------------------------------------------ the reference rules, written here
# Independent of designer/spec.py on purpose: these are the rules as ../shared/reference/mixnet_arch.md (section 4,
# "Width scaling") and efficientnet_arch.md ("MBConv block", "Compound scaling") state them, checked below
# against those files' own tables, so a wrong rule in the product fails the differential tests.


def ref_round_filters(filters: int, multiplier: float) -> int:
    """mixnet_arch.md 4: f = filters*m; new = max(8, int(f + 4) // 8 * 8); +8 if new < 0.9*f; m = 1: untouched."""
    if multiplier == 1.0:
        return filters
    f = filters * multiplier
    new = max(8, int(f + 4) // 8 * 8)
    return new + 8 if new < 0.9 * f else new


def ref_round_repeats(repeats: int, multiplier: float) -> int:
    """efficientnet_arch.md, compound scaling: ceil(depth * r)."""
    return repeats if multiplier == 1.0 else math.ceil(multiplier * repeats)


def ref_se_channels(block_in: int, ratio: float) -> int:
    """Both references: SE bottleneck = max(1, int(block *input* channels x R)), not of the expanded ones."""
    return max(1, int(block_in * ratio)) if ratio > 0 else 0


def ref_head_channels(arch: Arch) -> int:
    """MixNet's head stays 1536 at any width; EfficientNet's 1280 is scaled by round_filters."""
    return ref_round_filters(arch.head.channels, arch.width_mult) if arch.head.scale_with_width else arch.head.channels


def ref_mid(arch: Arch, b: Block, cin: int) -> int:
    """Expanded channels: TF's int(in x e); a width-scaled design (width != 1.0) whose count does not split into
    darknet's equal slices (one per kernel, N channels per group, the grouped 1x1s) takes the nearest count that
    does, ties up, at least one slice each (issue 12's rule; at width 1.0 such a design is invalid instead)."""
    mid = int(cin * b.expand_ratio)
    if arch.width_mult == 1.0 or b.expand_ratio == 1:
        return mid
    n = len(b.kernels)
    m = math.lcm(n, n * (b.dw_group_size or 1), b.project_groups, b.expand_groups)
    return mid if mid % m == 0 else max(m, m * math.floor(mid / m + 0.5))


def ref_blocks(arch: Arch) -> list[tuple[Block, int, int, int, int, int]]:
    """(spec, in, mid, out, stride, se) per block copy: only the first copy strides; mid = rounded in x e."""
    out, cin = [], ref_round_filters(arch.stem.channels, arch.width_mult)
    for b in arch.blocks:
        cout = ref_round_filters(b.out_channels, arch.width_mult)
        for k in range(ref_round_repeats(b.repeats, arch.depth_mult)):
            out.append(
                (b, cin, ref_mid(arch, b, cin), cout, b.stride if k == 0 else 1, ref_se_channels(cin, b.se_ratio))
            )
            cin = cout
    return out


def closed_form(arch: Arch) -> tuple[int, int]:
    """(params, FMA) by the reference rules: conv weights, BN gamma/beta, biases of SE and classifier."""
    hw = _out(arch.input_size, arch.stem.kernel, arch.stem.stride)
    c0 = ref_round_filters(arch.stem.channels, arch.width_mult)
    params = 3 * arch.stem.kernel**2 * c0 + 2 * c0
    fma = 3 * arch.stem.kernel**2 * c0 * hw * hw
    last = c0
    for b, cin, mid, cout, stride, se in ref_blocks(arch):
        if b.expand_ratio != 1:
            w = cin // b.expand_groups * mid
            params += w + 2 * mid
            fma += w * hw * hw
        hw = _out(hw, 3, stride)
        per = mid // len(b.kernels)
        n_per_group = b.dw_group_size or 1
        w = sum(n_per_group * per * k * k for k in b.kernels)
        params += w + 2 * mid
        fma += w * hw * hw
        if se:
            params += 2 * se * mid + se + mid
            fma += 2 * se * mid
        w = mid // b.project_groups * cout
        params += w + 2 * cout
        fma += w * hw * hw
        last = cout
    head = ref_head_channels(arch)
    params += last * head + 2 * head + head * arch.classes + arch.classes
    fma += last * head * hw * hw + head * arch.classes
    return params, fma


def _reference_rows(md: str, title: str) -> list[tuple[int, int, int, int]]:
    """(in, mid, SE channels, out) of every `bI.R` row of the per-block table under `title` in a reference file."""
    text = shared_path("reference", md).read_text()
    table = text[text.index(title) :]
    rows = []
    for line in table.splitlines()[4:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if re.fullmatch(r"b\d+\.\d+", cells[0]):
            se = re.search(r"\((\d+)\)", cells[8])
            rows.append((int(cells[1]), int(cells[3]), int(se.group(1)) if se else 0, int(cells[9])))
    return rows


FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)


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
        L["filters"] for L in net.layers if L.type == "convolutional" and L["batch_normalize"]
    )
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


REFERENCE_TABLES = (
    ("mixnet-s", "mixnet_arch.md", "### MixNet-S"),
    ("mixnet-m", "mixnet_arch.md", "### MixNet-M"),
    ("mixnet-l", "mixnet_arch.md", "### MixNet-L"),
    ("efficientnet-b0", "efficientnet_arch.md", "## EfficientNet-B0 per block"),
)


def test_reference_rules_reproduce_the_reference_block_tables():
    for preset, md, title in REFERENCE_TABLES:
        want = _reference_rows(md, title)
        got = [(cin, mid, se, cout) for _, cin, mid, cout, _, se in ref_blocks(designer.load_preset(preset))]
        assert len(want) >= 16 and got == want, preset


def test_reference_rounding_reproduces_efficientnet_scaling_table():
    """efficientnet_arch.md's compound-scaling table: channels stem/16/24/40/80/112/192/320/head per width."""
    text = shared_path("reference", "efficientnet_arch.md").read_text()
    base = (32, 16, 24, 40, 80, 112, 192, 320, 1280)
    rows = re.findall(r"^\| B(\d) \| ([\d.]+) \| [\d.]+ \| \d+ \| [\d.]+ \| [^|]+ \| ([\d/]+) \|", text, re.M)
    assert len(rows) == 8
    for _, width, channels in rows:
        assert tuple(ref_round_filters(c, float(width)) for c in base) == tuple(map(int, channels.split("/"))), width


def test_closed_form_equals_timm_totals_and_count_for_the_presets():
    models = {m["model"]: m for m in json.loads(shared_path("reference", "models.json").read_text())["models"]}
    for name in ("mixnet-s", "mixnet-m", "mixnet-l", "efficientnet-b0"):
        arch = designer.load_preset(name)
        ref = models[name.replace("-", "_")]
        assert closed_form(arch) == (ref["params"], ref["fma_conv_fc"]), name
        c = designer.count(designer.lower(arch))
        assert (c.params, c.fma) == closed_form(arch), name


def test_closed_form_matches_count_at_other_widths():
    for name, other_width in (("mixnet-s", 4 / 3), ("mixnet-m", 0.75), ("efficientnet-b0", 0.75)):
        arch = replace(designer.load_preset(name), width_mult=other_width)
        c = designer.count(designer.lower(arch))
        assert closed_form(arch) == (c.params, c.fma), name
