"""Figures of the forward pass of one caption, step by step.

Timesteps follow the page's control: t = 0 is the image (h_0 = W_proj·feature + b_proj) and t = 1 … T
are the word steps, so step t reads ``trace.ids_in[t - 1]``, holds ``trace.h[t - 1]`` and is scored on
``trace.ids_target[t - 1]``. ``trace`` is a ``core.lab.trace.ForwardTrace`` of T steps.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.lab.topk import rank_of, top_k
from explainer.colors import (
    GROUND_TRUTH,
    HIGHLIGHT,
    MASKED,
    NEUTRAL,
    SERIES_COLORS,
    TERM_COLORS,
    base_layout,
    diverging,
)
from explainer.escape import figure_text

# Above this many cells a strip shows colours only; numbers are in the hover.
MAX_ANNOTATED_CELLS = 16


def word(idx_to_word, word_id) -> str:
    """The word of an id, for labels."""
    return str(idx_to_word[int(word_id)])


def equation_rows(trace, t: int) -> list[tuple[str, str, np.ndarray]]:
    """(term key, label, values) of the strips the equation figure shows at timestep t.

    t = 0: the image feature (D,) and h_0 (H,). t >= 1: x_t (W,), Wx·x_t, h_{t-1}, Wh·h_{t-1}, b,
    a_t = their sum, and h_t = f(a_t), each (H,).
    """
    if t == 0:
        return [
            ("x", "image feature (D)", trace.feature),
            ("h", "h_0 = W_proj·feature + b_proj", trace.h0),
        ]
    s = t - 1
    f = {"tanh": "tanh", "sigmoid": "σ", "relu": "ReLU"}[trace.activation]
    return [
        ("x", f"x_{t} (word vector, W)", trace.x[s]),
        ("wx_x", f"Wx·x_{t}", trace.wx_x[s]),
        ("h_prev", f"h_{t - 1}", trace.h_prev[s]),
        ("wh_h", f"Wh·h_{t - 1}", trace.wh_h[s]),
        ("b", "b", trace.b),
        ("a", f"a_{t} = Wx·x_{t} + Wh·h_{t - 1} + b", trace.a[s]),
        ("h", f"h_{t} = {f}(a_{t})", trace.h[s]),
    ]


def equation_figure(trace, t: int, uirevision: str = "equation") -> go.Figure:
    """The numbers of step t as one heatmap, a row per term, on one diverging scale.

    Row labels have the term's colour (the same as its code line). Rows shorter than the longest
    (x_t has W entries, the others H) are padded with blanks. Cells show their values when a row has
    at most MAX_ANNOTATED_CELLS entries, and every cell's value is in its hover.
    """
    rows = equation_rows(trace, t)
    width = max(np.size(values) for _, _, values in rows)
    grid = np.full((len(rows), width), np.nan)
    for i, (_, _, values) in enumerate(rows):
        grid[i, : np.size(values)] = values
    labels = [label for _, label, _ in rows]
    annotate = width <= MAX_ANNOTATED_CELLS
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=np.arange(width),
            y=labels,
            customdata=np.repeat(np.array(labels, dtype=object)[:, None], width, axis=1),
            colorbar={"title": {"text": "value"}},
            texttemplate="%{z:.2f}" if annotate else None,
            hovertemplate="%{customdata}<br>unit %{x}: %{z:.4f}<extra></extra>",
            xgap=2 if annotate else 0,
            ygap=4,
            **diverging(*(values for _, _, values in rows)),
        )
    )
    fig.update_yaxes(
        autorange="reversed",
        tickmode="array",
        tickvals=labels,
        ticktext=[
            f"<span style='color:{TERM_COLORS[term]}'><b>{label}</b></span>" for term, label, _ in rows
        ],
    )
    fig.update_xaxes(title="unit", dtick=1 if annotate else None, showgrid=False)
    return base_layout(fig, uirevision, height=48 * len(rows) + 90)


def unrolled_network(trace, idx_to_word, t: int, uirevision: str = "network") -> go.Figure:
    """The RNN unrolled over t = 0 … T: words fed in (bottom), hidden states, next-word targets (top).

    The current step is highlighted; steps whose target is ``<NULL>`` are greyed out as masked.
    Hidden-state markers are coloured by the mean of h_t on the diverging scale.
    """
    T = trace.num_steps
    steps = np.arange(T + 1)
    h_mean = np.concatenate([[trace.h0.mean()], trace.h.mean(axis=1)])
    predicted = trace.probs.argmax(axis=1)
    colors = diverging(h_mean)
    fig = go.Figure()
    fig.add_vrect(x0=t - 0.45, x1=t + 0.45, fillcolor=HIGHLIGHT, opacity=0.18, line_width=0, layer="below")
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
                line={"color": MASKED if masked else NEUTRAL, "width": 1.5},
                hoverinfo="skip",
                name="masked edges" if masked else "edges",
            )
        )

    # Words come from the dataset's vocabulary: escaped, so that Plotly reads none of them as markup.
    inputs = ["image"] + [figure_text(word(idx_to_word, i)) for i in trace.ids_in]
    targets = [""] + [figure_text(word(idx_to_word, i)) for i in trace.ids_target]
    input_colors = [NEUTRAL] + [NEUTRAL if m else MASKED for m in trace.mask]
    target_colors = ["white"] + [GROUND_TRUTH if m else MASKED for m in trace.mask]
    hover = [f"t = 0: image feature -> h_0<br>mean h_0 = {h_mean[0]:.3f}"]
    for s in range(T):
        target = targets[s + 1] + ("  (masked: no loss)" if not trace.mask[s] else "")
        hover.append(
            f"t = {s + 1}: reads '{inputs[s + 1]}'<br>mean h_{s + 1} = {h_mean[s + 1]:.3f}"
            f"<br>predicts '{figure_text(word(idx_to_word, predicted[s]))}' (p = {trace.probs[s, predicted[s]]:.3f})"
            f"<br>target '{target}', loss {trace.step_loss[s]:.3f}"
        )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=np.zeros(T + 1),
            mode="text",
            text=inputs,
            textfont={"color": input_colors, "size": 12},
            hoverinfo="skip",
            name="word fed in",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=np.ones(T + 1),
            mode="markers",
            marker={
                "size": np.where(steps == t, 30, 20),
                "color": h_mean,
                "colorscale": colors["colorscale"],
                "cmin": colors["zmin"],
                "cmax": colors["zmax"],
                "line": {
                    "width": np.where(steps == t, 4, 1),
                    "color": np.where(steps == t, HIGHLIGHT, NEUTRAL),
                },
            },
            hovertext=hover,
            hoverinfo="text",
            name="hidden state h_t",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=np.full(T + 1, 2.0),
            mode="text",
            text=targets,
            textfont={"color": target_colors, "size": 12},
            hoverinfo="skip",
            name="next word (ground truth)",
        )
    )
    fig.update_xaxes(
        tickmode="array",
        tickvals=steps,
        ticktext=[f"t={s}" for s in steps],
        range=[-0.6, T + 0.6],
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=[0, 1, 2],
        ticktext=["fed in", "h_t", "target"],
        range=[-0.5, 2.5],
        showgrid=False,
        zeroline=False,
    )
    return base_layout(fig, uirevision, height=260, showlegend=False)


def topk_rows(trace, idx_to_word, t: int, k: int = 5) -> list[dict]:
    """The top-k next words at step t >= 1 (and the ground-truth word if outside them).

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


