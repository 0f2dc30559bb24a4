"""The colours shared by every page, so the same colour means the same thing everywhere.

- ``DIVERGING``: every signed quantity (weights, activations, gradients). Blue is negative, white is
  zero, red is positive; use ``diverging(values)`` for the heatmap keywords that keep zero white.
- ``HIGHLIGHT``: the current timestep in every figure; ``MASKED``: ``<NULL>`` positions that have no loss.
- ``TERM_COLORS``: the terms of the RNN and LSTM steps, shared by the equations, their heatmaps and the
  code lines.
"""

import numpy as np

DIVERGING = [
    [0.0, "#053061"],
    [0.15, "#2166ac"],
    [0.3, "#67a9cf"],
    [0.45, "#d1e5f0"],
    [0.5, "#f7f7f7"],
    [0.55, "#fddbc7"],
    [0.7, "#ef8a62"],
    [0.85, "#b2182b"],
    [1.0, "#67001f"],
]
HIGHLIGHT = "#f59e0b"
MASKED = "#9ca3af"
NEUTRAL = "#4b5563"
GROUND_TRUTH = "#16a34a"

TERM_COLORS = {
    "x": "#7c3aed",
    "wx_x": "#7c3aed",
    "h_prev": "#0891b2",
    "wh_h": "#0891b2",
    "b": "#a16207",
    "a": "#db2777",
    "h": "#15803d",
    "da": "#db2777",
    "dh": "#15803d",
    "carried": "#0891b2",
    "grad_w": "#a16207",
    # The LSTM's gates (i, f, o, g and what they let through) and its cell state c.
    "gates": "#ea580c",
    "c": "#4f46e5",
}

# Ticks of figures whose colours do not follow the diverging scale (lines of several series).
SERIES_COLORS = {
    "total": "#111827",
    "from_loss": "#dc2626",
    "carried": "#0891b2",
    "survival": "#7c3aed",
    "cell": TERM_COLORS["c"],
}


def symmetric_limit(*arrays) -> float:
    """Largest |value| over the arrays (1.0 if all zero), the colour range that keeps zero in the middle."""
    limit = max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)
    return limit if limit > 0 and np.isfinite(limit) else 1.0


def diverging(*arrays) -> dict:
    """Heatmap keywords (colorscale, zmid, zmin, zmax) putting zero at white for these arrays."""
    limit = symmetric_limit(*arrays)
    return {"colorscale": DIVERGING, "zmid": 0.0, "zmin": -limit, "zmax": limit}


# A horizontal legend just above the plot: Plotly grows the top margin to fit it, however many rows it
# wraps to, so it never covers the lines.
LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}


def base_layout(fig, uirevision: str, height: int, margin: dict | None = None, **extra):
    """The layout every figure shares: white plot, thin margins (`margin`: the sides that differ, e.g.
    {"t": 10}), zoom kept across reruns (uirevision)."""
    fig.update_layout(
        uirevision=uirevision,
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10, **(margin or {})},
        plot_bgcolor="white",
        **extra,
    )
    # Thin margins grow to fit the tick labels and titles, so none is cut at the figure's edge. (Set here, not
    # left to a template: importing Streamlit makes plotly.py's default template its own minimal one.)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig
