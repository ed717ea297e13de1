"""The spec: TF rounding rules, validation messages that name the block and the fix, YAML and block strings."""

from __future__ import annotations

from dataclasses import replace

import pytest

import designer
from designer.design_io import DesignFormatError, format_block_string, load_yaml, parse_block_string
from designer.spec import Block, DesignError, round_filters, round_repeats, split_channels


@pytest.mark.parametrize(
    "c,mult,expected",
    [
        # MixNet-M -> MixNet-L channels (mixnet_arch.md section 4)
        (24, 1.3, 32),
        (32, 1.3, 40),
        (40, 1.3, 56),
        (80, 1.3, 104),
        (120, 1.3, 160),
        (200, 1.3, 264),
        # EfficientNet-B2..B4 (efficientnet_arch.md): 1.1 -> 40: 48, 80: 88; 1.4 -> 1280: 1792
        (40, 1.1, 48),
        (80, 1.1, 88),
        (1280, 1.4, 1792),
        (32, 1.8, 56),
        (16, 0.1, 8),
        (37, 1.0, 37),  # no multiplier: untouched
    ],
)
def test_round_filters(c, mult, expected):
    assert round_filters(c, mult) == expected


def test_round_repeats_and_split():
    assert [round_repeats(r, 1.1) for r in (1, 2, 2, 3, 3, 4, 1)] == [2, 3, 3, 4, 4, 5, 2]  # EfficientNet-B1
    assert split_channels(100, 3) == (34, 33, 33)


def test_efficientnet_b1_scaling_matches_reference():
    b1 = replace(designer.load_preset("efficientnet-b0"), depth_mult=1.1, input_size=240)
    c = designer.count(designer.lower(b1))
    assert (c.params, c.fma) == (7794184, 686802832)  # efficientnet_arch.md: timm efficientnet_b1 at 240


def test_non_divisible_mixconv_names_block_and_nearest_fix():
    rows = list(designer.load_preset("mixnet-s").blocks)
    rows[9] = replace(rows[9], expand_ratio=4.4)  # 120 * 4.4 = 528 at width 1.0: stated, so not rounded
    arch = replace(designer.load_preset("mixnet-s"), blocks=tuple(rows))
    issues = designer.validate(arch)
    assert len(issues) == 1
    i = issues[0]
    assert i.where == "b9.0" and "528 expanded channels" in i.message and "5 kernel groups" in i.message
    assert "525 or 530" in i.fix
    with pytest.raises(DesignError) as e:
        designer.lower(arch)
    assert "b9.0" in str(e.value)


def test_scaled_design_rounds_to_the_nearest_valid_split():
    """Issue 12: width scaling rounds where darknet's equal slices need it (TF's value kept elsewhere)."""
    from designer.spec import rounding_report

    arch = replace(designer.load_preset("mixnet-s"), width_mult=0.75)
    assert designer.validate(arch) == []
    rb = [b for b in designer.resolve(arch) if b.label == "b9.0"][0]
    assert (rb.mid_tf, rb.mid_channels) == (528, 530)
    assert [b.label for b in designer.resolve(arch) if b.mid_tf] == ["b9.0"]
    assert rounding_report(arch) == [
        "row 9 (b9.0): width 0.75 gives 528 -> 530 expanded channels (a multiple of 5 splits into 5 kernel groups)"
    ]


def test_bad_channels_per_group_suggests_divisors():
    m = designer.load_preset("mixnet-m")
    rows = list(m.blocks)
    rows[8] = replace(rows[8], dw_group_size=4)  # 90 channels per kernel group
    issues = designer.validate(replace(m, blocks=tuple(rows)))
    assert issues and issues[0].where == "b8.0" and "does not divide the 90 channels" in issues[0].message
    assert "3 or 5" in issues[0].fix


def test_grouped_1x1_needs_divisible_channels():
    arch = designer.Arch("t", (Block(out_channels=24, expand_ratio=3, expand_groups=5),), stem=designer.Stem(16))
    issues = designer.validate(arch)
    assert issues and "expand groups=5" in issues[0].message and issues[0].where == "b0.0"


@pytest.mark.parametrize(
    "bad,phrase",
    [
        (dict(kernels=(4,)), "must be odd"),
        (dict(stride=3), "stride 3"),
        (dict(repeats=0), "repeats=0"),
    ],
)
def test_row_level_issues(bad, phrase):
    arch = designer.Arch("t", (Block(out_channels=16, **bad),))
    issues = designer.validate(arch)
    assert issues and issues[0].where == "row 0" and phrase in issues[0].message


def test_block_strings_from_reference():
    b = parse_block_string("ir_r3_k3.5.7.9_a1.1_p1.1_s2_e6_c80_se0.25_nsw")
    assert b == Block(
        out_channels=80,
        repeats=3,
        kernels=(3, 5, 7, 9),
        expand_ratio=6,
        expand_groups=2,
        project_groups=2,
        se_ratio=0.25,
        stride=2,
        activation="swish",
    )
    assert format_block_string(b) == "ir_r3_k3.5.7.9_a1.1_p1.1_s2_e6_c80_se0.25_nsw"
    assert parse_block_string("ds_r1_k3_s1_e1_c16").activation == "relu"
    assert parse_block_string("ds_r1_k3_s1_e1_c16", "swish").activation == "swish"
    assert parse_block_string("ir_r1_k3_s1_e6_c16_gs4_noskip").dw_group_size == 4


@pytest.mark.parametrize(
    "text,phrase",
    [
        ("xx_r1_k3_c16", "type 'xx'"),
        ("ir_r1_k3_s1_e6", "needs the output channels"),
        ("ir_r1_k3_c16_nhs", "hard-swish has no darknet activation"),
        ("ir_r1_k3.x_c16", "cannot read token"),
        ("ir_r1_a3_c16", "only 1x1"),
        ("ds_r1_k3_e6_c16", "ds block has no expansion"),
        ("ir_r1_r2_c8", "twice"),
    ],
)
def test_bad_block_strings(text, phrase):
    with pytest.raises(DesignFormatError) as e:
        parse_block_string(text)
    assert phrase in str(e.value)


def test_yaml_uses_safe_loader_and_reports_lines():
    with pytest.raises(DesignFormatError):
        load_yaml("name: x\nblocks: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DesignFormatError) as e:
        load_yaml("name: x\nblocks: [\n  - a\n")
    assert "line" in str(e.value)
    with pytest.raises(DesignFormatError) as e:
        load_yaml("name: x\nwidht_mult: 2\nblocks: [ds_r1_k3_c16]\n")
    assert "widht_mult" in str(e.value)


def test_yaml_accepts_block_mappings():
    arch = load_yaml("name: x\nblocks:\n- {out_channels: 16, kernels: [3, 5], expand_ratio: 4}\n")
    assert arch.blocks[0].kernels == (3, 5) and arch.blocks[0].expand_ratio == 4


def test_import_designer_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, designer; designer.count(designer.lower(designer.load_preset('mixnet-m'))); "
        "print(sorted(m for m in ('torch', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
