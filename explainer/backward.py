"""Backpropagation through time for one caption: views over t = 0 … T for the page's stepper.

Timesteps as on the forward page: t = 0 is the image projection (the gradient reaching it is dh0),
t = 1 … T the word steps, so step t reads row t - 1 of the ``core.lab.trace.BackwardTrace`` arrays.
``mask`` (T,) is the forward trace's: False at steps whose target is ``<NULL>`` (padding), where no loss
and, after the caption's end, no gradient reaches h_t. Each view is an ``explainer.stepping.Stepped``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer import highlights
from explainer.axes import log_ticks
from explainer.colors import LEGEND_ABOVE, MASKED, SERIES_COLORS, base_layout, diverging
from explainer.stepping import Stepped

# Matrices larger than this are shown as their top-left block (the full one would be megabytes of JSON).
MAX_MATRIX_UNITS = 32
DERIVATIVE_FORMULAS = {"tanh": "1 − h²", "sigmoid": "h (1 − h)", "relu": "1[h > 0]"}


def gradient_by_step(backward) -> np.ndarray:
    """dL/dh_t for t = 0 … T: (T + 1, H), row 0 = dh0 (reaching the image projection), row t = dh_total[t - 1]."""
    return np.vstack([backward.dh0[None, :], backward.dh_total])


def norms_by_step(backward) -> dict[str, np.ndarray]:
    """(T + 1,) norms for t = 0 … T of the gradient at h_t: total, from the loss at t, carried from t + 1;
    for the LSTM also "cell": what reaches c_t along the cell state from c_{t+1} (0 at t = 0: c_0 = 0 is a
    constant, no gradient goes to it).

    At t = 0 there is no loss term: everything reaching h_0 is carried back from step 1.
    """
    norms = backward.norms()
    dh0 = float(np.linalg.norm(backward.dh0))
    by_step = {
        "total": np.concatenate([[dh0], norms["total"]]),
        "from_loss": np.concatenate([[0.0], norms["from_loss"]]),
        "carried": np.concatenate([[dh0], norms["carried"]]),
    }
    if "cell_carried" in norms:
        by_step["cell"] = np.concatenate([[0.0], norms["cell_carried"]])
    return by_step


def last_scored_step(mask) -> int:
    """The last timestep whose target is a word: where backprop starts (the later ones carry nothing)."""
    scored = np.flatnonzero(mask)
    return int(scored[-1]) + 1 if scored.size else 0


def step_labels(mask, first: int) -> tuple[list, list]:
    """(tick values, tick texts) of timesteps first … T, padding steps labelled as masked in grey."""
    steps = list(range(first, len(mask) + 1))
    texts = [
        f"<span style='color:{MASKED}'>{t} masked</span>" if t and not mask[t - 1] else str(t) for t in steps
    ]
    return steps, texts


def gradient_view(backward, mask) -> Stepped:
    """Heatmap of dL/dh_t, timestep (rows, t = 0 … T) × hidden unit, the current row outlined."""
    grid = gradient_by_step(backward)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            y=np.arange(grid.shape[0]),
            x=np.arange(grid.shape[1]),
            colorbar={"title": {"text": "dL/dh"}},
            hovertemplate="t = %{y}, unit %{x}: dL/dh = %{z:.3e}<extra></extra>",
            **diverging(grid),
        )
    )
    values, texts = step_labels(mask, 0)
    fig.update_yaxes(
        title="timestep t", tickmode="array", tickvals=values, ticktext=texts, autorange="reversed"
    )
    fig.update_xaxes(title="hidden unit")
    base_layout(
        fig, "dh", height=max(260, 18 * grid.shape[0] + 90), shapes=[highlights.row_outline(0, grid.shape[1])]
    )
    return Stepped(
        fig,
        [{"layout": {"shapes": [highlights.row_outline(t, grid.shape[1])]}} for t in range(grid.shape[0])],
    )


def norms_view(backward, log_scale: bool = True) -> Stepped:
    """Lines over t of ||dL/dh_t||: the total, the part from the loss at t, the part carried from t + 1; for
    the LSTM also the part of dL/dc_t carried along the cell state from c_{t+1} (not all of ||dL/dc_t||, which
    the step's sentence gives).

    A log axis cannot show 0 (no loss at t = 0, nothing after the caption's end): those points are gaps. Its
    labels are written out in full (explainer.axes.log_ticks).
    """
    norms = norms_by_step(backward)
    steps = np.arange(len(norms["total"]))
    fig = go.Figure()
    names = {
        "total": "total ||dL/dh_t||",
        "from_loss": "from the loss at t",
        "carried": "carried back from t + 1",
        "cell": "carried along the cell from c_t+1 to c_t",
    }
    for key, label in ((key, names[key]) for key in norms):
        values = np.where(norms[key] > 0, norms[key], np.nan) if log_scale else norms[key]
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                name=label,
                mode="lines+markers",
                line={
                    "color": SERIES_COLORS[key],
                    "width": 3 if key in ("total", "cell") else 2,
                    "dash": None if key in ("total", "cell") else "dot",
                },
                hovertemplate=f"{label}<br>t = %{{x}}: %{{y:.3e}}<extra></extra>",
            )
        )
    # The steps 0 … T and half a step either side (autorange padded the markers out to a "−1" and a "T + 1").
    fig.update_xaxes(title="timestep t", dtick=1, range=[-0.5, steps[-1] + 0.5])
    axis = log_ticks(*norms.values()) if log_scale else {"type": "linear"}
    fig.update_yaxes(title="gradient norm", **axis)
    base_layout(fig, "norms", height=320, legend=LEGEND_ABOVE, shapes=[highlights.vline(0)])
    return Stepped(fig, [{"layout": {"shapes": [highlights.vline(t)]}} for t in steps])


def step_unit_view(values, mask, name: str, formula: str, colorscale: str, uirevision: str) -> Stepped:
    """Heatmap of a per-step factor between 0 and 1, `values` (T, H), over t = 1 … T × hidden unit, the
    current row outlined: `name` = `formula` in the title and hover. The steps after the caption's end
    (`mask` (T,) False) are left blank, as in the gradient's heatmap: no gradient passes through them."""
    fig = go.Figure(
        go.Heatmap(
            z=np.where(np.asarray(mask, dtype=bool)[:, None], values, np.nan),
            y=np.arange(1, values.shape[0] + 1),
            x=np.arange(values.shape[1]),
            colorscale=colorscale,
            zmin=0.0,
            zmax=1.0,
            colorbar={"title": {"text": name}},
            hovertemplate=f"t = %{{y}}, unit %{{x}}: {name} = {formula} = %{{z:.3f}}<extra></extra>",
        )
    )
    ticks, texts = step_labels(mask, 1)
    fig.update_yaxes(
        title="timestep t", tickmode="array", tickvals=ticks, ticktext=texts, autorange="reversed"
    )
    # No grid lines: they would show through the blank rows.
    fig.update_xaxes(title="hidden unit", showgrid=False, zeroline=False)
    fig.update_yaxes(showgrid=False, zeroline=False)
    title = {"text": f"{name} = {formula}"}
    base_layout(fig, uirevision, height=max(240, 18 * values.shape[0] + 90), title=title)
    patches = [
        {"layout": {"shapes": [highlights.row_outline(t, values.shape[1])] if t else []}}
        for t in range(values.shape[0] + 1)
    ]
    return Stepped(fig, patches)


def local_derivative_view(backward, activation: str, mask) -> Stepped:
    """Heatmap of f'(a_t) over t = 1 … T × hidden unit, current row outlined (0 = saturated or dead)."""
    formula = DERIVATIVE_FORMULAS[activation]
    return step_unit_view(backward.local_derivative, mask, "f'(a_t)", formula, "Greens", "fprime")


def share_text(share: float) -> str:
    """The share of a gradient that survives a step, for a label or a sentence: two decimals, or scientific
    notation where two decimals would show a share that is not 0 as 0.00, or run long (1000 and above)."""
    return f"{share:.2f}" if share == 0 or 0.01 <= share < 1000 else f"{share:.1e}"


def survival_view(backward) -> Stepped:
    """Bars over t = 1 … T: the share of ||dL/dh_t|| that reaches h_{t-1} (Wh^T (f'(a_t) ⊙ dL/dh_t)).

    Below 1 the carried gradient shrinks at that step, above 1 it grows; a dashed line marks 1. Where no
    gradient reaches h_t (after the caption's end) there is no ratio: no bar, the label says so.
    """
    share = backward.survival()
    steps = np.arange(1, share.shape[0] + 1)
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=share,
            marker={
                "color": [SERIES_COLORS["from_loss"] if v > 1 else SERIES_COLORS["survival"] for v in share],
            },
            text=[share_text(v) if np.isfinite(v) else "no gradient" for v in share],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="from t = %{x} to t − 1: %{y:.3g} of the gradient survives<extra></extra>",
        )
    )
    one = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1.0, "y1": 1.0}
    one["line"] = {"dash": "dash", "color": MASKED}
    fig.update_xaxes(title="step t (gradient passing back to t − 1)", dtick=1)
    top = float(np.nanmax(share)) if np.isfinite(share).any() else 1.0
    fig.update_yaxes(title="surviving share", range=[0, max(top, 1.0) * 1.25])
    base_layout(fig, "survival", height=300, shapes=[one])
    patches = [
        {"layout": {"shapes": [one, highlights.column(t)] if t else [one]}} for t in range(steps.size + 1)
    ]
    return Stepped(fig, patches)


