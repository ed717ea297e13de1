"""The Design page driven through streamlit.testing (AppTest): preset -> edit -> numbers; bad edits; GPU variant; undo.

Numbers on the page are checked against the core's count() of the design held in session state, so the tests
prove that the page shows what the pure functions compute for the design it holds.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

import designer
from designer import count, gpu_variant, load_preset, lower
from tests.conftest import edit_table, start_app, workspace

pytestmark = pytest.mark.app


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def shown_fma(at: AppTest) -> str:
    return metrics(at)["FMA (multiply-adds)"]


def test_first_page_holds_mixnet_m_and_shows_its_numbers():
    at = start_app()
    assert workspace(at).design == load_preset("mixnet-m")
    c = count(lower(load_preset("mixnet-m")))
    m = metrics(at)
    assert m["Params (trainable)"] == f"{c.params / 1e6:,.3f} M"
    assert m["FMA (multiply-adds)"] == f"{c.fma / 1e6:,.1f} M"
    assert m["FLOPs = 2 x FMA"] == f"{2 * c.fma / 1e6:,.1f} M"
    assert m["Darknet BFLOPs"] == f"{c.bflops:.3f}"
    assert len(at.data_editor) == 1 and len(at.data_editor[0].value) == len(load_preset("mixnet-m").blocks)


def test_picking_a_preset_loads_it_and_the_numbers_follow():
    at = start_app()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    assert workspace(at).design == load_preset("mixnet-s")
    assert at.selectbox(key="pick_design").value is None  # the picker is an action, not a state
    assert shown_fma(at) == f"{count(lower(load_preset('mixnet-s'))).fma / 1e6:,.1f} M"
    assert at.text_input(key="g_name").value == "mixnet-s"


def test_one_stage_edit_changes_design_and_numbers():
    at = start_app()
    before = count(lower(workspace(at).design))
    edit_table(at, {"edited_rows": {3: {"kernels": "3.5.7"}}})
    arch = workspace(at).design
    assert arch.blocks[3].kernels == (3, 5, 7)
    assert arch == replace(
        load_preset("mixnet-m"),
        blocks=tuple(
            replace(b, kernels=(3, 5, 7)) if i == 3 else b for i, b in enumerate(load_preset("mixnet-m").blocks)
        ),
    )
    after = count(lower(arch))
    assert after.fma < before.fma  # a 9x9 kernel group fewer
    assert shown_fma(at) == f"{after.fma / 1e6:,.1f} M"
    delta = next(m for m in at.metric if m.label == "FMA (multiply-adds)").delta
    assert delta == f"{(after.fma - before.fma) / before.fma * 100:+.1f}%"
    assert not at.error


def test_invalid_edit_shows_message_next_to_row_and_keeps_design():
    at = start_app()
    good = workspace(at).design
    edit_table(at, {"edited_rows": {1: {"kernels": "3.5.7.9.11"}}})
    assert workspace(at).design == good  # the last valid design is kept
    errors = [e.value for e in at.error]
    assert any(e.startswith("Row 1 (b1.0): 144 expanded channels do not split evenly") and "Fix:" in e for e in errors)
    table = at.data_editor[0].value
    assert table["issue"][1].startswith("⚠ 144 expanded channels") and table["kernels"][1] == "3.5.7.9.11"
    assert table["issue"][0] == ""
    # the numbers are still the valid design's
    assert shown_fma(at) == f"{count(lower(good)).fma / 1e6:,.1f} M"
    # fixing the row in the pending table makes the edit (both changes) current
    edit_table(at, {"edited_rows": {1: {"kernels": "3.5.7.9"}}})
    assert workspace(at).design.blocks[1].kernels == (3, 5, 7, 9) and not at.error


def test_discarding_a_bad_edit_restores_the_table():
    at = start_app()
    edit_table(at, {"edited_rows": {0: {"repeats": None}}})
    assert any("'repeats' is empty" in e.value for e in at.error)
    next(b for b in at.button if b.label == "Discard the table edits").click().run()
    assert not at.error and at.data_editor[0].value["repeats"][0] == 1


def test_rows_can_be_added_and_deleted():
    at = start_app()
    n = len(workspace(at).design.blocks)
    edit_table(at, {"added_rows": [{"out channels": 200, "repeats": 2, "skip": True}]})
    assert len(workspace(at).design.blocks) == n + 1 and workspace(at).design.blocks[-1].out_channels == 200
    edit_table(at, {"deleted_rows": [n]})
    assert workspace(at).design == load_preset("mixnet-m")


def test_global_settings_edit_the_design_and_bad_values_are_refused():
    at = start_app()
    at.number_input(key="g_width_mult").set_value(1.25).run()
    assert workspace(at).design.width_mult == 1.25
    assert shown_fma(at) == f"{count(lower(workspace(at).design)).fma / 1e6:,.1f} M"
    kept = workspace(at).design
    at.number_input(key="g_input_size").set_value(4).run()
    assert workspace(at).design == kept
    assert any("input size 4 is too small" in e.value and "Fix: use 32 or more" in e.value for e in at.error)
    at.number_input(key="g_input_size").set_value(160).run()
    assert workspace(at).design.input_size == 160 and not at.error


def test_gpu_variant_reports_cost_and_undo_redo_walk_back_and_forth():
    at = start_app()
    at.number_input(key="gpu_group_size").set_value(4).run()
    next(b for b in at.button if b.label == "Make GPU variant").click().run()
    expected = gpu_variant(load_preset("mixnet-m"), 4)
    assert workspace(at).design == expected
    msg = at.success[0].value
    assert "GPU variant with 4 channels per group" in msg and "row 8" in msg
    assert shown_fma(at) == f"{count(lower(expected)).fma / 1e6:,.1f} M"
    at.button(key="sb_undo").click().run()
    assert workspace(at).design == load_preset("mixnet-m")
    assert at.number_input(key="g_width_mult").value == 1.0
    at.button(key="sb_redo").click().run()
    assert workspace(at).design == expected


def test_nothing_is_lost_on_page_switch_and_rerun():
    at = start_app()
    edit_table(at, {"edited_rows": {2: {"SE ratio": 0.25}}})
    at.number_input(key="g_width_mult").set_value(1.25).run()
    at.number_input(key="gpu_group_size").set_value(8).run()
    edited = workspace(at).design
    at.switch_page("webapp/pages/graph.py").run()
    at.multiselect(key="graph_expand").set_value(["b2.0"]).run()
    at.switch_page("webapp/pages/numbers.py").run()
    at.switch_page("webapp/pages/design.py").run()
    at.run()
    assert workspace(at).design == edited and at.data_editor[0].value["SE ratio"][2] == 0.25
    assert len(workspace(at).undo) == 2
    # Streamlit drops the state of widgets a run does not draw; the pages put it back
    assert at.number_input(key="g_width_mult").value == 1.25 and at.number_input(key="g_input_size").value == 224
    assert at.text_input(key="g_name").value == "mixnet-m" and at.number_input(key="gpu_group_size").value == 8
    at.switch_page("webapp/pages/graph.py").run()
    assert at.multiselect(key="graph_expand").value == ["b2.0"]


def test_saved_copy_and_rename():
    at = start_app()
    at.text_input(key="save_name").input("baseline").run()
    next(b for b in at.button if b.label == "Save copy").click().run()
    assert workspace(at).saved["baseline"] == load_preset("mixnet-m")
    assert "saved: baseline" in at.selectbox(key="pick_design").options
    at.text_input(key="g_name").input("my-net").run()
    assert workspace(at).design.name == "my-net"
    assert designer.emit_cfg(designer.lower(workspace(at).design)).count("name: my-net") == 1


def test_an_edit_that_leaves_the_design_equal_is_applied_once():
    """Regression: `3,5,7` typed over `3.5.7` gives an equal design; set_design returned without moving the
    editor's key and the page re-applied the pending edit and called st.rerun() forever."""
    at = start_app()
    edit_table(at, {"edited_rows": {3: {"kernels": "3.5.7"}}})
    w = workspace(at)
    held, rev, undo = w.design, w.rev, len(w.undo)
    assert held.blocks[3].kernels == (3, 5, 7)
    edit_table(at, {"edited_rows": {3: {"kernels": "3,5,7"}}}, timeout=30)  # the callback fires exactly once
    assert not at.exception and not at.error
    assert workspace(at).design == held and workspace(at).rev == rev and len(workspace(at).undo) == undo
    assert at.data_editor[0].value["kernels"][3] == "3.5.7"  # the editor shows the design's own spelling again
    edit_table(at, {"edited_rows": {3: {"kernels": "3.5"}}})  # and it still takes edits
    assert workspace(at).design.blocks[3].kernels == (3, 5) and not at.exception


