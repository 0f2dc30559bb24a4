"""What the Streamlit server process sets once, when its first page runs: the engine's process settings
(core.runtime.configure: one BLAS thread, freed memory kept) and the garbage collector's pace; pandas is imported
whole before any page draws. Nothing else is set on import."""

import gc

# Plotly looks pandas up in sys.modules without importing it (_plotly_utils.optional_imports.get_module), so a
# session drawing a chart while another session's thread is still importing pandas met a half-imported module
# ("AttributeError: partially initialized module 'pandas'", ten learners opening pages on a fresh server).
# Every page imports this module through `ui` first, and an import waits for one under way in another thread.
import pandas  # noqa: F401
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
    # collections: 60, 2.5 s in all, the longest 0.11 s.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)
    return True
