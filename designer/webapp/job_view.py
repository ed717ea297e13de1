"""A background job (designer/webapp/jobs.py) followed on a page: a polled progress bar with an optional stop
button while it runs, a redraw of the whole page when it finishes, then its failure or what it made."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from designer.webapp import jobs


def follow(
    job_id: str | None,
    *,
    progress: Callable[[jobs.Job], tuple[float, str]],
    failed: str,
    stop_key: str | None = None,
    stop_label: str = "Stop",
    finished: Callable[[jobs.Job], None] | None = None,
) -> None:
    """Draw job `job_id`'s state, polled every half second while it runs: `progress(job)` gives the bar's fraction
    and text; a failure shows as `failed: error`; `finished(job)` draws a job that ended without failing."""
    job = jobs.get(job_id)
    if job is None:
        return
    running = job.running

    @st.fragment(run_every=0.5 if running else None)
    def live() -> None:
        j = jobs.get(job.id)
        if j is None:
            return
        if j.running:
            fraction, text = progress(j)
            st.progress(fraction, text=text)
            if stop_key is not None:
                st.button(stop_label, key=stop_key, on_click=j.stop.set)
        elif running:
            st.rerun(scope="app")  # finished while we watched: redraw the page with its result
        elif j.status == "failed":
            st.error(f"{failed}: {j.error}")
        elif finished is not None:
            finished(j)

    live()
