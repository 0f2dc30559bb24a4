"""The gradient-check lab's results, computed once per server and settings, shared read-only.

The checks are seeded, so the same settings give the same results for every learner: a new tab, or a
class opening the lab's default view together, waits for no finite difference (about 0.2 s of the page's
run on this project's machine, more while other learners compute).
"""

from __future__ import annotations

import streamlit as st

from core.lab.gradcheck_lab import CheckResult, run_all_checks
from ui.dataset import freeze


@st.cache_resource(show_spinner="Running the finite differences…", max_entries=64)
def gradient_checks(**settings) -> list[CheckResult]:
    """core.lab.gradcheck_lab.run_all_checks(**settings) (layers, sizes, activation, bug, dtype, seed, step,
    repeat_word; all hashable), read-only."""
    return freeze(run_all_checks(**settings))
