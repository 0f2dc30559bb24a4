"""Figures of backpropagation through time for one caption.

Timesteps as on the forward page: t = 0 is the image projection (the gradient reaching it is dh0),
t = 1 … T the word steps, so step t reads row t - 1 of the ``core.lab.trace.BackwardTrace`` arrays.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.colors import HIGHLIGHT, MASKED, SERIES_COLORS, base_layout, diverging

# Matrices larger than this are shown as their top-left block (the full one would be megabytes of JSON).
MAX_MATRIX_UNITS = 32


def gradient_by_step(backward) -> np.ndarray:
    """dL/dh_t for t = 0 … T: (T + 1, H), row 0 = dh0 (reaching the image projection), row t = dh_total[t - 1]."""
    return np.vstack([backward.dh0[None, :], backward.dh_total])


def norms_by_step(backward) -> dict[str, np.ndarray]:
    """(T + 1,) norms for t = 0 … T of the gradient at h_t: total, from the loss at t, carried from t + 1.

    At t = 0 there is no loss term: everything reaching h_0 is carried back from step 1.
    """
    norms = backward.norms()
    dh0 = float(np.linalg.norm(backward.dh0))
    return {
        "total": np.concatenate([[dh0], norms["total"]]),
        "from_loss": np.concatenate([[0.0], norms["from_loss"]]),
        "carried": np.concatenate([[dh0], norms["carried"]]),
    }


def _outline_row(fig: go.Figure, t: int, units: int) -> None:
    """Outline row t (timestep t) of a heatmap with `units` columns in the highlight colour."""
    fig.add_shape(
        type="rect", x0=-0.5, x1=units - 0.5, y0=t - 0.5, y1=t + 0.5, line={"color": HIGHLIGHT, "width": 3}
    )


def gradient_heatmap(backward, t: int, uirevision: str = "dh") -> go.Figure:
    """Heatmap of dL/dh_t, timestep (rows, t = 0 … T) × hidden unit, current row outlined."""
    grid = gradient_by_step(backward)
    steps = np.arange(grid.shape[0])
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            y=steps,
            x=np.arange(grid.shape[1]),
            colorbar={"title": {"text": "dL/dh"}},
            hovertemplate="t = %{y}, unit %{x}: dL/dh = %{z:.3e}<extra></extra>",
            **diverging(grid),
        )
    )
    _outline_row(fig, t, grid.shape[1])
    fig.update_yaxes(title="timestep t", dtick=1, autorange="reversed")
    fig.update_xaxes(title="hidden unit")
    return base_layout(fig, uirevision, height=max(260, 18 * grid.shape[0] + 90))


def norms_figure(backward, t: int, log_scale: bool = True, uirevision: str = "norms") -> go.Figure:
    """Lines over t of ||dL/dh_t||: the total, the part from the loss at t, the part carried from t + 1."""
    norms = norms_by_step(backward)
    steps = np.arange(len(norms["total"]))
    fig = go.Figure()
    names = {
        "total": "total ||dL/dh_t||",
        "from_loss": "from the loss at t",
        "carried": "carried back from t + 1",
    }
    for key, label in names.items():
        # A log axis cannot show 0 (no loss at t = 0, nothing carried past T): leave a gap instead.
        values = np.where(norms[key] > 0, norms[key], np.nan) if log_scale else norms[key]
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                name=label,
                mode="lines+markers",
                line={
                    "color": SERIES_COLORS[key],
                    "width": 3 if key == "total" else 2,
                    "dash": None if key == "total" else "dot",
                },
                hovertemplate=f"{label}<br>t = %{{x}}: %{{y:.3e}}<extra></extra>",
            )
        )
    fig.add_vline(x=t, line={"color": HIGHLIGHT, "width": 2})
    fig.update_xaxes(title="timestep t", dtick=1)
    fig.update_yaxes(title="gradient norm", type="log" if log_scale else "linear")
    return base_layout(fig, uirevision, height=320, legend={"orientation": "h", "y": 1.18})


def local_derivative_figure(backward, t: int, activation: str, uirevision: str = "fprime") -> go.Figure:
    """Heatmap of f'(a_t) over t = 1 … T × hidden unit, current row outlined (0 = saturated / dead)."""
    values = backward.local_derivative
    steps = np.arange(1, values.shape[0] + 1)
    formula = {"tanh": "1 − h²", "sigmoid": "h (1 − h)", "relu": "1[h > 0]"}[activation]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            y=steps,
            x=np.arange(values.shape[1]),
            colorscale="Greens",
            zmin=0.0,
            zmax=1.0,
            colorbar={"title": {"text": "f'(a)"}},
            hovertemplate=f"t = %{{y}}, unit %{{x}}: f'(a) = {formula} = %{{z:.3f}}<extra></extra>",
        )
    )
    if t >= 1:
        _outline_row(fig, t, values.shape[1])
    fig.update_yaxes(title="timestep t", dtick=1, autorange="reversed")
    fig.update_xaxes(title="hidden unit")
    return base_layout(
        fig, uirevision, height=max(240, 18 * values.shape[0] + 90), title={"text": f"f'(a_t) = {formula}"}
    )


