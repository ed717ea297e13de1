"""Malformed cfgs: a CfgError naming the line and what is wrong, never a traceback or a silently wrong net."""

from __future__ import annotations

import json
import re

import pytest

import designer
from designer.cfg import lint, parse_cfg
from tests.conftest import shared_path

NET = "[net]\nwidth=16\nheight=16\nchannels=3\n"  # lines 1-4
CONV = "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"

# (id, cfg text, expected line, a phrase the message must contain)
CASES = [
    ("option_before_net", "width=16\n" + NET, 1, "before the first section"),
    ("no_net_first", CONV + NET, 1, "first section must be [net]"),
    ("bom", "\ufeff" + NET + CONV, 1, "byte-order mark"),
    ("unknown_section", NET + "\n[foo]\nx=1\n", 6, "unknown section [foo]"),
    ("case_section", NET + "\n[Convolutional]\nfilters=4\n", 6, "did you mean [convolutional]"),
    (
        "bad_int",
        NET + "\n[convolutional]\nfilters=eight\nsize=3\nactivation=leaky\n",
        7,
        "filters='eight' is not an integer",
    ),
    ("bad_float", NET + "\n" + CONV + "\n[dropout]\nprobability=0.2.5\n", 14, "not a number"),
    (
        "bad_activation",
        NET + "\n[convolutional]\nfilters=4\nsize=1\nactivation=swishh\n",
        9,
        "unknown activation 'swishh'",
    ),
    (
        "inline_comment_string",
        NET + "\n[convolutional]\nfilters=4\nsize=1\nactivation=leaky # comment\n",
        9,
        "inline comment",
    ),
    ("no_equals", NET + "\n[convolutional]\nfilters 4\n", 7, "expected key=value"),
    ("header_junk", NET + "\n[convolutional] x\nfilters=4\n", 6, "malformed section header"),
    ("route_out_of_range", NET + "\n" + CONV + "\n[route]\nlayers=-3\n", 13, "refers to layer -2"),
    ("route_forward_ref", NET + "\n" + CONV + "\n[route]\nlayers=5\n", 13, "does not exist yet"),
    ("route_missing_layers", NET + "\n" + CONV + "\n[route]\ngroups=2\n", 13, "needs layers="),
    (
        "route_size_mismatch",
        NET + "\n" + CONV + "\n[maxpool]\nsize=2\nstride=2\n\n[route]\nlayers=-1,-2\n",
        17,
        "differ in size",
    ),
    (
        "shortcut_mismatch",
        NET + "\n" + CONV + "\n[maxpool]\nsize=2\nstride=2\n\n[shortcut]\nfrom=-2\nactivation=linear\n",
        17,
        "same width and height",
    ),
    ("shortcut_nofrom", NET + "\n" + CONV + "\n[shortcut]\nactivation=linear\n", 13, "needs from="),
    ("scale_channels_wrong_prev", NET + "\n" + CONV + "\n[scale_channels]\nfrom=-1\n", 13, "must be 1x1x8"),
    (
        "yolo_filters",
        NET.replace("16", "32") + "\n" + CONV + "\n[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23\nclasses=80\nnum=3\n",
        13,
        "filters=255",
    ),
    ("no_input_size", "[net]\nbatch=1\n\n" + CONV, 1, "needs width, height and channels"),
    ("steps_without_scales", NET + "policy=steps\nsteps=100\n\n" + CONV, 1, "needs both steps= and scales="),
    ("no_layers", NET, 1, "no layers"),
    (
        "groups_not_dividing",
        NET + "\n[convolutional]\nfilters=4\nsize=3\npad=1\ngroups=2\nactivation=leaky\n",
        6,
        "groups=2 does not divide its 3 input channels",
    ),
    ("second_net", NET + "\n" + CONV + "\n[net]\nwidth=8\n", 13, "second [net]"),
    (
        "share_mismatch",
        NET + "\n" + CONV + "\n[convolutional]\nfilters=8\nsize=1\nshare_index=0\nactivation=linear\n",
        13,
        "share_index=0",
    ),
    ("empty_list", NET + "\n" + CONV + "\n[route]\nlayers=,\n", 14, "has no values"),
]


