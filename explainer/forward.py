"""The forward pass of one caption, step by step: views over t = 0 … T for the page's stepper.

Timesteps follow the page's control: t = 0 is the image (h_0 = W_proj·feature + b_proj) and t = 1 … T
are the word steps, so step t reads ``trace.ids_in[t - 1]``, holds ``trace.h[t - 1]`` and is scored on
``trace.ids_target[t - 1]``. ``trace`` is a ``core.lab.trace.ForwardTrace`` of T steps. Each view is a
``explainer.stepping.Stepped`` figure: the figure of t = 0 and what changes at every other step.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.lab.topk import rank_of, top_k
from explainer import highlights
from explainer.code import ACTIVATION_SYMBOLS
from explainer.colors import (
    GROUND_TRUTH,
    LEGEND_ABOVE,
    MASKED,
    NEUTRAL,
    SERIES_COLORS,
    TERM_COLORS,
    base_layout,
    diverging,
)
from explainer.escape import figure_text
from explainer.stepping import Stepped

# Above this many cells a strip shows colours only; numbers are in the hover.
MAX_ANNOTATED_CELLS = 16


def word(idx_to_word, word_id) -> str:
    """The word of an id, for labels."""
    return str(idx_to_word[int(word_id)])


def probability_text(p: float) -> str:
    """A probability for a label: three decimals, or scientific notation below 0.001 (never "10μ")."""
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def probability_of_loss(p: float, loss: float) -> str:
    """p as probability_text writes it if its −log gives `loss` (−log p) to the three decimals it is printed
    with, else with the fewest significant digits (up to 8) that do: "−log p = loss" is then the arithmetic of
    the numbers shown (−log 0.002 is 6.215, not the 6.398 of p = 0.001668)."""
    for text in [probability_text(p)] + [f"{p:.{digits}g}" for digits in range(3, 9)]:
        if f"{-np.log(float(text)):z.3f}" == f"{loss:z.3f}":
            return text
    return text


# --------------------------------------------------------------------------- the unrolled network


def _highlight_shapes(t: int) -> list[dict]:
    """The current step's column, shaded, and a ring round its hidden state."""
    return [highlights.column(t), highlights.ring(t, 1)]


def network_view(trace, idx_to_word) -> Stepped:
    """The RNN unrolled over t = 0 … T: words fed in (bottom), hidden states, next-word targets (top).

    The current step is shaded; steps whose target is ``<NULL>`` are greyed out as masked. Hidden-state
    markers are coloured by the mean of h_t on the diverging scale. Words are set at an angle so that
    neighbours never run together.
    """
    T = trace.num_steps
    steps = np.arange(T + 1)
    h_mean = np.concatenate([[trace.h0.mean()], trace.h.mean(axis=1)])
    predicted = trace.probs.argmax(axis=1)
    colors = diverging(h_mean)
    fig = go.Figure()
    # Edges as two line traces (live and masked steps) with None breaks: one trace each keeps drawing fast.
    for masked in (False, True):
        xs, ys = [], []
        for s in steps[1:]:
            if bool(trace.mask[s - 1]) == masked:
                continue
            xs += [s - 1, s, None, s, s, None, s, s, None]
            ys += [1, 1, None, 0.15, 1, None, 1, 1.85, None]
        if not masked:
            xs += [0, 0, None]
            ys += [0.15, 1, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                hoverinfo="skip",
                name="masked edges" if masked else "edges",
                line={"color": MASKED if masked else NEUTRAL, "width": 1.5},
            )
        )
    # Words come from the dataset's vocabulary: escaped, so that Plotly reads none of them as markup.
    inputs = ["image"] + [figure_text(word(idx_to_word, i)) for i in trace.ids_in]
    targets = [""] + [figure_text(word(idx_to_word, i)) for i in trace.ids_target]
    # z: a mean or a loss that rounds to zero is shown as 0.000, never -0.000.
    hover = [f"t = 0: image feature → h_0<br>mean h_0 = {h_mean[0]:z.3f}"]
    for s in range(T):
        if trace.mask[s]:
            scored = (
                f"predicts '{figure_text(word(idx_to_word, predicted[s]))}' "
                f"(p = {probability_text(trace.probs[s, predicted[s]])})"
                f"<br>target '{targets[s + 1]}', loss {trace.step_loss[s]:.3f}"
            )
        else:
            scored = "target &lt;NULL&gt;: masked, nothing is scored"
        hover.append(
            f"t = {s + 1}: reads '{inputs[s + 1]}'<br>mean h_{s + 1} = {h_mean[s + 1]:z.3f}<br>{scored}"
        )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=np.ones(T + 1),
            mode="markers",
            marker={
                "size": 22,
                "color": h_mean,
                "colorscale": colors["colorscale"],
                "cmin": colors["zmin"],
                "cmax": colors["zmax"],
                "line": {"width": 1, "color": NEUTRAL},
            },
            hovertext=hover,
            hoverinfo="text",
            name="hidden state h_t",
        )
    )
    # Words fed in below the hidden states, targets above; masked steps in grey.
    for s in steps:
        live = s == 0 or bool(trace.mask[s - 1])
        for y, texts, anchor, color in ((0, inputs, "top", NEUTRAL), (2, targets, "bottom", GROUND_TRUTH)):
            if texts[s]:
                fig.add_annotation(
                    x=s,
                    y=y,
                    text=texts[s],
                    showarrow=False,
                    textangle=-35,
                    yanchor=anchor,
                    font={"size": 12, "color": color if live else MASKED},
                )
    fig.update_xaxes(
        tickmode="array",
        tickvals=steps,
        ticktext=[f"t={s}" for s in steps],
        range=[-0.6, T + 0.6],
        showgrid=False,
        zeroline=False,
        side="top",
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=[0, 1, 2],
        ticktext=["fed in", "h_t", "target"],
        range=[-1.1, 3.1],
        showgrid=False,
        zeroline=False,
    )
    base_layout(fig, "network", height=300, showlegend=False, shapes=_highlight_shapes(0))
    return Stepped(fig, [{"layout": {"shapes": _highlight_shapes(t)}} for t in steps])


