"""What differs per layer type lives in tables keyed by type; they must cover the same types.

The section table (designer.sections.SECTIONS: what the reader accepts), the shape rules (designer.shapes), the
cost rules (designer.cost), the one-line descriptions (designer.describe) and the torch builders
(runtime.model.BUILDERS, with the types it cannot build listed in runtime.model.UNBUILDABLE with the reason).
And the one reference rule (designer.ir.layer_inputs) is what shapes, the graph and the run plan use.
"""

from __future__ import annotations

import pytest

import designer
from designer.cost import COST_RULES
from designer.describe import DESCRIPTIONS, describe, detail
from designer.ir import INPUT, NO_PREVIOUS, layer_inputs, make_layer, references
from designer.sections import SECTIONS
from designer.shapes import SHAPE_RULES
from tests.conftest import shared_cfgs, shared_path

LAYER_TYPES = set(SECTIONS) - {"net"}


def test_every_layer_table_covers_the_section_table():
    assert set(SHAPE_RULES) == LAYER_TYPES, "shape rules"
    assert set(COST_RULES) == LAYER_TYPES, "cost rules"
    assert set(DESCRIPTIONS) == LAYER_TYPES, "descriptions"


def test_runtime_builders_and_the_unbuildable_list_cover_the_section_table():
    from runtime.model import BUILDERS, UNBUILDABLE

    assert set(BUILDERS) | set(UNBUILDABLE) == LAYER_TYPES
    assert not set(BUILDERS) & set(UNBUILDABLE)
    assert all(reason.strip() for reason in UNBUILDABLE.values())


def _net(*layers) -> designer.Network:
    return designer.Network(make_layer("net", width=8, height=8, channels=4), tuple(layers))


# a minimal network in which each layer type the runtime cannot build is valid for the shape rules
def _with(type_: str) -> designer.Network:
    conv = make_layer("convolutional", 3, filters=4, size=1, activation="linear")
    special = {
        "Gaussian_yolo": (
            make_layer("convolutional", 3, filters=15, size=1, activation="linear"),
            make_layer("Gaussian_yolo", 9, classes=6, num=1),
        ),
        "crnn": (conv, make_layer("crnn", 9, output=4, hidden=2, pad=1)),
        "conv_lstm": (conv, make_layer("conv_lstm", 9, output=4, pad=1)),
    }
    return _net(*special.get(type_, (conv, make_layer(type_, 9))))


def test_building_an_unbuildable_type_names_the_layer_and_the_reason():
    from runtime.model import UNBUILDABLE, build_model

    for type_, reason in UNBUILDABLE.items():
        net = _with(type_)
        designer.infer_shapes(net)  # the core models it
        with pytest.raises(designer.CfgError) as e:
            build_model(net)
        assert e.value.line == 9 and f"layer 1 [{type_}]" in e.value.message and reason in e.value.message, type_


def test_antialiasing_is_refused_by_the_runtime_with_the_layer():
    from runtime.model import build_model

    net = _net(make_layer("convolutional", 5, filters=4, size=3, stride=2, pad=1, antialiasing=1, activation="linear"))
    assert designer.infer_shapes(net)[0].out == (4, 4, 4)
    with pytest.raises(designer.CfgError, match=r"layer 0 \[convolutional\].*antialiasing"):
        build_model(net)


def test_every_type_has_a_description_without_errors():
    for type_ in sorted(LAYER_TYPES):
        layer = _with(type_).layers[-1]
        text = describe(layer, 1)
        assert text.startswith("conv" if type_ == "convolutional" else type_), text
        assert text.endswith(detail(layer, 1)), text


@pytest.mark.parametrize("name", shared_cfgs())
def test_one_reference_rule_for_shapes_graph_and_run_plan(name):
    """The graph's edges, the run plan's reads and the shapes' sources all come from designer.ir.layer_inputs."""
    import networkx  # noqa: F401  (the graph view needs it)

    from designer.webapp.graph import layer_graph
    from runtime.model import plain_steps

    net = designer.parse_cfg(shared_path("darknet", "cfg", name), validate=False)
    try:
        shapes = designer.infer_shapes(net)
    except designer.CfgError:
        pytest.skip(f"{name}: darknet cannot build it either")
    g = layer_graph(net, shapes, designer.count(net, shapes))
    steps = plain_steps(net, shapes)
    for i, L in enumerate(net.layers):
        reads = layer_inputs(L, i)
        assert steps[i].reads == reads
        assert set(g.predecessors(i)) == set(reads)
        assert shapes[i].sources == references(L, i)
        assert reads == (() if L.type in NO_PREVIOUS else (i - 1 if i else INPUT,)) + references(L, i)


def test_implicit_reads_nothing_and_route_reads_only_its_layers():
    net = _net(
        make_layer("convolutional", filters=4, size=1, activation="linear"),
        make_layer("route", layers=(-1,)),
        make_layer("implicit", filters=3, atoms=2),
    )
    assert [layer_inputs(L, i) for i, L in enumerate(net.layers)] == [(INPUT,), (0,), ()]