def test_width_rounding_is_reported_on_the_design_page():
    """Issue 12: a width that needs darknet's equal kernel slices rounded says what was rounded."""
    at = start_app()
    at.selectbox(key="pick_design").set_value("mixnet-s").run()
    at.number_input(key="g_width_mult").set_value(0.5).run()
    assert workspace(at).design.width_mult == 0.5 and not at.error
    notes = [i.value for i in at.info if i.value.startswith("Rounded:")]
    assert notes and "384 -> 385 expanded channels" in notes[0] and "5 kernel groups" in notes[0]


def test_an_old_editors_callback_fired_again_after_undo_leaves_the_undone_design(monkeypatch):
    """Regression (seen in the browser test on a busy machine): an Undo clicked while the edit's own run still
    redrew the page; the rerun fired the old editor's on_change again and put the edit back on the undone design,
    so the GPU variant made next was built from the edited design. The callback of an editor whose key has moved
    on must do nothing. Driven without AppTest, whose runs always finish, so no run is ever interrupted."""
    import streamlit as st

    from designer.webapp import state
    from designer.webapp.pages import design as page

    monkeypatch.setattr(st, "session_state", {})
    w = state.ws()
    base = w.design
    old_key = page.table_key(w)
    st.session_state[old_key] = {"edited_rows": {3: {"kernels": "3.5.7"}}, "added_rows": [], "deleted_rows": []}
    page.apply_table_edit(old_key)  # the edit
    assert state.design().blocks[3].kernels == (3, 5, 7) and page.table_key(w) != old_key
    state.undo()
    assert state.design() == base
    page.apply_table_edit(old_key)  # the same editor's callback once more, its edit state unchanged
    assert state.design() == base and len(w.redo) == 1
