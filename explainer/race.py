"""Figures and tables of the activation race (`core.lab.race`): losses, gradient norms, hidden activations.

Builders take plain arrays keyed by activation name, so they draw any run, live or finished.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.lab.race import SATURATION_SHARE
from explainer.colors import NEUTRAL, base_layout

# One colour per activation, the same in every race figure.
LANE_COLORS = {"tanh": "#1d4ed8", "sigmoid": "#ea580c", "relu": "#0d9488"}
SATURATED_FILL = "rgba(220, 38, 38, 0.12)"


def lane_color(activation: str) -> str:
    return LANE_COLORS.get(activation, NEUTRAL)


def _layout(fig: go.Figure, uirevision: str, height: int, **extra) -> go.Figure:
    extra.setdefault("legend", {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0})
    base_layout(fig, uirevision, height, **extra)
    fig.update_xaxes(showgrid=True, gridcolor="#e5e7eb")
    fig.update_yaxes(showgrid=True, gridcolor="#e5e7eb")
    return fig


def loss_figure(
    losses: dict,
    log_y: bool = True,
    thresholds=(1.0, 0.1),
    target: int | None = None,
    uirevision: str = "race.loss",
) -> go.Figure:
    """Minibatch loss per iteration, one line per activation, with the milestone thresholds.

    losses: activation -> (iterations,) losses of iterations 1, 2, ...; a marker shows where each line first
    goes below each threshold; target fixes the x range to the race's length.
    """
    fig = go.Figure()
    for threshold in thresholds:
        fig.add_hline(
            y=threshold,
            line={"dash": "dot", "color": NEUTRAL, "width": 1},
            annotation_text=f"loss {threshold:g}",
            annotation_position="top right",
        )
    for activation, values in losses.items():
        values = np.asarray(values, dtype=np.float64)
        iterations = np.arange(1, values.size + 1)
        fig.add_trace(
            go.Scatter(
                x=iterations,
                y=values,
                mode="lines",
                name=activation,
                line={"color": lane_color(activation), "width": 2},
                hovertemplate=f"{activation}<br>iteration %{{x}}<br>loss %{{y:.4f}}<extra></extra>",
            )
        )
        for threshold in thresholds:
            below = np.flatnonzero(values < threshold)
            if below.size:
                i = int(below[0])
                fig.add_trace(
                    go.Scatter(
                        x=[i + 1],
                        y=[values[i]],
                        mode="markers",
                        marker={"color": lane_color(activation), "size": 10, "symbol": "star"},
                        name=f"{activation} < {threshold:g}",
                        showlegend=False,
                        hovertemplate=f"{activation} first below {threshold:g} at iteration %{{x}}<extra></extra>",
                    )
                )
    fig.update_xaxes(title_text="iteration", range=[0, target] if target else None)
    fig.update_yaxes(title_text="training loss (minibatch)", type="log" if log_y else "linear")
    return _layout(fig, uirevision, 380, title="Loss")


def grad_norm_figure(
    total: dict, per_param: dict | None = None, param: str = "Wh", uirevision: str = "race.grad"
) -> go.Figure:
    """Gradient norms per iteration on a log scale: solid = all parameters together, dotted = `param` alone.

    total, per_param: activation -> (iterations,) norms.
    """
    series = [(total, "all parameters", "grad", {"width": 2})]
    series.append((per_param or {}, param, f"d{param}", {"width": 1.5, "dash": "dot"}))
    fig = go.Figure()
    for norms, label, symbol, line in series:
        for activation, values in norms.items():
            values = np.asarray(values, dtype=np.float64)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, values.size + 1),
                    y=values,
                    mode="lines",
                    name=f"{activation}: {label}",
                    line={"color": lane_color(activation), **line},
                    hovertemplate=f"{activation}<br>iteration %{{x}}<br>‖{symbol}‖ %{{y:.3g}}<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="iteration")
    fig.update_yaxes(title_text="gradient norm", type="log")
    fig = _layout(fig, uirevision, 380, title="Gradient norms")
    # Four legend entries do not fit beside the title: put them under the plot.
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0}, margin={"b": 60})
    return fig


def saturated_ranges(
    activation: str, edges: np.ndarray, share: float = SATURATION_SHARE
) -> list[tuple[float, float]]:
    """The h intervals inside [edges[0], edges[-1]] where f'(a) < share × its peak (the saturated zone)."""
    low, high = float(edges[0]), float(edges[-1])
    if activation == "tanh":
        bound = float(np.sqrt(1 - share))
        return [(low, -bound), (bound, high)]
    if activation == "sigmoid":
        # h (1 - h) < share / 4  <=>  h outside the roots of h^2 - h + share / 4.
        root = (1 - float(np.sqrt(1 - share))) / 2
        return [(low, root), (1 - root, high)]
    return [(low, low + (high - low) / len(edges))]