# --------------------------------------------------------------------------- the step's numbers


def equation_rows(trace, t: int) -> list[tuple[str, str, np.ndarray]]:
    """(term key, label, values) of the strips the equation figure shows at timestep t.

    t = 0: h_0 (H,), the projection of the image feature. t >= 1: x_t (W,), Wx·x_t, h_{t-1}, Wh·h_{t-1},
    b, a_t = their sum, and h_t = f(a_t), each (H,). The labels name the step as t (the same at every
    step, so moving to another step only redraws the numbers); the formula above the figure gives its value.
    """
    if t == 0:
        return [("h", "h_0 = W_proj·feature + b_proj", trace.h0)]
    s = t - 1
    f = ACTIVATION_SYMBOLS[trace.activation]
    return [
        ("x", "x_t (word vector, W)", trace.x[s]),
        ("wx_x", "Wx·x_t", trace.wx_x[s]),
        ("h_prev", "h_t−1", trace.h_prev[s]),
        ("wh_h", "Wh·h_t−1", trace.wh_h[s]),
        ("b", "b", trace.b),
        ("a", "a_t = Wx·x_t + Wh·h_t−1 + b", trace.a[s]),
        ("h", f"h_t = {f}(a_t)", trace.h[s]),
    ]


MIN_EQUATION_ROWS_HEIGHT = 110


def _equation_step(trace, t: int, width: int, rows_of) -> tuple[dict, dict]:
    """The heatmap attributes and the layout keys of step t (rows padded with blanks to `width`)."""
    rows = rows_of(trace, t)
    grid = np.full((len(rows), width), np.nan)
    for i, (_, _, values) in enumerate(rows):
        grid[i, : np.size(values)] = values
    labels = [label for _, label, _ in rows]
    heatmap = {"z": grid, "y": labels, **diverging(*(values for _, _, values in rows))}
    layout = {
        # One row (h_0 at t = 0) is drawn taller: the colour bar spans the rows, and needs room for its labels.
        "height": max(48 * len(rows), MIN_EQUATION_ROWS_HEIGHT) + 90,
        "yaxis": {
            "automargin": True,
            "autorange": "reversed",
            "tickmode": "array",
            "tickvals": labels,
            "ticktext": [
                f"<span style='color:{TERM_COLORS[term]}'><b>{label}</b></span>" for term, label, _ in rows
            ],
        },
    }
    return heatmap, layout


