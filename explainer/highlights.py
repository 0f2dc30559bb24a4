"""The shapes that mark the current timestep in a stepped figure.

Highlights are layout shapes only, never trace attributes: moving to another step then changes just the
layout, which the browser redraws in a millisecond or two instead of re-plotting the traces.
"""

from __future__ import annotations

from explainer.colors import HIGHLIGHT


def column(t: int) -> dict:
    """A shaded band behind everything at x = t (a bar, a network step)."""
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": t - 0.45,
        "x1": t + 0.45,
        "y0": 0,
        "y1": 1,
        "fillcolor": HIGHLIGHT,
        "opacity": 0.18,
        "line": {"width": 0},
        "layer": "below",
    }


def vline(t: int, dash: str | None = None) -> dict:
    """A vertical line across the plot at x = t."""
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": t,
        "x1": t,
        "y0": 0,
        "y1": 1,
        "line": {"color": HIGHLIGHT, "width": 2, **({"dash": dash} if dash else {})},
    }


def row_outline(t: int, units: int) -> dict:
    """An outline round heatmap row t, whose columns are 0 … units - 1."""
    return {
        "type": "rect",
        "x0": -0.5,
        "x1": units - 0.5,
        "y0": t - 0.5,
        "y1": t + 0.5,
        "line": {"color": HIGHLIGHT, "width": 3},
    }


def bar_outline(t: int, height: float) -> dict:
    """An outline round the bar at x = t, from 0 to `height`."""
    return {
        "type": "rect",
        "xref": "x",
        "yref": "y",
        "x0": t - 0.42,
        "x1": t + 0.42,
        "y0": 0,
        "y1": height,
        "line": {"color": HIGHLIGHT, "width": 3},
    }


def ring(t: int, y: float, radius: int = 16) -> dict:
    """A circle of `radius` pixels round the point (t, y): round whatever the axes' scales."""
    return {
        "type": "circle",
        "xref": "x",
        "yref": "y",
        "xsizemode": "pixel",
        "ysizemode": "pixel",
        "xanchor": t,
        "yanchor": y,
        "x0": -radius,
        "x1": radius,
        "y0": -radius,
        "y1": radius,
        "line": {"color": HIGHLIGHT, "width": 3},
    }
