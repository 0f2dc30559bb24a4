"""Plotly figures drawn in the page by the app's own Plotly.js, in place of ``st.plotly_chart``.

``st.plotly_chart`` loads Streamlit's full Plotly.js, whose evaluation alone blocks a fresh tab for about
1.2 s on this project's machine. The explainer's figures use three trace types (scatter, bar, heatmap), and
``plotly_loader.js`` loads a bundle of only those (tools/plotly_bundle), shared with the stepper
(ui/stepper.py): 0.15 s. No Streamlit theme is applied: a figure looks as its own layout says, as the
stepper's do (explainer.colors.base_layout), so every figure of the app looks the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

_HERE = Path(__file__).parent
# The component's code, as the browser runs it.
SCRIPT = (_HERE / "plotly_loader.js").read_text() + (_HERE / "figure.js").read_text()
_COMPONENT = st.components.v2.component(
    "rnn_explainer.figure",
    js=SCRIPT,
    isolate_styles=False,  # Plotly.js styles its charts with the page's global stylesheet
)


def payload(fig: go.Figure) -> dict:
    """What the component is sent: the figure as Plotly.js reads it (arrays as typed-array JSON) and a
    version that changes with it, so a rerun with the same figure draws nothing."""
    text = fig.to_json()
    return {"figure": json.loads(text), "version": hashlib.sha256(text.encode()).hexdigest()[:16]}


def _mount(key: str, data: dict) -> None:
    """The component with `data` inside a one-item list, which Streamlit sends as JSON as it is (a dict's
    values are each checked for a dataframe, which imports pandas and pyarrow; ui/server.py)."""
    _COMPONENT(key=key, data=[data], width="stretch", height="content")


def plotly_figure(fig: go.Figure | dict, key: str) -> None:
    """Draw `fig` across the container's width, at its layout's height; `fig` may be its payload already (one
    built once and cached, as ui.gradient_checks does)."""
    _mount(key, fig if isinstance(fig, dict) else payload(fig))


def preload_plotly() -> None:
    """Start loading Plotly.js now, so that it is ready when the page's figures arrive: ui.page.setup_page calls
    it on a page with figures (ui.registry's `figures`). An invisible element in the sidebar."""
    with st.sidebar:
        _mount("figure.preload", {"preload": True})