def equation_view(trace, rows_of=equation_rows) -> Stepped:
    """The numbers of each step as one heatmap, a row per term, on one diverging scale; `rows_of(trace, t)`
    gives the rows (equation_rows for the vanilla cell, explainer.lstm.equation_rows for the LSTM).

    Row labels have the term's colour (the same as its code line). Rows shorter than the longest are padded
    with blanks: the columns are the units of each vector, 0 … H - 1 (and 0 … W - 1 for x_t). Cells show
    their values when a row has at most MAX_ANNOTATED_CELLS entries; every value is in its hover.
    """
    T = trace.num_steps
    width = max(trace.h.shape[1], trace.x.shape[1])
    annotate = width <= MAX_ANNOTATED_CELLS
    first, first_layout = _equation_step(trace, 0, width, rows_of)
    fig = go.Figure(
        go.Heatmap(
            **first,
            x=np.arange(width),
            # Where every cell prints its value, the colour bar would only take the cells' room (their numbers
            # were about 8 px at 1280 px, too small on a projector).
            showscale=not annotate,
            colorbar={"title": {"text": "value"}},
            texttemplate="%{z:.2f}" if annotate else None,
            hovertemplate="%{y}<br>unit %{x}: %{z:.4f}<extra></extra>",
            # Gaps between cells only where the numbers are printed: without them Plotly draws a large
            # heatmap as one image, several times faster.
            xgap=2 if annotate else 0,
            ygap=4 if annotate else 0,
        )
    )
    fig.update_xaxes(title="unit", dtick=1 if annotate else None, showgrid=False, range=[-0.5, width - 0.5])
    base_layout(fig, "equation", height=first_layout["height"])
    fig.update_layout(yaxis=first_layout["yaxis"])
    patches = []
    for t in range(T + 1):
        heatmap, layout = _equation_step(trace, t, width, rows_of)
        patches.append({"data": {0: heatmap}, "layout": layout})
    return Stepped(fig, patches)


# --------------------------------------------------------------------------- the next word


def topk_rows(trace, idx_to_word, t: int, k: int = 5) -> list[dict]:
    """The top-k next words at a scored step t >= 1 (and the ground-truth word if outside them).

    Each row: word, probability, rank (1 = most probable), is_target.
    """
    s = t - 1
    probs = trace.probs[s]
    target = int(trace.ids_target[s])
    ids, p = top_k(probs, k)
    rows = [
        {"word": word(idx_to_word, i), "probability": float(q), "rank": r + 1, "is_target": int(i) == target}
        for r, (i, q) in enumerate(zip(ids, p, strict=True))
    ]
    if target not in ids:
        rows.append(
            {
                "word": word(idx_to_word, target),
                "probability": float(probs[target]),
                "rank": rank_of(probs, target),
                "is_target": True,
            }
        )
    return rows


