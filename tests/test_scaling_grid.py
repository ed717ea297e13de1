"""Issue 12: width and depth scaling never produce an invalid design (every preset, the full grid).

Widths 0.25..2.0 and depths 0.25..2.0 in steps of 0.05 (36 x 36 per preset) validate; every width at depths
0.25, 1.0 and 2.0 also lowers and counts (shapes checked). At 1.0 the presets stay exact
(tests/test_presets.py); the --dw-group-size variants validate over the width grid too.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

import designer
from designer.spec import mid_multiple, resolve, rounding_report

GRID = [round(0.25 + 0.05 * i, 2) for i in range(36)]


@pytest.mark.parametrize("name", designer.preset_names())
def test_every_width_and_depth_validates(name):
    base = designer.load_preset(name)
    bad = [
        (w, d, str(designer.validate(replace(base, width_mult=w, depth_mult=d))[0]))
        for w in GRID
        for d in GRID
        if designer.validate(replace(base, width_mult=w, depth_mult=d))
    ]
    assert not bad, bad[:3]


@pytest.mark.parametrize("name", designer.preset_names())
def test_every_width_lowers_and_counts(name):
    base = designer.load_preset(name)
    for w in GRID:
        for d in (0.25, 1.0, 2.0):
            arch = replace(base, width_mult=w, depth_mult=d)
            net = designer.lower(arch)
            assert designer.count(net).params > 0
            for rb in resolve(arch):  # TF's value is kept wherever it already splits; rounded ones are reported
                assert rb.mid_channels % mid_multiple(rb.spec) == 0
                assert rb.mid_tf == 0 or abs(rb.mid_tf - rb.mid_channels) <= mid_multiple(rb.spec) // 2
            notes = rounding_report(arch)
            assert len(notes) == len({rb.row for rb in resolve(arch) if rb.mid_tf})
            assert all(f"# rounded: {n}" in net.design for n in notes)


@pytest.mark.parametrize("group_size", [2, 4, 8, 16])
def test_dw_group_size_variants_validate_over_the_width_grid(group_size):
    for name in designer.preset_names():
        base = designer.load_preset(name)
        for w in GRID[::3]:
            arch = designer.gpu_variant(replace(base, width_mult=w), group_size)
            assert designer.validate(arch) == [], (name, w, group_size)


def test_readme_example_width_half_now_works():
    arch = replace(designer.load_preset("mixnet-s"), width_mult=0.5)
    assert designer.validate(arch) == []
    assert rounding_report(arch) == [
        "row 9 (b9.0): width 0.5 gives 384 -> 385 expanded channels (a multiple of 5 splits into 5 kernel groups)"
    ]