def contributions(backward, t: int, param: str) -> dict[str, np.ndarray]:
    """Step t's contribution to d`param` (param "Wh" or "Wx"), the sum over steps T … t so far, and the total.

    Stepping backward from T, "so far" reaches the total at t = 1. Shapes (H, H) for Wh, (W, H) for Wx.
    """
    left, da = backward.contribution_factors(param)
    total = backward.dWh if param == "Wh" else backward.dWx
    s = max(t, 1) - 1
    # Step t's share is the outer product of its factors; the sum of the shares of steps T … t is the product
    # of their stacked factors.
    return {"step": np.outer(left[s], da[s]), "so_far": left[s:].T @ da[s:], "total": total}


def contributions_view(backward, param: str) -> Stepped:
    """Three heatmaps side by side: step t's share of d`param`, the sum of steps T … t, and the total.

    Matrices with more than MAX_MATRIX_UNITS rows or columns show their top-left block (stated in the titles).
    One colour scale for every step: the largest |value| of any share, sum or total.
    """
    T = backward.da.shape[0]
    rows, cols = contributions(backward, 1, param)["total"].shape
    r, c = min(rows, MAX_MATRIX_UNITS), min(cols, MAX_MATRIX_UNITS)
    crop = "" if (r, c) == (rows, cols) else f" (first {r}×{c})"
    parts = [contributions(backward, t, param) for t in range(T + 1)]
    colors = diverging(*(part[key][:r, :c] for part in parts for key in ("step", "so_far", "total")))

    def titles(t):
        step = "step t = 1 (t = 0 adds nothing)" if t == 0 else f"step t = {t}"
        return [f"{step}{crop}", f"sum of steps {T} … {max(t, 1)}{crop}", f"total d{param}{crop}"]

    fig = make_subplots(rows=1, cols=3, subplot_titles=titles(0), horizontal_spacing=0.06)
    for i, key in enumerate(("step", "so_far", "total"), start=1):
        fig.add_trace(
            go.Heatmap(
                z=parts[0][key][:r, :c],
                showscale=i == 3,
                **colors,
                hovertemplate="row %{y}, col %{x}: %{z:.3e}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=i)
    base_layout(fig, "contrib", height=320)
    annotations = [a.to_plotly_json() for a in fig.layout.annotations]
    patches = [
        {
            "data": {0: {"z": part["step"][:r, :c]}, 1: {"z": part["so_far"][:r, :c]}},
            "layout": {
                "annotations": [{**a, "text": text} for a, text in zip(annotations, titles(t), strict=True)]
            },
        }
        for t, part in enumerate(parts)
    ]
    return Stepped(fig, patches)


def contribution_norms_view(backward) -> Stepped:
    """Bars over t = 1 … T of the Frobenius norm of each step's contribution to dWh and dWx."""
    T = backward.da.shape[0]
    steps = np.arange(1, T + 1)
    series = (
        ("dWh", backward.dWh_steps, SERIES_COLORS["carried"]),
        ("dWx", backward.dWx_steps, SERIES_COLORS["survival"]),
    )
    fig = go.Figure()
    for name, values, color in series:
        fig.add_trace(
            go.Bar(
                x=steps,
                y=np.linalg.norm(values.reshape(T, -1), axis=1),
                name=f"‖{name} of step t‖",
                marker={"color": color},
                hovertemplate=f"{name}, step %{{x}}: %{{y:.3e}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="timestep t", dtick=1)
    fig.update_yaxes(title="Frobenius norm")
    base_layout(fig, "contrib-norms", height=280, barmode="group", legend=LEGEND_ABOVE)
    return Stepped(fig, [{"layout": {"shapes": [highlights.column(t)] if t else []}} for t in range(T + 1)])
