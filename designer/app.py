"""mixnet-designer's Streamlit app: `streamlit run designer/app.py`.

This file only routes, as Streamlit's own hello app does: each page is a script in designer/webapp/pages/ that
edits or shows the design held in session state (designer/webapp/state.py).
"""

from designer.threads import configure

# The Latency and Quick-train pages run torch in a worker thread; OpenMP's waiting is chosen before torch is
# first imported, the same way for every entry point (designer/threads.py, benchmarks/bench_omp.py).
configure()

import streamlit as st  # noqa: E402

st.set_page_config(page_title="mixnet-designer", layout="wide")

pages = [
    st.Page("webapp/pages/design.py", title="Design", icon=":material/tune:", url_path="design", default=True),
    st.Page("webapp/pages/graph.py", title="Graph", icon=":material/account_tree:", url_path="graph"),
    st.Page("webapp/pages/numbers.py", title="Numbers", icon=":material/calculate:", url_path="numbers"),
    st.Page("webapp/pages/latency.py", title="Latency", icon=":material/speed:", url_path="latency"),
    st.Page("webapp/pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore"),
    st.Page(
        "webapp/pages/quick_train.py", title="Quick-train", icon=":material/model_training:", url_path="quick-train"
    ),
    st.Page("webapp/pages/export.py", title="Export", icon=":material/download:", url_path="export"),
    st.Page("webapp/pages/import_cfg.py", title="Import", icon=":material/upload:", url_path="import"),
]
st.navigation(pages).run()
