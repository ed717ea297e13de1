"""Derived views, cached with st.cache_data on the emitted cfg text.

The cfg text determines the network completely (for a design it also carries the design YAML), so it is the
cache key; the already-built IR rides along as an unhashed `_network` argument (Streamlit skips parameters whose
name starts with '_'), which saves re-parsing the text. Lowering a design is memoised on the frozen design value
in designer/webapp/model.py.
"""

from __future__ import annotations

import streamlit as st

from designer import Arch, Diagnostic, Network, lint
from designer.lower import Span
from designer.webapp import graph as graphs
from designer.webapp.analysis import Analysis, analyse, layer_records, stage_records
from designer.webapp.importer import ImportResult, import_bytes, import_text
from designer.webapp.model import Design, Lowered, lowered


def current(design: Design) -> tuple[Lowered, Analysis]:
    low = lowered(design)
    return low, analysis(low.cfg_text, low.network, low.spans, design if isinstance(design, Arch) else None)


@st.cache_data(max_entries=64, show_spinner=False)
def analysis(cfg_text: str, _network: Network, _spans: tuple[Span, ...] | None, _arch: Arch | None) -> Analysis:
    return analyse(_network, _spans, _arch)


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(cfg_text: str, _a: Analysis) -> list[dict]:
    return layer_records(_a)


@st.cache_data(max_entries=64, show_spinner=False)
def stage_table(cfg_text: str, _a: Analysis) -> list[dict]:
    return stage_records(_a)


@st.cache_data(max_entries=128, show_spinner=False)
def dot(cfg_text: str, expanded: tuple[str, ...], rankdir: str, _a: Analysis) -> str:
    g = graphs.layer_graph(_a.network, _a.shapes, _a.cost)
    return graphs.to_dot(g, _a.groups, expanded, rankdir)


@st.cache_data(max_entries=64, show_spinner=False)
def references(cfg_text: str, _a: Analysis) -> list[dict]:
    return graphs.reference_rows(_a.network, _a.shapes)


@st.cache_data(max_entries=32, show_spinner=False)
def lint_cfg(cfg_text: str) -> list[Diagnostic]:
    return lint(cfg_text)


@st.cache_data(max_entries=16, show_spinner=False)
def imported_bytes(data: bytes, filename: str) -> ImportResult:
    return import_bytes(data, filename)


@st.cache_data(max_entries=16, show_spinner=False)
def imported_text(text: str, filename: str) -> ImportResult:
    return import_text(text, filename)


@st.cache_resource(show_spinner="Loading torch to list the devices...")
def devices() -> dict[str, str]:
    """Device id -> description (imports torch: only the Latency and Quick-train pages call this)."""
    from designer.webapp.workers import devices as find

    return find()