def _topk_step(trace, idx_to_word, t: int, k: int) -> tuple[dict, dict]:
    """The bars and the layout keys of step t: top-k bars at a scored step, a note otherwise."""
    if t == 0 or not trace.mask[t - 1]:
        why = (
            "At t = 0 nothing is predicted yet:<br>the image only sets h₀."
            if t == 0
            else f"t = {t} reads “{figure_text(word(idx_to_word, trace.ids_in[t - 1]))}”:"
            "<br>its target is &lt;NULL&gt; (padding),"
            "<br>so the model scores no next word here<br>and the step adds no loss."
        )
        note = {"text": why, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper", "showarrow": False}
        return {"x": [], "y": [], "text": [], "marker": {"color": []}}, {
            "annotations": [note],
            "title": {"text": f"Next word after t = {t}", "font": {"size": 14}},
        }
    rows = topk_rows(trace, idx_to_word, t, k)
    target = figure_text(word(idx_to_word, trace.ids_target[t - 1]))
    bars = {
        "x": [r["probability"] for r in rows],
        "y": [f"{figure_text(r['word'])}  (#{r['rank']})" for r in rows],
        "text": [probability_text(r["probability"]) for r in rows],
        "marker": {"color": [GROUND_TRUTH if r["is_target"] else NEUTRAL for r in rows]},
    }
    # Two lines: in its two-fifths of a 1280-pixel page, one line of both was cut at its ends.
    title = {"text": f"Next word after t = {t}<br>ground truth “{target}” in green", "font": {"size": 14}}
    return bars, {"annotations": [], "title": title}


def topk_view(trace, idx_to_word, k: int = 5) -> Stepped:
    """Horizontal bars of the top-k next-word probabilities at every scored step, the ground truth in green.

    When the ground-truth word is outside the top k it is added as its own bar with its rank. At t = 0 and
    at steps whose target is ``<NULL>`` (masked) there is nothing scored: a note says why.
    """
    steps = range(trace.num_steps + 1)
    parts = [_topk_step(trace, idx_to_word, t, k) for t in steps]
    first_bars, first_layout = parts[0]
    fig = go.Figure(
        go.Bar(
            **first_bars,
            orientation="h",
            textposition="auto",
            cliponaxis=False,
            hovertemplate="%{y}: p = %{x:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    # One axis for every step, so bars compare across steps, reaching just past the most probable word.
    top = max((max(bars["x"], default=0.0) for bars, _ in parts), default=0.0)
    fig.update_xaxes(range=[0, min(1.0, 1.3 * top) or 1.0], title="probability")
    # One height for every step (k words and the ground truth when it is outside them): a step then
    # redraws the bars, not the whole figure.
    base_layout(fig, "topk", height=90 + 32 * (k + 1), margin={"t": 60})
    # A step with no bars shows its note alone: empty axes would show numbers that mean nothing.
    axes = {axis: fig.layout[axis].to_plotly_json() for axis in ("xaxis", "yaxis")}
    for bars, layout in parts:
        layout.update({axis: {**value, "visible": bool(bars["x"])} for axis, value in axes.items()})
    fig.update_layout(**first_layout)
    return Stepped(fig, [{"data": {0: bars}, "layout": layout} for bars, layout in parts])


# --------------------------------------------------------------------------- the loss


def loss_view(trace) -> Stepped:
    """Per-step loss −log p(target) as bars over t = 1 … T, with the running total as a line.

    ``<NULL>`` targets are drawn as grey hatched stubs labelled "masked"; they add nothing to the total.
    Bar values sit inside the bars (above a bar too short for its value). The current step's bar is outlined,
    with a dotted line behind the bars.
    """
    T = trace.num_steps
    steps = np.arange(1, T + 1)
    # Masked steps get a visible stub (a fifth of the tallest bar) so the padding is seen, not just absent.
    stub = max(float(trace.step_loss.max()) * 0.2, 0.05)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=steps,
            y=np.where(trace.mask, trace.step_loss, stub),
            name="loss at step t",
            marker={
                "color": [SERIES_COLORS["from_loss"] if m else MASKED for m in trace.mask],
                "pattern": {"shape": ["" if m else "/" for m in trace.mask]},
            },
            text=[f"{v:z.2f}" if m else "masked" for v, m in zip(trace.step_loss, trace.mask, strict=True)],
            # inside from the bottom where it fits, else above the bar (Plotly shrank it to an unreadable dot)
            textposition="auto",
            insidetextanchor="start",
            textangle=-90,
            hovertext=[
                f"t = {s}: −log p = {v:z.3f}"
                if m
                else f"t = {s}: target &lt;NULL&gt;, masked: adds 0 to the loss"
                for s, v, m in zip(steps, trace.step_loss, trace.mask, strict=True)
            ],
            hovertemplate="%{hovertext}<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=trace.running_loss,
            name="running total",
            mode="lines+markers",
            line={"color": SERIES_COLORS["total"]},
            marker={"size": 5},  # small, to cover less of the values in the bars
            hovertemplate="total up to t = %{x}: %{y:.3f}<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_xaxes(title="timestep t", dtick=1, range=[0.4, T + 0.6])
    fig.update_yaxes(title="−log p(target)", secondary_y=False, rangemode="tozero")
    # tickmode auto: Plotly.js puts an overlaying axis's ticks on the first axis's grid ("sync"), at odd values
    # such as 20.1 and 30.1.
    fig.update_yaxes(
        title="running total", secondary_y=True, rangemode="tozero", showgrid=False, tickmode="auto"
    )
    base_layout(fig, "loss", height=300, legend=LEGEND_ABOVE)

    heights = np.where(trace.mask, trace.step_loss, stub)

    def cursor(t):
        # the line behind the bars, so that it does not strike through the step's value
        line = {**highlights.vline(t, "dot"), "layer": "below"}
        return [highlights.bar_outline(t, float(heights[t - 1])), line] if t else []

    fig.update_layout(shapes=cursor(0))
    return Stepped(fig, [{"layout": {"shapes": cursor(t)}} for t in range(T + 1)])
