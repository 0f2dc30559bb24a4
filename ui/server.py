"""What the Streamlit server process sets once, when its first page runs: the engine's process settings
(core.runtime.configure: one BLAS thread, freed memory kept). Nothing is set on import."""

import streamlit as st

from core import runtime


@st.cache_resource(show_spinner=False)
def configure_process() -> bool:
    """Apply core.runtime.configure once per server process (the cache makes later calls free)."""
    runtime.configure()
    return True
