"""Figures and tables of the activation race (`core.lab.race`): losses, gradient norms, hidden activations.

Builders take plain arrays keyed by lane name ("tanh", "sigmoid", "relu", "lstm"), so they draw any run, live
or finished. Values that are infinite or NaN (a lane whose weights grew without bound) are not drawn and never
make a builder raise.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.lab.race import SATURATION_SHARE
from explainer.axes import log_ticks
from explainer.colors import LEGEND_ABOVE, NEUTRAL, base_layout
from explainer.escape import figure_text
from explainer.summary import shown

# One colour per lane, the same in every race figure.
LANE_COLORS = {"tanh": "#1d4ed8", "sigmoid": "#ea580c", "relu": "#0d9488", "lstm": "#7c3aed"}
SATURATED_FILL = "rgba(220, 38, 38, 0.12)"
DIVERGED_COLOR = "#b91c1c"


def lane_color(activation: str) -> str:
    return LANE_COLORS.get(activation, NEUTRAL)


def _finite(values) -> np.ndarray:
    """values as float64 with infinite and NaN entries as NaN, which Plotly leaves out of a line."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def _layout(fig: go.Figure, uirevision: str, height: int, **extra) -> go.Figure:
    extra.setdefault("legend", LEGEND_ABOVE)
    base_layout(fig, uirevision, height, **extra)
    fig.update_xaxes(showgrid=True, gridcolor="#e5e7eb")
    fig.update_yaxes(showgrid=True, gridcolor="#e5e7eb")
    return fig


