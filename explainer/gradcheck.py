"""Figures, tables and texts of the gradient-check lab, from `core.lab.gradcheck_lab.CheckResult` objects."""

from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go

from core.lab.bugs import BUGS, broken_source
from core.lab.gradcheck_lab import LAYER_TITLES, THRESHOLDS
from core.lab.source import function_source

# Colours of the verdict bands, from right to wrong.
VERDICT_COLORS = {"pass": "#16a34a", "look closer": "#ca8a04", "suspicious": "#ea580c", "wrong": "#dc2626"}
ERROR_SCALE = [[0.0, "#16a34a"], [0.55, "#bef264"], [0.7, "#facc15"], [0.85, "#f97316"], [1.0, "#b91c1c"]]
# log10 of the relative error spans 1e-12 (float64 round-off) to 1 (completely wrong).
LOG_RANGE = (-12.0, 0.0)
# Smallest error drawn on log axes, so an exact 0 still gets a bar.
FLOOR = 1e-16


def _floor(values):
    return np.maximum(np.asarray(values, dtype=np.float64), FLOOR)


def result_rows(results) -> list[dict]:
    """Table rows, one per checked gradient: layer, gradient, shape, errors (formatted), verdict."""
    rows = []
    for result in results:
        for p in result.params:
            rows.append(
                {
                    "layer": LAYER_TITLES[result.layer],
                    "gradient": f"d{p.name}",
                    "shape": " × ".join(str(d) for d in p.shape),
                    "max relative error": f"{p.max_rel_error:.2e}",
                    "norm relative error": f"{p.norm_rel_error:.2e}",
                    "verdict": p.verdict,
                }
            )
    return rows


def overview_figure(results, uirevision: str = "gradcheck.overview") -> go.Figure:
    """Horizontal bars of every gradient's max relative error on a log axis, over the threshold bands."""
    labels, values, colors, hover = [], [], [], []
    for result in results:
        for p in result.params:
            labels.append(f"{result.layer} · d{p.name}")
            values.append(max(p.max_rel_error, FLOOR))
            colors.append(VERDICT_COLORS[p.verdict])
            hover.append(f"{LAYER_TITLES[result.layer]}<br>d{p.name}: {p.max_rel_error:.2e} ({p.verdict})")
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker={"color": colors},
            hovertext=hover,
            hoverinfo="text",
            name="max relative error",
        )
    )
    low = FLOOR
    for bound, verdict, _ in THRESHOLDS:
        high = min(bound, 10.0)
        fig.add_vrect(x0=low, x1=high, fillcolor=VERDICT_COLORS[verdict], opacity=0.08, line_width=0)
        if np.isfinite(bound):
            fig.add_vline(x=bound, line={"dash": "dot", "color": VERDICT_COLORS[verdict], "width": 1})
        low = high
    fig.update_xaxes(type="log", title_text="largest relative error (log scale)", range=[-16, 1])
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        uirevision=uirevision,
        height=max(220, 26 * len(labels) + 80),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        plot_bgcolor="white",
        showlegend=False,
    )
    return fig


def as_grid(values: np.ndarray) -> np.ndarray:
    """Any array as 2-D for a heatmap: (k,) -> (1, k); (a, ..., k) -> (a·..., k); a scalar -> (1, 1)."""
    values = np.asarray(values)
    if values.ndim == 0:
        return values.reshape(1, 1)
    if values.ndim == 1:
        return values[None]
    return values.reshape(-1, values.shape[-1])


def row_labels(shape) -> list[str]:
    """Labels of the heatmap rows of an array of `shape`: its leading indices, e.g. "n=0, t=2"."""
    if len(shape) <= 1:
        return [""]
    lead = shape[:-1]
    return [", ".join(str(i) for i in index) for index in np.ndindex(*lead)]