@pytest.mark.parametrize("text,line,phrase", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_cfg_names_the_line(text, line, phrase):
    with pytest.raises(designer.CfgError) as e:
        parse_cfg(text)
    assert e.value.line == line, e.value
    assert phrase in e.value.message, e.value.message
    assert str(e.value).startswith(f"line {line}:")
    # lint reports the same problem without raising
    diags = lint(text)
    assert any(d.severity == "error" and d.line == line for d in diags), diags


# What the designer must do with each odd input of ../shared/darknet/cases/parser_behaviour.json (darknet's own
# reaction is recorded there): ("error", line, phrase) = a CfgError at that line, also an error in lint;
# ("lint", line, phrase) = parsed, with a lint warning at that line; ("ok", 0, "") = parsed, nothing to say.
# Parsed cases must also get darknet's printed layer shapes.
PARSER_BEHAVIOUR = {
    "avgpool_keys": ("lint", 15, "[avgpool] does not read 'size'"),
    "bad_activation": ("error", 16, "unknown activation 'swishh'"),
    "case_section": ("error", 13, "did you mean [convolutional]"),
    "crlf_spaces": ("ok", 0, ""),  # darknet strips spaces and CR: a normal cfg
    "dup_key": ("lint", 8, "duplicate key 'filters'"),
    "empty_value": ("lint", 7, "filters= has no value"),
    "inline_comment": ("error", 10, "inline comment in a value"),
    "line_without_equals": ("error", 6, "expected key=value, got 'nokey'"),  # darknet drops the line silently
    "no_channels": ("error", 1, "needs width, height and channels"),
    "no_net_first": ("error", 1, "first section must be [net]"),
    "option_before_section": ("error", 1, "before the first section"),  # darknet: SIGSEGV
    "route_ok": ("ok", 0, ""),
    "route_out_of_range": ("error", 13, "refers to layer -2"),  # darknet: a 0x0x0 route, exit 0
    "route_size_mismatch": ("error", 16, "differ in size"),
    "scale_nofrom": ("error", 15, "[scale_channels] needs from="),
    "share": ("error", 13, "share_index=0"),
    "shortcut_nofrom": ("error", 21, "[shortcut] needs from="),
    "steps_noscales": ("error", 1, "needs both steps= and scales="),
    "subdiv_gt_batch": ("ok", 0, ""),  # darknet accepts it (subdivisions only matter for training)
    "unknown_section": ("error", 13, "unknown section [foo]"),
    "utf8_bom": ("error", 1, "before the first section"),  # darknet: SIGSEGV
    "yolo_mismatch": ("error", 16, "set filters=6"),
}


def _darknet_shapes(messages: list[str]) -> list[tuple[int, ...]]:
    """The output of each layer darknet printed: (h, w, c), or (outputs,) for a flat one like [avgpool]."""
    out = []
    for m in messages:
        if "->" not in m:
            continue
        tail = m.split("->", 1)[1]
        hwc = re.match(r"\s*(\d+) x\s*(\d+) x\s*(\d+)", tail)
        out.append(tuple(map(int, hwc.groups())) if hwc else (int(tail.split()[0]),))
    return out


def _parser_cases() -> list[dict]:
    return json.loads(shared_path("darknet", "cases", "parser_behaviour.json").read_text())


def test_every_parser_behaviour_case_has_an_expected_outcome():
    assert sorted(c["case"] for c in _parser_cases()) == sorted(PARSER_BEHAVIOUR)


@pytest.mark.parametrize("name", sorted(PARSER_BEHAVIOUR))
def test_parser_behaviour_case(name):
    """Each odd input darknet mis-reads, crashes on or accepts (parser_behaviour.json) gets its specific outcome."""
    case = next((c for c in _parser_cases() if c["case"] == name), None)
    if case is None:
        pytest.skip(f"parser_behaviour.json has no case {name!r}")
    kind, line, phrase = PARSER_BEHAVIOUR[name]
    text = case["cfg_text"]
    diags = [d for d in lint(text) if d.severity in ("warning", "error")]
    if kind == "error":
        with pytest.raises(designer.CfgError) as e:
            parse_cfg(text)
        assert e.value.line == line and phrase in e.value.message, e.value
        assert any(d.severity == "error" and d.line == line and phrase in d.message for d in diags), diags
        return
    net = parse_cfg(text)
    if kind == "lint":
        assert [d.severity for d in diags if d.line == line and phrase in d.message] == ["warning"], diags
        assert not [d for d in diags if d.severity == "error"], diags
    else:
        assert diags == [], diags
    shapes = designer.infer_shapes(net)
    printed = _darknet_shapes(case["messages"])
    assert len(printed) == len(net.layers)
    assert [(s.h, s.w, s.c) if len(p) == 3 else (s.outputs,) for s, p in zip(shapes, printed)] == printed


def test_lint_reports_silent_misreads():
    text = (
        NET + "\n[convolutional]\nfilters=4\nfilters=8\nsize=1\nbogus=1\nstride=1 # one\n"
        "\n[convolutional]\nfilters=4\nsize=1\n\n[route]\nlayers=-1\ngroups=3\n"
    )
    msgs = [(d.line, d.severity, d.message) for d in lint(text)]
    text_all = "\n".join(m for _, _, m in msgs)
    assert any(l == 8 and "duplicate key 'filters'" in m for l, _, m in msgs)
    assert any(l == 10 and "does not read 'bogus'" in m for l, _, m in msgs)
    assert any(l == 11 and "inline comment" in m for l, _, m in msgs)
    assert any(l == 13 and "without activation=" in m for l, _, m in msgs)
    assert any(l == 6 and "without activation=" in m for l, _, m in msgs)
    assert "route groups=3 does not divide the 4 channels" in text_all


def test_lint_on_clean_export_is_empty():
    assert lint(designer.emit_cfg(designer.lower(designer.load_preset("mixnet-m")))) == []


def test_crlf_and_spaces_read_like_darknet():
    text = "[net]\r\n width = 8 \r\n\theight=8\r\nchannels = 3\r\n\r\n[ convolutional ]\r\nfilters = 4\r\nsize=3\r\npad = 1\r\nactivation = l e a k y\r\n"
    net = parse_cfg(text)
    assert net.layers[0]["activation"] == "leaky" and net.input_shape == (3, 8, 8)


def test_first_duplicate_wins():
    net = parse_cfg(NET + "\n[convolutional]\nfilters=4\nfilters=8\nsize=1\nactivation=linear\n")
    assert net.layers[0]["filters"] == 4