def survival_figure(backward, t: int, uirevision: str = "survival") -> go.Figure:
    """Bars over t = 1 … T: the share of ||dL/dh_t|| that reaches h_{t-1} (Wh^T (f'(a_t) ⊙ dL/dh_t)).

    Below 1 the carried gradient shrinks at that step, above 1 it grows; a dashed line marks 1.
    """
    share = backward.survival()
    steps = np.arange(1, share.shape[0] + 1)
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=share,
            marker={
                "color": [SERIES_COLORS["survival"] if v <= 1 else SERIES_COLORS["from_loss"] for v in share],
                "line": {"width": np.where(steps == t, 3, 0), "color": HIGHLIGHT},
            },
            text=[f"{v:.2f}" for v in share],
            textposition="outside",
            hovertemplate="from t = %{x} to t − 1: %{y:.3f} of the gradient survives<extra></extra>",
        )
    )
    fig.add_hline(y=1.0, line={"dash": "dash", "color": MASKED})
    fig.update_xaxes(title="step t (gradient passing back to t − 1)", dtick=1)
    fig.update_yaxes(title="surviving share", rangemode="tozero")
    return base_layout(fig, uirevision, height=300)


def contributions(backward, t: int, param: str) -> dict[str, np.ndarray]:
    """Step t's contribution to d`param` (param "Wh" or "Wx"), the sum over steps T … t so far, and the total.

    Stepping backward from T, "so far" reaches the total at t = 1. Shapes (H, H) for Wh, (W, H) for Wx.
    """
    steps = backward.dWh_steps if param == "Wh" else backward.dWx_steps
    total = backward.dWh if param == "Wh" else backward.dWx
    s = max(t, 1) - 1
    return {"step": steps[s], "so_far": steps[s:].sum(axis=0), "total": total}


def contributions_figure(backward, t: int, param: str, uirevision: str = "contrib") -> go.Figure:
    """Three heatmaps side by side: step t's share of d`param`, the sum of steps T … t, and the total.

    Matrices with more than MAX_MATRIX_UNITS rows or columns show their top-left block (stated in the titles).
    """
    parts = contributions(backward, t, param)
    rows, cols = parts["total"].shape
    r, c = min(rows, MAX_MATRIX_UNITS), min(cols, MAX_MATRIX_UNITS)
    crop = "" if (r, c) == (rows, cols) else f" (first {r}×{c})"
    titles = [
        f"step t = {max(t, 1)}{crop}",
        f"sum of steps {len(backward.dWh_steps)} … {max(t, 1)}",
        f"total d{param}",
    ]
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.06)
    colors = diverging(parts["total"][:r, :c], parts["step"][:r, :c], parts["so_far"][:r, :c])
    for i, key in enumerate(("step", "so_far", "total"), start=1):
        fig.add_trace(
            go.Heatmap(
                z=parts[key][:r, :c],
                showscale=i == 3,
                hovertemplate=f"{titles[i - 1]}<br>row %{{y}}, col %{{x}}: %{{z:.3e}}<extra></extra>",
                **colors,
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    return base_layout(fig, uirevision, height=320)


def contribution_norms_figure(backward, t: int, uirevision: str = "contrib-norms") -> go.Figure:
    """Bars over t = 1 … T of the Frobenius norm of each step's contribution to dWh and dWx."""
    steps = np.arange(1, backward.dWh_steps.shape[0] + 1)
    fig = go.Figure()
    for name, values, color in (
        ("dWh", backward.dWh_steps, SERIES_COLORS["carried"]),
        ("dWx", backward.dWx_steps, SERIES_COLORS["survival"]),
    ):
        fig.add_trace(
            go.Bar(
                x=steps,
                y=np.linalg.norm(values.reshape(values.shape[0], -1), axis=1),
                name=f"||{name} of step t||",
                marker={"color": color, "line": {"width": np.where(steps == t, 3, 0), "color": HIGHLIGHT}},
                hovertemplate=f"{name}, step %{{x}}: %{{y:.3e}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="timestep t", dtick=1)
    fig.update_yaxes(title="Frobenius norm")
    return base_layout(fig, uirevision, height=280, barmode="group", legend={"orientation": "h", "y": 1.15})
