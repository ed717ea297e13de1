"""Graph, Numbers, Export and Import pages through streamlit.testing (AppTest).

The export check is the product's contract: the cfg the page hands out is exactly `mixdesign export`'s text,
designer.emit_cfg(designer.lower(arch)), for the design the session holds.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import designer
from designer import count, dump_yaml, emit_cfg, gpu_variant, load_preset, lower
from designer.webapp.model import LayersDesign
from tests.conftest import start_app, workspace
from tests.test_app_helpers import PLAIN_CFG

pytestmark = pytest.mark.app


def open_pasted_cfg(at: AppTest, text: str, name: str) -> AppTest:
    at.switch_page("webapp/pages/import_cfg.py").run()
    at.text_input(key="paste_name").input(name).run()
    at.text_area(key="paste_text").input(text).run()
    at.button(key="open_paste").click().run()
    return at


# ------------------------------------------------------------------ graph


def test_graph_shows_blocks_and_expands_one_into_darknet_layers():
    at = start_app("graph.py")
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "b3.0: k3.5.7.9 e6 s2 se0.5 dw 32>192>40 swish" in dot and "n26 [" not in dot
    at.multiselect(key="graph_expand").set_value(["b3.0"]).run()
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "26: route layers=-7,-5,-3,-1 (= L19,21,23,25)" in dot
    assert "30: scale_channels from=-4 (= L26)" in dot and "out 192x28x28" in dot
    refs = at.dataframe[0].value
    row = refs[(refs["layer"] == 30)].iloc[0]
    assert (row["key"], row["written in cfg"], row["resolves to layer"]) == ("from", -4, 26)


def test_graph_find_layer_names_its_block_and_expands_it():
    at = start_app("graph.py")
    at.number_input(key="graph_find").set_value(26).run()
    assert any("Layer **26** is in **b3.0**" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Expand b3.0").click().run()
    assert at.multiselect(key="graph_expand").value == ["b3.0"]
    at.button[0].click().run()  # "All"
    assert len(at.multiselect(key="graph_expand").value) == len(designer.lower_with_spans(load_preset("mixnet-m"))[1])


def test_graph_of_a_cfg_without_design_uses_chunks():
    at = start_app()
    open_pasted_cfg(at, PLAIN_CFG, "plain")
    assert isinstance(workspace(at).design, LayersDesign)
    at.switch_page("webapp/pages/graph.py").run()
    assert not at.exception and not at.error
    assert at.multiselect(key="graph_expand").options[0].startswith("L0")
    assert "chunks" in at.caption[0].value


# ------------------------------------------------------------------ numbers


def test_numbers_page_shows_all_units_and_matches_count():
    at = start_app()
    next(b for b in at.button if b.label == "Make GPU variant").click().run()
    at.switch_page("webapp/pages/numbers.py").run()
    c = count(lower(gpu_variant(load_preset("mixnet-m"), 4)))
    m = {x.label: x.value for x in at.metric}
    assert m == {
        "Params (trainable)": f"{c.params:,}",
        "Params stored (.weights)": f"{c.params_stored:,}",
        "FMA (multiply-adds)": f"{c.fma:,}",
        "FLOPs = 2 x FMA": f"{c.flops / 1e6:,.1f} M",
        "Darknet BFLOPs": f"{c.bflops:.3f}",
    }
    layers, comparison = at.dataframe[-2].value, at.dataframe[-1].value
    assert layers["FMA (multiply-adds)"].sum() == c.fma and len(layers) == len(c.layers)
    assert {"MixNet-M", "MixNet-M-GPU", "EfficientNet-B0", "GhostNet-1.0", "Darknet53"} <= set(comparison["model"])
    assert comparison["model"][0] == "current: mixnet-m"
    assert comparison["FMA (M multiply-adds)"][0] == pytest.approx(c.fma / 1e6)
    # darknet's print only for what this tool counted; published models get 2 x their FMA, labelled as such
    published = comparison[comparison["figures"].str.startswith("published")]
    assert comparison["Darknet BFLOPs"][0] == pytest.approx(c.bflops) and published["Darknet BFLOPs"].isna().all()
    mm = published[published["model"] == "MixNet-M"].iloc[0]
    assert mm["2 x published FMA (B, incl. FC)"] == pytest.approx(2 * 360 / 1e3)
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "FMA per stage (millions of multiply-adds)" in charts[0].proto.spec


# ------------------------------------------------------------------ export


@pytest.mark.parametrize("preset", ["mixnet-m", "efficientnet-b0"])
def test_export_cfg_is_exactly_the_cli_export(preset):
    at = start_app()
    at.selectbox(key="pick_design").set_value(preset).run()
    next(b for b in at.button if b.label == "Make GPU variant").click().run()
    at.switch_page("webapp/pages/export.py").run()
    arch = gpu_variant(load_preset(preset), 4)
    codes = [c.value.rstrip("\n") for c in at.code]  # st.code drops the final newline when it displays text
    assert emit_cfg(lower(arch)).rstrip("\n") in codes  # the text Download cfg hands out (the same object)
    assert dump_yaml(arch).rstrip("\n") in codes
    assert any(c.startswith("./darknet classifier train imagenet.data") for c in codes)
    assert [b.label for b in at.get("download_button")][:2] == ["Download cfg", "Download -train.cfg"]
    assert at.success[0].value.startswith("Clean")


def test_export_of_layers_design_and_training_settings():
    at = start_app()
    open_pasted_cfg(at, PLAIN_CFG, "plain")
    at.switch_page("webapp/pages/export.py").run()
    at.number_input(key="tr_maxb").set_value(5000).run()
    readme = next(c.value for c in at.code if c.value.startswith("# plain"))
    assert "plain-train.cfg" in readme and "classes=10" in readme
    assert emit_cfg(designer.parse_cfg(PLAIN_CFG)).rstrip("\n") in [c.value.rstrip("\n") for c in at.code]


# ------------------------------------------------------------------ import


def test_upload_of_a_designer_cfg_comes_back_block_editable():
    arch = gpu_variant(load_preset("mixnet-s"), 8)
    at = start_app("import_cfg.py")
    at.file_uploader(key="import_file").upload("mine.cfg", emit_cfg(lower(arch)).encode(), "text/plain").run()
    assert "block-editable" in at.success[0].value
    at.button(key="open_upload").click().run()
    assert workspace(at).design == arch
    at.switch_page("webapp/pages/design.py").run()
    assert len(at.data_editor) == 1 and "imported: mixnet-s" in at.selectbox(key="pick_design").options


def test_upload_of_a_plain_cfg_is_read_only_layers_on_the_design_page():
    at = start_app("import_cfg.py")
    at.file_uploader(key="import_file").upload("small.cfg", PLAIN_CFG.encode(), "text/plain").run()
    at.button(key="open_upload").click().run()
    assert isinstance(workspace(at).design, LayersDesign)
    at.switch_page("webapp/pages/design.py").run()
    assert not at.data_editor and "has no blocks to edit" in at.info[0].value
    assert len(at.dataframe[0].value) == 8


def test_bad_uploads_are_messages_with_the_line():
    at = start_app("import_cfg.py")
    bad = PLAIN_CFG.replace("[maxpool]", "[Maxpool]")
    at.file_uploader(key="import_file").upload("bad.cfg", bad.encode(), "text/plain").run()
    err = at.error[0].value
    assert err.startswith("Cannot import: line 29: unknown section [Maxpool]") and "did you mean [maxpool]" in err
    assert not at.exception and workspace(at).design == load_preset("mixnet-m")
    at.file_uploader(key="import_file").upload("bad.yaml", b"blocks: [ir_r1_k2_s1_e1_c8]\n", "text/yaml").run()
    assert "odd" in at.error[0].value and not at.exception


# ------------------------------------------------------------------ errors are messages


def _page_that_fails() -> None:
    from designer import CfgError, DesignError, DesignIssue
    from designer.webapp.shell import guarded, show_error

    def boom() -> None:
        raise RuntimeError("unexpected")

    guarded(boom)
    show_error(CfgError(7, "unknown section [Maxpool]"))
    show_error(DesignError([DesignIssue("row 2", "stride 3", "use 1 or 2")]))
    from designer.errors import EditError

    show_error(EditError("no [softmax] to retarget", layer=12))


def test_page_errors_are_messages_not_tracebacks():
    at = AppTest.from_function(_page_that_fails, default_timeout=60).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors[0].startswith("Something went wrong on this page (RuntimeError: unexpected). Your design is kept")
    assert errors[1] == "Invalid cfg at line 7: unknown section [Maxpool]"
    assert errors[2] == "The design is invalid:\n\n- row 2: stride 3 Fix: use 1 or 2"
    assert errors[3] == "layer 12: no [softmax] to retarget"  # any MixdesignError: its one line, no traceback
