"""What the Streamlit server process sets once, when its first page runs: the engine's process settings
(core.runtime.configure: one BLAS thread, freed memory kept) and the garbage collector's pace. Nothing else is
set on import.

No page imports pandas (tables are HTML: explainer.table): it would take about 75 MB of the server with
pyarrow, and Plotly looks it up in sys.modules without importing it, so a chart drawn while another session's
thread was importing it met a half-imported module ("AttributeError: partially initialized module 'pandas'",
ten learners on a fresh server). tests/browser/test_concurrency.py checks that the server never loads it.
"""

import gc

import streamlit as st

from core import runtime

# Allocations (less deallocations) between two young-generation collections; Python's default is 700.
GC_THRESHOLD = 10_000


@st.cache_resource(show_spinner=False)
def configure_process() -> bool:
    """Apply core.runtime.configure once per server process (the cache makes later calls free)."""
    runtime.configure()
    # Python's full garbage collections walk every object of the server, hold every session's thread while they
    # do, and run in whichever thread allocates, a race's lowered-priority workers included. With ten learners
    # and two races (tests/browser/test_concurrency.py) there were 195 of 65-90 ms, one of 2.7 s, 22.5 s in all.
    # The objects of the imports so far are never garbage: frozen, no collection walks them again; and fewer
    # collections: 60, 2.5 s in all, the longest 0.11 s. (Streamlit's own full collection after every script run
    # is off in .streamlit/config.toml.)
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    return True