def element_heatmap(check, title: str | None = None, uirevision: str = "gradcheck.elements") -> go.Figure:
    """log10 of every element's relative error (green right, red wrong); hover shows both gradients."""
    errors = as_grid(check.rel_error)
    z = np.log10(_floor(errors))
    custom = np.stack([as_grid(check.analytic), as_grid(check.numeric), errors], axis=-1)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=row_labels(check.shape),
            customdata=custom,
            colorscale=ERROR_SCALE,
            zmin=LOG_RANGE[0],
            zmax=LOG_RANGE[1],
            colorbar={
                "title": "rel. error",
                "tickvals": [-12, -9, -7, -5, -3, -2, 0],
                "ticktext": ["1e-12", "1e-9", "1e-7", "1e-5", "1e-3", "1e-2", "1"],
            },
            hovertemplate=(
                "row %{y}, column %{x}<br>analytic %{customdata[0]:.6g}<br>numeric %{customdata[1]:.6g}"
                "<br>relative error %{customdata[2]:.2e}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title_text="last index")
    fig.update_yaxes(
        title_text="leading indices" if len(check.shape) > 1 else "", autorange="reversed", type="category"
    )
    fig.update_layout(
        title=title or f"d{check.name}: relative error of each element",
        uirevision=uirevision,
        height=min(120 + 22 * errors.shape[0], 600),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def comparison_figure(check, uirevision: str = "gradcheck.scatter") -> go.Figure:
    """Analytic against numeric gradient, one point per element; a right gradient lies on the diagonal."""
    a = np.asarray(check.analytic, dtype=np.float64).ravel()
    n = np.asarray(check.numeric, dtype=np.float64).ravel()
    limit = float(max(np.abs(a).max(initial=0), np.abs(n).max(initial=0), 1e-12)) * 1.05
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[-limit, limit],
            y=[-limit, limit],
            mode="lines",
            line={"color": "#9ca3af", "dash": "dot"},
            name="analytic = numeric",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=n,
            y=a,
            mode="markers",
            marker={"color": VERDICT_COLORS[check.verdict], "size": 7},
            name=f"d{check.name}",
            hovertemplate="numeric %{x:.6g}<br>analytic %{y:.6g}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="numeric (finite differences)", range=[-limit, limit])
    fig.update_yaxes(title_text="analytic (backward pass)", range=[-limit, limit], scaleanchor="x")
    fig.update_layout(
        title=f"d{check.name}: analytic vs numeric",
        uirevision=uirevision,
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def verdict_markdown(results, bug: str) -> tuple[str, str]:
    """(kind, Markdown) for the whole run. kind: "success" (all right), "caught" (a bug was caught),
    "missed" (a bug went unnoticed), or "failed" (errors without a deliberate bug: float32 or a kink)."""
    failing = [(r, p) for r in results for p in r.params if p.verdict != "pass"]
    worst_result = max(results, key=lambda r: r.max_rel_error)
    worst = worst_result.worst
    worst_text = f"`d{worst.name}` of {LAYER_TITLES[worst_result.layer]}: {worst.max_rel_error:.2e}"
    if bug == "none":
        if not failing:
            return "success", (
                f"All {sum(len(r.params) for r in results)} gradients agree with finite differences "
                f"(largest relative error {worst_text})."
            )
        return "failed", (
            f"{len(failing)} gradient(s) are outside the pass band without any bug; the largest is {worst_text}. "
            + _no_bug_reason(results)
        )
    applied = [r for r in results if r.bug_applies]
    caught = [r for r in applied if not r.passed]
    missed = [r for r in applied if r.passed]
    title = BUGS[bug].title
    if caught:
        names = ", ".join(LAYER_TITLES[r.layer] for r in caught)
        text = f"**Caught.** The bug “{title}” shows in: {names}. Largest error {worst_text}."
        if missed:
            text += " It went unnoticed by: " + ", ".join(LAYER_TITLES[r.layer] for r in missed) + "."
        clean = [r for r in results if not r.bug_applies]
        if clean and all(r.passed for r in clean):
            text += " Layers that do not use the broken code still pass, which tells you where to look."
        return "caught", text
    return "missed", (
        f"**Missed.** The bug “{title}” is in the code, yet every check passes: the test input never "
        "exercises it. " + " ".join(n for r in applied for n in r.notes)
    )


def _no_bug_reason(results) -> str:
    if any(r.dtype == "float32" for r in results):
        return (
            "This run is in float32: finite differences there are dominated by round-off (see why float64)."
        )
    if any(r.activation == "relu" for r in results):
        return "With ReLU a perturbation can cross the kink at 0, where the derivative jumps; small errors there are expected."
    return (
        "Try another seed or smaller sizes: tiny gradient entries have large relative errors from round-off."
    )


def float64_markdown(step: float) -> str:
    """Why the lab uses float64, with the machine epsilons and the round-off they imply for step h."""
    rows = []
    for name in ("float32", "float64"):
        eps = float(np.finfo(name).eps)
        rows.append(f"| {name} | {eps:.1e} | {eps / step:.1e} |")
    return "\n".join(
        [
            f"A centred difference (f(x + h) − f(x − h)) / 2h with h = {step:g} subtracts two nearly equal "
            "numbers. Their round-off, about ε·|f|, is divided by h, so the numeric gradient carries an "
            "error of about ε/h on top of the h² truncation error:",
            "",
            "| dtype | machine ε | round-off ε / h |",
            "|---|---|---|",
            *rows,
            "",
            "In float32 that round-off is as large as the errors a bug causes, so the check cannot tell right "
            "from wrong; in float64 it is millions of times smaller. Switch the dtype to float32 to see it.",
        ]
    )


def thresholds_markdown() -> str:
    """The verdict bands as a Markdown table."""
    lines = ["| verdict | largest relative error |", "|---|---|"]
    lines += [f"| {verdict} | {text} |" for _, verdict, text in THRESHOLDS]
    lines += [
        "",
        "Relative error of an element: |analytic − numeric| / max(1e-8, |analytic| + |numeric|); "
        "the check reports the largest over all elements, as the notebook's `rel_error` does.",
    ]
    return "\n".join(lines)


def bug_html(edit) -> str:
    """The engine function a bug breaks, as its source reads, with the right line struck through and the
    bug's wrong line beneath it: exactly the two versions the lab runs (core.lab.bugs.broken_source).
    Escaped: nothing in it is interpreted as HTML."""
    right = function_source(edit.function).rstrip("\n").split("\n")
    wrong = broken_source(edit).rstrip("\n").split("\n")
    rows = []
    for before, after in zip(right, wrong, strict=True):
        if before == after:
            rows.append(f'<span style="color:#374151">{escape(before)}</span>')
        else:
            rows.append(f'<span style="color:#15803d;text-decoration:line-through">{escape(before)}</span>')
            rows.append(
                f'<span data-bug="wrong" style="color:#b91c1c;font-weight:600;background:#fee2e2">'
                f"{escape(after)}</span>"
            )
    return (
        '<pre style="font-size:0.8rem;line-height:1.45;background:#f9fafb;padding:0.75rem;'
        'border-radius:0.5rem;overflow-x:auto;white-space:pre">' + "\n".join(rows) + "</pre>"
    )
