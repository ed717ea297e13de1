"""Helpers behind the Streamlit app (designer/app.py and designer/pages/).

Pure modules (no streamlit, no torch; usable from scripts and benchmarks): `fmt` (numbers with units),
`model` (what the app holds: an Arch or an imported layer list, and its lowering), `stages` (the editable
stage table), `analysis` (per-layer and per-stage tables), `graph` (networkx layer graph, groups, DOT),
`importer` (uploads -> designs), `export` (zip, README, training [net]), `references` (published figures),
`jobs` (background workers).
Streamlit modules: `state` (session state, undo), `cache` (st.cache_data keyed by cfg text), `shell`
(page wrapper that turns errors into messages, sidebar).

`import designer` does not import this package, and importing this package imports nothing heavy.
"""