def histogram_figure(stats: list, uirevision: str = "race.hist") -> go.Figure:
    """One histogram of hidden activations per lane, saturated zones shaded.

    stats: core.lab.race.HiddenStats (counts (B,), edges (B + 1,), saturated share, mean derivative, activation).
    Bars are shares of all values so lanes compare at any probe size.
    """
    fig = make_subplots(
        rows=1,
        cols=max(len(stats), 1),
        subplot_titles=[
            f"{s.activation}: {100 * s.saturated:.0f}% saturated, mean f'(a) = {s.mean_derivative:.2f}"
            for s in stats
        ],
    )
    for col, s in enumerate(stats, start=1):
        total = max(int(np.sum(s.counts)), 1)
        centres = (s.edges[:-1] + s.edges[1:]) / 2
        fig.add_trace(
            go.Bar(
                x=centres,
                y=np.asarray(s.counts) / total,
                width=np.diff(s.edges),
                marker={"color": lane_color(s.activation)},
                name=s.activation,
                showlegend=False,
                hovertemplate="h ≈ %{x:.3f}<br>share %{y:.3%}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        for x0, x1 in saturated_ranges(s.activation, s.edges):
            if x1 > x0:
                fig.add_vrect(x0=x0, x1=x1, fillcolor=SATURATED_FILL, line_width=0, row=1, col=col)
        fig.update_xaxes(
            title_text="hidden activation h", range=[float(s.edges[0]), float(s.edges[-1])], row=1, col=col
        )
    fig.update_yaxes(title_text="share of values", tickformat=".0%", col=1)
    fig.update_annotations(font_size=12)
    return _layout(fig, uirevision, 300, bargap=0)


def milestone_rows(summary, thresholds=(1.0, 0.1)) -> list[dict]:
    """Table rows (one per lane) of a core.lab.race.RaceSummary: iterations, losses and milestones."""
    rows = []
    for lane in summary.lanes:
        row = {
            "activation": lane.activation,
            "iterations": lane.iterations,
            "loss now (last 5)": None if lane.final_loss is None else round(lane.final_loss, 4),
            "best loss": None if lane.best_loss is None else round(lane.best_loss, 4),
        }
        for threshold in thresholds:
            first = lane.first_below.get(threshold)
            row[f"first below {threshold:g}"] = "not yet" if first is None else f"iteration {first}"
        row["saturated"] = f"{100 * lane.saturated:.0f}%"
        row["ms / iteration"] = (
            None if lane.seconds_per_iteration is None else round(1000 * lane.seconds_per_iteration, 1)
        )
        rows.append(row)
    return rows


def sample_rows(lanes) -> list[dict]:
    """Table rows of every caption change of each lane: iteration, activation, caption (newest first).

    lanes: core.lab.race.Lane objects (their `samples` lists of CaptionSample).
    """
    rows = [
        {"iteration": s.iteration, "activation": lane.activation, "caption": s.text or "(empty)"}
        for lane in lanes
        for s in lane.samples
    ]
    return sorted(rows, key=lambda r: (-r["iteration"], r["activation"]))
