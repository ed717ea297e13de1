"""What every page shares: the error guard (messages, never tracebacks) and the sidebar (design, undo/redo).

`guarded(render)` runs a page body: the core's errors (CfgError with .line/.message, DesignFormatError,
DesignError with .issues) become st.error messages, and so does anything unexpected, with the details written to
the server log instead of the page. Streamlit's own control flow (st.rerun, st.stop) passes through: it derives
from BaseException, not Exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from designer import CfgError, DesignError, DesignFormatError
from designer.errors import MixdesignError
from designer.webapp import fmt, state
from designer.webapp.cache import current

log = logging.getLogger("mixdesign.app")


def show_error(e: Exception) -> None:
    if isinstance(e, CfgError):
        st.error(f"Invalid cfg at line {e.line}: {e.message}" if e.line else f"Invalid cfg: {e.message}")
    elif isinstance(e, DesignError):
        st.error("The design is invalid:\n\n" + "\n".join(f"- {i}" for i in e.issues))
    elif isinstance(e, DesignFormatError):
        st.error(f"Cannot read the design: {e}")
    elif isinstance(e, MixdesignError):  # any other user-input error: its one-line message says where and why
        st.error(str(e))
    else:
        log.exception("page failed")
        st.error(
            f"Something went wrong on this page ({type(e).__name__}: {e}). Your design is kept; "
            "use Undo in the sidebar if the last change caused this."
        )


def guarded(render: Callable[[], None]) -> None:
    """Run a page body, turning exceptions into messages."""
    try:
        sidebar()
        render()
    except Exception as e:  # noqa: BLE001 - the page must show a message, not a traceback
        show_error(e)


def sidebar() -> None:
    w = state.ws()
    d = w.design
    with st.sidebar:
        st.markdown(f"**Design:** `{d.name}`" + (" (layers only)" if state.is_layers(d) else ""))
        try:
            _, a = current(d)
            st.caption(
                f"{fmt.params_text(a.cost.params)} · {fmt.fma_text(a.cost.fma)} · "
                f"{a.cost.bflops:.3f} Darknet BFLOPs · {len(a.network.layers)} layers"
            )
        except (CfgError, DesignError) as e:
            st.caption(f"cannot count: {e}")
        c1, c2 = st.columns(2)
        c1.button(
            "Undo",
            on_click=state.undo,
            disabled=not w.undo,
            key="sb_undo",
            width="stretch",
            help=f"{len(w.undo)} step(s) back",
        )
        c2.button("Redo", on_click=state.redo, disabled=not w.redo, key="sb_redo", width="stretch")


def notice() -> None:
    """Show (once) the message left by the last action."""
    w = state.ws()
    if w.notice:
        kind, text = w.notice
        getattr(st, kind if kind in ("success", "info", "warning", "error") else "info")(text)
        w.notice = None
