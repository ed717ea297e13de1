"""Driving the Streamlit app outside a browser (streamlit.testing's AppTest): what the tests and
benchmarks/bench_app.py send where a person would edit a widget that AppTest's element API cannot edit."""

from __future__ import annotations

import json
from typing import Any


def edit_table(at: Any, edits: dict, timeout: float | None = None) -> Any:
    """What the browser sends when the stage editor is edited: its new widget value in the rerun's widget states.
    Streamlit then fires the editor's on_change callback itself, as in a live session (AppTest's element API
    cannot edit a data_editor, and assigning its state through at.session_state fires no callback)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    editor = at.data_editor[0]
    value = {"edited_rows": {}, "added_rows": [], "deleted_rows": [], **edits}
    value["edited_rows"] = {str(k): v for k, v in value["edited_rows"].items()}
    states = at._tree.get_widget_states()  # the other widgets keep their values
    state = WidgetState(id=editor.proto.id, string_value=json.dumps(value))
    states.widgets.append(state)
    return at._run(states, timeout=timeout)