def loss_figure(
    losses: dict,
    log_y: bool = True,
    thresholds=(1.0, 0.1),
    target: int | None = None,
    diverged: dict | None = None,
    uirevision: str = "race.loss",
) -> go.Figure:
    """Minibatch loss per iteration, one line per lane, with the milestone thresholds.

    losses: lane -> (iterations,) losses of iterations 1, 2, ...; a star marks where each line first goes
    below each threshold; diverged: lane -> the iteration it diverged at, where its line stops at a labelled
    cross (the others go on); target fixes the x range to the race's length. On a log axis every decade is
    labelled with its value (explainer.axes.log_ticks).
    """
    diverged = {lane: at for lane, at in (diverged or {}).items() if at is not None}
    # The thresholds as the layout's shapes, in one go: fig.add_hline took Plotly about 8 ms a line, at every
    # redraw of a race. A shape's own label stays on its line on a log axis too (an annotation's y would be
    # read as log10).
    fig = go.Figure(layout={"shapes": [_threshold_line(threshold) for threshold in thresholds]})
    drawn = []
    for activation, values in losses.items():
        values = _finite(values)
        drawn.append(values)
        iterations = np.arange(1, values.size + 1)
        fig.add_trace(
            go.Scatter(
                x=iterations,
                y=values,
                mode=_points_if_one(values),
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
        if activation in diverged:
            _mark_divergence(
                fig, activation, values, diverged[activation], [*diverged].index(activation), target
            )
    fig.update_xaxes(**iteration_axis(target))
    axis = log_ticks(*drawn, thresholds) if log_y else {"type": "linear"}
    fig.update_yaxes(title_text="training loss (minibatch)", **axis)
    return _layout(fig, uirevision, 360)


def iteration_axis(target: int | None) -> dict:
    """The x axis of the race's charts: iterations 0 … `target` (the race's length; None: as drawn), with room
    after the last so that its point is not cut in half, and a tick at every iteration of a short race."""
    if not target:
        return {"title_text": "iteration"}
    axis = {"title_text": "iteration", "range": [0, target + max(1, 0.02 * target)]}
    return {**axis, "dtick": 1} if target <= 10 else axis


def _points_if_one(values: np.ndarray) -> str:
    """A line's mode: a lane with one value so far (or one before it diverged) is a point, not an invisible
    line."""
    return "lines" if np.isfinite(values).sum() > 1 else "lines+markers"


def _threshold_line(threshold: float) -> dict:
    """A dotted line across the plot at loss = threshold, labelled at its right end (what add_hline makes)."""
    return {
        "type": "line",
        "xref": "x domain",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": threshold,
        "y1": threshold,
        "line": {"dash": "dot", "color": NEUTRAL, "width": 1},
        "label": {"text": f"loss {threshold:g}", "textposition": "end", "yanchor": "bottom"},
    }


def _mark_divergence(
    fig: go.Figure, activation: str, values: np.ndarray, at: int, order: int, target: int | None
) -> None:
    """A cross at the last finite loss of a lane that diverged at iteration `at`, a dotted line at `at`, and
    its label at the top inside the plot, without a background over the curves (`order`: the lane's rank
    among those that diverged, each label a line lower; on the side of the line with more room, `target`
    being the axis's end)."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size:
        last = int(finite[-1])
        fig.add_trace(
            go.Scatter(
                x=[last + 1],
                y=[values[last]],
                mode="markers",
                marker={"color": DIVERGED_COLOR, "size": 12, "symbol": "x"},
                name=f"{activation} diverged",
                showlegend=False,
                hovertemplate=f"{activation}: last finite loss %{{y:.4g}} at iteration %{{x}}<extra></extra>",
            )
        )
    fig.add_vline(x=at, line={"dash": "dot", "color": DIVERGED_COLOR, "width": 1})
    # In the y axis's domain, not its values, so that it stands at the top of a log axis too.
    fig.add_annotation(
        x=at,
        xref="x",
        y=1 - 0.08 * order,
        yref="y domain",
        text=f"{activation} diverged at iteration {at}",
        showarrow=False,
        xanchor="left" if target is None or at <= target / 2 else "right",
        yanchor="top",
        # no background: the curves it crosses stay visible through the text
        font={"color": DIVERGED_COLOR, "size": 12},
    )


def grad_norm_figure(
    total: dict,
    per_param: dict | None = None,
    param: str = "Wh",
    target: int | None = None,
    uirevision: str = "race.grad",
) -> go.Figure:
    """Gradient norms per iteration on a log scale: solid = all parameters together, dotted = `param` alone.

    total, per_param: lane -> (iterations,) norms; target: the race's length, the x range (as loss_figure's).
    Every decade of the axis is labelled with its value.
    """
    series = [(total, "all parameters", "grad", {"width": 2})]
    series.append((per_param or {}, param, f"d{param}", {"width": 1.5, "dash": "dot"}))
    fig = go.Figure()
    drawn = []
    for norms, label, symbol, line in series:
        for activation, values in norms.items():
            values = _finite(values)
            drawn.append(values)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, values.size + 1),
                    y=values,
                    mode=_points_if_one(values),
                    name=activation if label == "all parameters" else f"{activation}: {label}",
                    # One legend entry per lane (its solid line), which shows and hides both of its lines: with
                    # an entry per line, four lanes took eight rows of the figure's height.
                    legendgroup=activation,
                    showlegend=label == "all parameters",
                    line={"color": lane_color(activation), **line},
                    hovertemplate=f"{activation}<br>iteration %{{x}}<br>‖{symbol}‖ %{{y:.3g}}<extra></extra>",
                )
            )
    fig.update_xaxes(**iteration_axis(target))
    fig.update_yaxes(title_text=f"gradient norm (solid: all, dotted: {param})", **log_ticks(*drawn))
    return _layout(fig, uirevision, 360)


def saturated_ranges(
    activation: str, edges: np.ndarray, share: float = SATURATION_SHARE
) -> list[tuple[float, float]]:
    """The h intervals inside [edges[0], edges[-1]] where f'(a) < share × its peak (the saturated zone).

    For the LSTM lane the local derivative o (1 - tanh²(c)) is not a function of h alone: no zone is shaded.
    """
    low, high = float(edges[0]), float(edges[-1])
    if activation == "tanh":
        bound = float(np.sqrt(1 - share))
        return [(low, -bound), (bound, high)]
    if activation == "sigmoid":
        # h (1 - h) < share / 4  <=>  h outside the roots of h^2 - h + share / 4.
        root = (1 - float(np.sqrt(1 - share))) / 2
        return [(low, root), (1 - root, high)]
    if activation == "relu":
        return [(low, low + (high - low) / len(edges))]
    return []


def _panel_title(stats) -> str:
    """Two lines: the lane's saturated share and the iteration it was measured at (the table beside it may be a
    tick newer: the histograms are redrawn less often), then its mean local derivative (and forget gate), as the
    summary prints them (explainer.summary.shown: 0.00139, not 0.00)."""
    if stats.activation == "lstm":
        lines = [
            f"lstm: {100 * stats.saturated:.0f}% with o·tanh′(c) < 0.1",
            f"mean o·tanh′(c) = {shown(stats.mean_derivative)}, forget gate f = {shown(stats.mean_forget_gate or 0)}",
        ]
    else:
        lines = [
            f"{stats.activation}: {100 * stats.saturated:.0f}% saturated",
            f"mean f′(a) = {shown(stats.mean_derivative)}",
        ]
    if stats.nonfinite:  # said only when some are: a share that rounds to 0 % reads "<1%"
        share = f"{100 * stats.nonfinite:.0f}%" if stats.nonfinite >= 0.005 else "<1%"
        lines[0] += f", {share} inf or NaN"
    lines[0] += f" at iteration {stats.iteration}"
    return "<br>".join(figure_text(line, None) for line in lines)


# Panels per row of the histogram figure: two stay readable beside each other on a 1280-pixel screen.
HISTOGRAMS_PER_ROW = 2
HISTOGRAM_ROW_HEIGHT = 280


def histogram_figure(stats: list, uirevision: str = "race.hist") -> go.Figure:
    """One histogram of hidden activations per lane, saturated zones shaded.

    stats: core.lab.race.HiddenStats (counts (B,), edges (B + 1,), saturated share, mean derivative, activation).
    Bars are shares of all values so lanes compare at any probe size; every panel's axis reads in percent.
    Bins whose edges are not finite (weights grown without bound) are left out.
    """
    cols = min(max(len(stats), 1), HISTOGRAMS_PER_ROW)
    rows = max(-(-len(stats) // cols), 1)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_panel_title(s) for s in stats],
        horizontal_spacing=0.08,
        vertical_spacing=0.3 / rows,
    )
    shading = []
    for index, s in enumerate(stats):
        row, col = divmod(index, cols)
        row, col = row + 1, col + 1
        edges = np.asarray(s.edges, dtype=np.float64)
        counts = np.nan_to_num(np.asarray(s.counts, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        usable = np.isfinite(edges[:-1]) & np.isfinite(edges[1:]) & (edges[1:] > edges[:-1])
        total = max(float(counts.sum()), 1.0)
        fig.add_trace(
            go.Bar(
                x=((edges[:-1] + edges[1:]) / 2)[usable],
                y=(counts / total)[usable],
                width=np.diff(edges)[usable],
                marker={"color": lane_color(s.activation)},
                name=s.activation,
                showlegend=False,
                hovertemplate="h ≈ %{x:.3f}<br>share %{y:.1%}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        finite_edges = edges[np.isfinite(edges)]
        if finite_edges.size < 2 or finite_edges[-1] <= finite_edges[0]:
            continue
        # Shapes on this panel's own axes, added in one go below (add_vrect took Plotly about 14 ms per zone).
        axis = "" if index == 0 else index + 1
        shading += [
            {
                "type": "rect",
                "xref": f"x{axis}",
                "yref": f"y{axis} domain",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": SATURATED_FILL,
                "line": {"width": 0},
            }
            for x0, x1 in saturated_ranges(s.activation, finite_edges)
            if x1 > x0
        ]
        fig.update_xaxes(range=[float(finite_edges[0]), float(finite_edges[-1])], row=row, col=col)
    # Titled on each column's lowest panel only: above it, an axis title would run into the panel titles below.
    for col in range(1, cols + 1):
        lowest = (len(stats) - col) // cols + 1
        fig.update_xaxes(title_text="hidden activation h", row=max(lowest, 1), col=col)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(title_text="share of values", col=1)
    fig.update_annotations(font_size=12)
    return _layout(fig, uirevision, HISTOGRAM_ROW_HEIGHT * rows + 40, bargap=0, shapes=shading)


def milestone_rows(summary, thresholds=(1.0, 0.1)) -> list[dict]:
    """Table rows of a core.lab.race.RaceSummary, one per measure (iterations, losses, milestones), with a
    column per lane: {"": measure, lane: value}. The lanes side by side fit a 1024 px screen, where the eight
    measures side by side did not.

    "saturated" is the share of hidden values whose local derivative is below a tenth of its peak: f′(a) for a
    vanilla lane, o·tanh′(c) for the LSTM's, which the row's name then says."""
    saturated = "saturated"
    if any(lane.activation == "lstm" for lane in summary.lanes):
        saturated = "saturated (LSTM: o·tanh′(c) < 0.1)"
    loss_now = _loss_now_measure(summary.lanes)
    lanes = {}
    for lane in summary.lanes:
        row = {
            "iterations": lane.iterations,
            loss_now: None if lane.final_loss is None else round(lane.final_loss, 4),
            "best loss": None if lane.best_loss is None else round(lane.best_loss, 4),
        }
        for threshold in thresholds:
            first = lane.first_below.get(threshold)
            row[f"first below {threshold:g}"] = "not yet" if first is None else f"iteration {first}"
        row[saturated] = f"{100 * lane.saturated:.0f}%"
        row["ms / iteration"] = (
            None if lane.seconds_per_iteration is None else round(1000 * lane.seconds_per_iteration, 1)
        )
        # Diverged as the solver stops a lane: a loss, gradient or update no longer finite (a loss that only grows
        # is in the loss rows).
        row["diverged (not finite)"] = f"at iteration {lane.diverged_at}" if lane.diverged_at else "no"
        lanes[lane.activation] = row
    measures = dict.fromkeys(measure for row in lanes.values() for measure in row)
    return [{"": measure, **{name: row[measure] for name, row in lanes.items()}} for measure in measures]


def _loss_now_measure(lanes) -> str:
    """The name of the row of final losses, saying how many minibatch losses each is the mean of."""
    windows = sorted({lane.final_minibatches for lane in lanes if lane.final_loss is not None})
    if not windows:
        return "loss now"
    if windows == [1]:
        return "loss now (1 minibatch)"
    if len(windows) == 1:
        return f"loss now (mean of last {windows[0]})"
    return f"loss now (mean of last {windows[0]} to {windows[-1]})"


def sample_rows(records) -> list[dict]:
    """Table rows of every caption change of each lane: iteration, lane, caption (newest first).

    records: core.lab.race.LaneRecord objects (their `samples` of CaptionSample). Captions are words of the
    data: a table shows them as plain text.
    """
    rows = [
        {"iteration": s.iteration, "lane": record.activation, "caption": s.text or "(empty)"}
        for record in records
        for s in record.samples
    ]
    return sorted(rows, key=lambda r: (-r["iteration"], r["lane"]))