def topk_figure(trace, idx_to_word, t: int, k: int = 5, uirevision: str = "topk") -> go.Figure:
    """Horizontal bars of the top-k next-word probabilities at step t >= 1, the ground truth in green.

    When the ground-truth word is outside the top k it is added as its own bar with its rank. When it
    is ``<NULL>`` the step is masked: the bars are grey and the title says no loss is counted.
    """
    rows = topk_rows(trace, idx_to_word, t, k)
    masked = not trace.mask[t - 1]
    labels = [f"{figure_text(r['word'])}  (#{r['rank']})" for r in rows]
    colors = [MASKED if masked else (GROUND_TRUTH if r["is_target"] else NEUTRAL) for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[r["probability"] for r in rows],
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{r['probability']:.3f}" for r in rows],
            textposition="auto",
            hovertemplate="%{y}: p = %{x:.4f}<extra></extra>",
        )
    )
    target = figure_text(word(idx_to_word, trace.ids_target[t - 1]))
    title = (
        f"Next word after t = {t}: target is {target}, masked (no loss)"
        if masked
        else f"Next word after t = {t}: ground truth '{target}' in green"
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 1], title="probability")
    return base_layout(
        fig, uirevision, height=60 + 32 * len(rows), title={"text": title, "font": {"size": 14}}
    )


def loss_figure(trace, t: int, uirevision: str = "loss") -> go.Figure:
    """Per-step loss -log p(target) as bars over t = 1 … T, with the running total as a line.

    ``<NULL>`` targets are drawn as grey hatched stubs labelled "masked"; they add nothing to the total.
    The current step's bar is outlined in the highlight colour.
    """
    T = trace.num_steps
    steps = np.arange(1, T + 1)
    # Masked steps get a visible stub (a fifth of the tallest bar) so the padding is seen, not just absent.
    stub = max(float(trace.step_loss.max()) * 0.2, 0.05)
    heights = np.where(trace.mask, trace.step_loss, stub)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=steps,
            y=heights,
            name="loss at step t",
            marker={
                "color": [SERIES_COLORS["from_loss"] if m else MASKED for m in trace.mask],
                "pattern": {"shape": ["" if m else "/" for m in trace.mask]},
                "line": {"width": np.where(steps == t, 3, 0), "color": HIGHLIGHT},
            },
            text=[f"{v:.2f}" if m else "masked" for v, m in zip(trace.step_loss, trace.mask, strict=True)],
            hovertext=[
                f"t = {s}: −log p = {v:.3f}" if m else f"t = {s}: target <NULL>, masked: adds 0 to the loss"
                for s, v, m in zip(steps, trace.step_loss, trace.mask, strict=True)
            ],
            textposition="outside",
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
            hovertemplate="total up to t = %{x}: %{y:.3f}<extra></extra>",
        ),
        secondary_y=True,
    )
    if t >= 1:
        fig.add_vline(x=t, line={"color": HIGHLIGHT, "width": 2, "dash": "dot"})
    fig.update_xaxes(title="timestep t", dtick=1, range=[0.4, T + 0.6])
    fig.update_yaxes(title="−log p(target)", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title="running total", secondary_y=True, rangemode="tozero", showgrid=False)
    return base_layout(fig, uirevision, height=300, legend={"orientation": "h", "y": 1.15})
