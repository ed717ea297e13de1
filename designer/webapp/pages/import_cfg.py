"""Import page: upload (or paste) a darknet .cfg or a design .yaml and open it.

A cfg made by this tool comes back block-editable (its design YAML rides in its leading comments); any other cfg
is opened as layers (shown, counted and benchmarked, not block-edited). Problems are messages with the line.
"""

from __future__ import annotations

import streamlit as st

from designer.webapp import cache, fmt, state
from designer.webapp.importer import MAX_UPLOAD_BYTES, ImportResult
from designer.webapp.shell import guarded, notice

KINDS = {
    "design-yaml": "a design YAML: block-editable",
    "designer-cfg": "a cfg made by mixnet-designer: its design comes back block-editable",
    "layers-cfg": "a darknet cfg: opened as layers (shown, counted and benchmarked; not block-editable)",
}


def _open_in_designer(result: ImportResult) -> None:
    d = result.design
    if d is None:
        return
    state.add_imported(d)
    state.set_design(d, ("success", f"Opened {d.name!r}: {KINDS[result.kind]}."))


def _show(result: ImportResult, key: str) -> None:
    if result.design is None:
        for p in result.problems:
            st.error(f"Cannot import: {p}" + (f"\n\n`{p.excerpt}`" if p.excerpt else ""))
        return
    d = result.design
    _, a = cache.current(d)
    st.success(f"{d.name!r} reads as {KINDS[result.kind]}.")
    for note in result.notes:
        st.info(note)
    st.write(
        f"{len(a.network.layers)} darknet layers; {fmt.params_text(a.cost.params)}, {fmt.fma_text(a.cost.fma)} "
        f"(multiply-adds), {a.cost.bflops:.3f} Darknet BFLOPs."
    )
    st.button(f"Open {d.name!r} in the designer", on_click=_open_in_designer, args=(result,), type="primary", key=key)


def render() -> None:
    st.title("Import")
    notice()
    st.caption(
        f"A .cfg or a design .yaml, up to {MAX_UPLOAD_BYTES // 2**20} MB. Files are read as UTF-8 text and "
        "parsed with the designer's strict cfg reader and PyYAML's safe loader; nothing is executed."
    )
    up = st.file_uploader(
        "Upload a darknet .cfg or a design .yaml",
        type=["cfg", "yaml", "yml", "txt"],
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        key="import_file",
    )
    if up is not None:
        _show(cache.imported_bytes(up.getvalue(), up.name), "open_upload")

    st.subheader("Or paste it")
    kind = st.radio("Text is", ["darknet cfg", "design YAML"], horizontal=True, key="paste_kind")
    text = st.text_area("cfg or YAML text", key="paste_text", height=200, max_chars=MAX_UPLOAD_BYTES)
    name = st.text_input("Name", value="pasted", key="paste_name")
    if text.strip():
        suffix = ".yaml" if kind == "design YAML" else ".cfg"
        _show(cache.imported_text(text, (name.strip() or "pasted") + suffix), "open_paste")

    w = state.ws()
    if w.imported:
        st.subheader("Imported this session")
        st.write(", ".join(f"`{n}`" for n in w.imported) + " (also in the Design page's picker).")
    st.page_link("pages/design.py", label="Go to the Design page", icon=":material/tune:")


if __name__ == "__main__":
    guarded(render)
