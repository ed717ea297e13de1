"""The app's pure helpers (designer/webapp/): stage table, graph, import, export, references, jobs. No streamlit run."""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import replace

import pytest

import designer
from designer import DesignIssue, emit_cfg, load_preset, lower, parse_cfg
from designer.edits import IMAGENET_RECIPE
from designer.webapp import graph, jobs, stages
from designer.webapp.analysis import analyse, layer_records, stage_records
from designer.webapp.export import bundle, readme, training_cfg
from designer.webapp.importer import MAX_UPLOAD_BYTES, import_bytes, import_text
from designer.webapp.model import LayersDesign, lowered
from designer.webapp.references import reference_models

pytestmark = pytest.mark.app

# A small hand-written darknet cfg (not made by this tool): a residual unit, a route and a maxpool.
PLAIN_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=leaky

[shortcut]
from=-2
activation=linear

[route]
layers=-1,0

[maxpool]
size=2
stride=2

[convolutional]
filters=10
size=1
stride=1
pad=1
activation=linear

[avgpool]

[softmax]
"""


# ------------------------------------------------------------------ stage table


def test_rows_round_trip_to_the_same_blocks():
    arch = load_preset("mixnet-m")
    blocks, issues = stages.rows_to_blocks(stages.arch_rows(arch))
    assert issues == [] and blocks == arch.blocks


def test_apply_edits_edits_deletes_and_adds_in_displayed_order():
    arch = load_preset("mixnet-s")
    rows = stages.arch_rows(arch)
    out = stages.apply_edits(
        rows,
        {
            "edited_rows": {"1": {"repeats": 3}},
            "deleted_rows": [0],
            "added_rows": [{"out channels": 48, "issue": "ignored"}],
        },
    )
    assert len(out) == len(rows)  # one deleted, one added
    assert out[0]["repeats"] == 3  # the edited row 1 is now row 0
    assert out[-1]["out channels"] == 48 and "issue" not in out[-1]
    assert out[-1]["kernels"] == rows[-1]["kernels"]  # an added row starts as a copy of the last one


@pytest.mark.parametrize(
    "col, value, fragment",
    [
        ("kernels", "3.x", "not numbers separated"),
        ("repeats", None, "is empty"),
        ("repeats", 1.5, "not a whole number"),
        ("activation", "hard_swish", "unknown activation"),
    ],
)
def test_unreadable_cells_are_issues_on_their_row(col, value, fragment):
    rows = stages.arch_rows(load_preset("mixnet-m"))
    rows[4][col] = value
    arch, issues = stages.with_rows(load_preset("mixnet-m"), rows)
    assert arch is None
    assert [i.where for i in issues] == ["row 4"] and fragment in issues[0].message


def test_validate_issues_map_back_to_table_rows():
    arch = load_preset("mixnet-m")
    rows = stages.arch_rows(arch)
    rows[1]["kernels"] = "3.5.7.9.11"  # 144 expanded channels do not split into 5 groups
    new, issues = stages.with_rows(arch, rows)
    assert new is None
    assert stages.issues_by_row(issues).keys() == {1}
    rec = stages.table_records(arch, rows, issues)
    assert rec[1]["issue"].startswith("⚠") and "Fix:" in rec[1]["issue"] and rec[0]["issue"] == ""
    assert stages.issue_row(DesignIssue("b7.2", "x")) == 7 and stages.issue_row(DesignIssue("head", "x")) is None


def test_table_records_show_resolved_channels_and_block_strings():
    arch = load_preset("mixnet-m")
    rec = stages.table_records(arch, stages.arch_rows(arch), [])
    assert rec[1]["channels in>mid>out"] == "24>144>32"
    assert rec[1]["block string"] == designer.format_block_string(arch.blocks[1])
    assert [r["row"] for r in rec] == list(range(len(arch.blocks)))


# ------------------------------------------------------------------ graph and analysis


def test_references_keep_the_written_value_and_the_absolute_index():
    net = parse_cfg(PLAIN_CFG)
    refs = graph.reference_rows(net, designer.infer_shapes(net))
    assert [(r["layer"], r["key"], r["written in cfg"], r["resolves to layer"]) for r in refs] == [
        (2, "from", -2, 0),
        (3, "layers", -1, 2),
        (3, "layers", 0, 0),
    ]
    assert refs[2]["relative form"] == -3  # absolute 0 written relative at layer 3


def test_layer_graph_edges_follow_darknet_inputs():
    net = parse_cfg(PLAIN_CFG)
    a = analyse(net)
    g = graph.layer_graph(net, a.shapes, a.cost)
    assert set(g.predecessors(3)) == {2, 0}  # a route reads only its layers=, not layer 2 as "previous"
    assert g.edges[2, 3]["kind"] == "ref" and g.edges[1, 2]["kind"] == "prev"
    assert set(g.predecessors(2)) == {1, 0}  # shortcut: previous layer and from=
    assert graph.INPUT in g.predecessors(0)


def test_design_groups_are_blocks_and_expand_into_layers_with_refs():
    arch = load_preset("mixnet-m")
    low = lowered(arch)
    a = analyse(low.network, low.spans, arch)
    assert [grp.label for grp in a.groups][:3] == ["stem", "b0.0", "b1.0"] and a.groups[-1].label == "head"
    assert a.groups[3].title.startswith("k3 e3 s1 dw 32>96>32")
    g = graph.layer_graph(a.network, a.shapes, a.cost)
    dot = graph.to_dot(g, a.groups, ["b3.0"])
    assert "subgraph cluster_4" in dot and "n26 [" in dot and "g5 [" in dot and "n40 [" not in dot
    assert 'label="layers=-7 = L19"' in dot  # the concat route at 26 reads 19 as -7
    assert "route layers=-7,-5,-3,-1 (= L19,21,23,25)" in dot
    collapsed = graph.to_dot(g, a.groups)
    assert "n26" not in collapsed and collapsed.count("->") < 60


def test_chunks_cover_every_layer_once_and_stay_small():
    net = parse_cfg(PLAIN_CFG)
    for target in (2, 3, 10):
        ch = graph.chunk_groups(net, target=target, max_size=max(4, target))
        assert ch[0].start == 0 and ch[-1].end == len(net.layers)
        assert all(a.end == b.start for a, b in zip(ch, ch[1:]))
    # a long chain of convs is cut into pieces no longer than max_size
    chain = PLAIN_CFG.split("[softmax]")[0] + "".join(
        "\n[convolutional]\nfilters=10\nsize=1\nstride=1\npad=1\nactivation=linear\n" for _ in range(40)
    )
    long = parse_cfg(chain.replace("[avgpool]\n", "") + "\n[avgpool]\n\n[softmax]\n")
    ch = graph.chunk_groups(long, target=10, max_size=16)
    assert max(c.end - c.start for c in ch) <= 16 and sum(c.end - c.start for c in ch) == len(long.layers)


def test_crossings_count_live_tensors():
    net = parse_cfg(PLAIN_CFG)
    cross = graph.crossings(net)
    # layer 0 is read by layer 1, the shortcut (2) and the route (3)
    assert cross[1:5] == [1, 2, 2, 1]  # 0|1: layer 0; 1|2: layers 0, 1; 2|3: layers 0, 2; 3|4: the route only


def test_layer_and_stage_tables_add_up_to_the_totals():
    arch = load_preset("mixnet-m")
    low = lowered(arch)
    a = analyse(low.network, low.spans, arch)
    layers = layer_records(a)
    st = stage_records(a)
    assert sum(r["FMA (multiply-adds)"] for r in layers) == a.cost.fma == sum(r["FMA (multiply-adds)"] for r in st)
    assert sum(r["params"] for r in st) == a.cost.params
    assert [r["stage"] for r in st] == ["stem"] + [f"row {i}" for i in range(len(arch.blocks))] + ["head"]


# ------------------------------------------------------------------ import


def test_import_round_trips_a_designer_cfg_as_an_editable_design():
    arch = designer.gpu_variant(load_preset("mixnet-m"), 4)
    res = import_text(emit_cfg(lower(arch)), "x.cfg")
    assert res.kind == "designer-cfg" and res.design == arch


def test_import_of_a_hand_edited_designer_cfg_uses_its_layers():
    text = emit_cfg(lower(load_preset("mixnet-s"))).replace("activation=swish\n", "activation=mish\n", 1)
    assert "activation=mish" in text
    res = import_text(text, "edited.cfg")
    assert res.kind == "layers-cfg" and isinstance(res.design, LayersDesign)
    assert "differ" in res.notes[0]


def test_import_plain_cfg_and_yaml():
    res = import_text(PLAIN_CFG, "small.cfg")
    assert res.kind == "layers-cfg" and res.design.name == "small" and len(res.design.network.layers) == 8
    res = import_text(designer.dump_yaml(load_preset("efficientnet-b0")), "e.yaml")
    assert res.kind == "design-yaml" and res.design == load_preset("efficientnet-b0")


@pytest.mark.parametrize(
    "data, name, fragment, line",
    [
        (PLAIN_CFG.replace("activation=leaky", "activation=leaky # x", 1).encode(), "a.cfg", "inline comment", 12),
        (PLAIN_CFG.replace("from=-2", "from=-9").encode(), "a.cfg", "refers to layer", 0),
        (b"[net]\nwidth=1\n\xff\xfe", "a.cfg", "not UTF-8", 3),
        (b"name: x\nblocks: [ir_r1_k3_s1_e6_c16_qq]\n", "a.yaml", "cannot read token", 0),
        (b"name: x\nblocks: [ir_r1_k3.5_s1_e1_c15]\nstem: {channels: 15}\n", "a.yaml", "split evenly", 0),
        (b"!!python/object/apply:os.system ['true']\n", "a.yaml", "line 1: not valid YAML", 0),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "a.cfg", "the limit is 2 MB", 0),
    ],
)
def test_import_problems_are_messages(data, name, fragment, line):
    res = import_bytes(data, name)
    assert res.design is None and res.kind == "failed"
    assert fragment in str(res.problems[0])
    if line:
        assert res.problems[0].line == line


# ------------------------------------------------------------------ export


def test_training_cfg_sets_net_keys_and_keeps_layers():
    net = lower(load_preset("mixnet-s"))
    text = training_cfg(net, replace(IMAGENET_RECIPE, max_batches=1234))
    again = parse_cfg(text)
    assert again.layers == net.layers and again.design == net.design
    assert again.net["max_batches"] == 1234 and again.net["policy"] == "poly" and again.net["batch"] == 128


def test_zip_holds_the_files_and_readme_names_the_darknet_command():
    summary = {"params": 1, "params_stored": 2, "fma": 3, "flops": 6, "bflops": 0.1}
    text = readme("m", "m.cfg", "m-train.cfg", "m.yaml", 1000, summary)
    assert "./darknet classifier train imagenet.data m-train.cfg" in text and "AlexeyAB" in text
    assert "classes=1000" in text and "hank-ai" in text
    data = bundle({"m.cfg": "[net]\n", "README.md": text})
    assert bundle({"m.cfg": "[net]\n", "README.md": text}) == data  # reproducible bytes
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.namelist() == ["m.cfg", "README.md"] and z.read("m.cfg") == b"[net]\n"
    assert "not a classifier" in readme("y", "y.cfg", "y-train.cfg", None, None, summary)


# ------------------------------------------------------------------ references


def test_reference_models_cover_the_seed_list_with_units():
    refs = {r.name: r for r in reference_models()}
    for name in (
        "MixNet-S",
        "MixNet-M",
        "MixNet-L",
        "EfficientNet-B0",
        "EfficientNet-B1",
        "MobileNetV3-Large",
        "GhostNet-1.0",
        "MixNet-M-GPU",
        "Darknet53",
    ):
        assert name in refs and refs[name].source
    assert refs["MixNet-M"].fma_M == 360 and refs["MixNet-M"].top1 == 77.0
    assert refs["MixNet-M-GPU"].top1 == 71.5 and refs["MixNet-M-GPU"].published_bflops == pytest.approx(1.064)


def test_units_help_says_whose_figures_and_shows_the_presets_own():
    from designer.webapp import fmt

    c = designer.count(designer.lower(designer.load_preset("mixnet-m")))
    assert "seed thread's figures for AlexeyAB's 2019 mixnet_m.cfg, 0.379 B FMA" in fmt.HELP_UNITS
    assert f"MixNet-M preset at 224 px counts {c.fma / 1e6:.1f} M FMA and prints {c.bflops:.3f}" in fmt.HELP_UNITS


# ------------------------------------------------------------------ jobs


def test_jobs_report_return_fail_and_stop():
    gate = threading.Event()

    def work(job: jobs.Job) -> int:
        job.report("half", 0.5, {"epoch": 1})
        gate.wait(5)
        return 42

    j = jobs.start("test", "ok", work)
    assert j.running and jobs.get(j.id) is j
    gate.set()
    assert jobs.wait(j, 5) and j.status == "done" and j.result == 42 and j.progress == 1.0
    assert j.snapshot_events() == [{"epoch": 1}]

    bad = jobs.start("test", "bad", lambda job: 1 / 0)
    assert jobs.wait(bad, 5) and bad.status == "failed" and "ZeroDivisionError" in bad.error

    def stoppable(job: jobs.Job) -> str:
        job.stop.wait(5)
        return "partial"

    s = jobs.start("test", "stop", stoppable)
    s.stop.set()
    assert jobs.wait(s, 5) and s.status == "stopped" and s.result == "partial"


def test_lowered_is_the_cli_export_text():
    arch = replace(load_preset("mixnet-l"), classes=10)
    assert lowered(arch).cfg_text == emit_cfg(lower(arch))


def test_import_designer_and_the_pure_ui_modules_pull_in_neither_streamlit_nor_torch():
    import subprocess
    import sys

    code = (
        "import sys, designer, designer.webapp.graph, designer.webapp.analysis, designer.webapp.stages, designer.webapp.importer, "
        "designer.webapp.export, designer.webapp.jobs, designer.webapp.workers, designer.webapp.model, designer.webapp.references; "
        "print(sorted(m for m in ('streamlit', 'torch', 'plotly') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
