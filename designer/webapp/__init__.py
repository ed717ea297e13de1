"""Helpers behind the Streamlit app (designer/app.py and the page scripts in designer/webapp/pages/).

Pure modules (no streamlit, no torch at import; usable from scripts, tests and benchmarks):
`fmt` (numbers with units), `model` (what the app holds: an Arch or an imported layer list, and its lowering),
`stages` (the editable stage table), `analysis` (per-layer and per-stage tables), `graph` (networkx layer graph,
block/chunk groups, DOT), `importer` (uploads -> designs), `export` (zip, README, training [net]),
`references` (published figures of reference models, reference_models.yaml), `jobs` (background workers),
`workers` (the latency and quick-train job bodies; they import torch/runtime when they run), `charts` (plotly).
Streamlit modules: `state` (session state, undo/redo), `cache` (st.cache_data keyed by the cfg text), `shell`
(page wrapper that turns errors into messages, sidebar).

`import designer` does not import this package.
"""
