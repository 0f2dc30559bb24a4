"""Figures, tables and texts of the gradient-check lab, from `core.lab.gradcheck_lab.CheckResult` objects.

Every number a text or figure shows is one the checks measured, and every sentence about why a gradient
fails rests on the numbers it quotes (its `Diagnosis`)."""

from __future__ import annotations

from html import escape
from itertools import pairwise

import numpy as np
import plotly.graph_objects as go

from core.lab.bugs import BUGS, broken_source
from core.lab.gradcheck_lab import (
    BUG,
    LAYER_TITLES,
    PASS_BOUND,
    REFERENCE_DTYPE,
    REFERENCE_STEP,
    ROUND_OFF,
    STEP_CHOICES,
    THRESHOLDS,
    TOO_LARGE,
    UNRESOLVED,
)
from core.lab.source import function_source
from explainer.code import wrapped_pre
from explainer.colors import base_layout
from explainer.wording import counted, times

# Colours of the verdict bands, from right to wrong.
VERDICT_COLORS = {"pass": "#16a34a", "look closer": "#ca8a04", "suspicious": "#ea580c", "wrong": "#dc2626"}
# log10 of the relative error spans 1e-12 (float64 round-off) to 1 (completely wrong).
LOG_RANGE = (-12.0, 0.0)
# Smallest error drawn on log axes, so an exact 0 still gets a bar.
FLOOR = 1e-16
# The measured causes (core.lab.gradcheck_lab.CAUSES) as the page names them, in the order it lists them.
CAUSE_TITLES = {
    BUG: "A real bug",
    TOO_LARGE: "Step too large",
    ROUND_OFF: "Round-off",
    UNRESOLVED: "Too small to resolve",
}
# How many gradients a line of the advice names before it only counts the rest.
NAMED = 6


def _error_scale() -> list:
    """Heatmap colours over LOG_RANGE that change exactly where the verdict bands do: the pass band from dark
    to light green, then each band in its VERDICT_COLORS."""
    low, high = LOG_RANGE
    edges = [(np.log10(bound) - low) / (high - low) for bound, _, _ in THRESHOLDS[:-1]] + [1.0]
    scale = [[0.0, "#14532d"], [edges[0], "#86efac"]]
    for (start, end), (_, verdict, _) in zip(pairwise(edges), THRESHOLDS[1:], strict=True):
        scale += [[start, VERDICT_COLORS[verdict]], [end, VERDICT_COLORS[verdict]]]
    return scale


ERROR_SCALE = _error_scale()


def _floor(values):
    return np.maximum(np.asarray(values, dtype=np.float64), FLOOR)


def _log_ticks(exponents) -> dict:
    """Axis ticks at the powers of ten `exponents`, written 1e-9 (Plotly's own would read 1n, 10µ)."""
    return {
        "tickvals": [10.0**e for e in exponents],
        "ticktext": ["1" if e == 0 else f"1e{e}" for e in exponents],
    }


def result_rows(results) -> list[dict]:
    """Table rows, one per checked gradient: check, gradient, shape, largest relative error (formatted),
    verdict and, for a gradient outside the pass band, its measured cause. (The norm error is in the detail
    view: one more column would not fit a projector.) The gradients outside the pass band come first, each
    group in the checks' order: a long table scrolls, and the rows that fail must be the ones in sight."""
    rows = []
    for result in results:
        for p in result.params:
            rows.append(
                {
                    "check": LAYER_TITLES[result.layer],
                    "gradient": f"d{p.name}",
                    "shape": " × ".join(str(d) for d in p.shape),
                    "max relative error": f"{p.max_rel_error:.2e}",
                    "verdict": p.verdict,
                    "cause": "" if p.diagnosis is None else CAUSE_TITLES[p.diagnosis.cause],
                }
            )
    return sorted(rows, key=lambda row: row["verdict"] == "pass")


def overview_figure(results, uirevision: str = "gradcheck.overview") -> go.Figure:
    """Horizontal bars of every gradient's max relative error on a log axis, over the threshold bands."""
    labels, values, colors, hover = [], [], [], []
    for result in results:
        for p in result.params:
            labels.append(f"{result.layer} · d{p.name}")
            values.append(max(p.max_rel_error, FLOOR))
            colors.append(VERDICT_COLORS[p.verdict])
            hover.append(f"{LAYER_TITLES[result.layer]}<br>d{p.name}: {p.max_rel_error:.2e} ({p.verdict})")
    # The threshold bands and lines as the layout's shapes, in one go (what add_vrect and add_vline make, which
    # took Plotly about 80 ms for the seven, on every run of the lab page).
    shapes, low = [], FLOOR
    for bound, verdict, _ in THRESHOLDS:
        high = min(bound, 10.0)
        across = {"xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}
        band = {"type": "rect", "x0": low, "x1": high, "fillcolor": VERDICT_COLORS[verdict], "opacity": 0.08}
        shapes.append({**band, **across, "line": {"width": 0}})
        if np.isfinite(bound):
            line = {"dash": "dot", "color": VERDICT_COLORS[verdict], "width": 1}
            shapes.append({"type": "line", "x0": bound, "x1": bound, **across, "line": line})
        low = high
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker={"color": colors},
            hovertext=hover,
            hoverinfo="text",
            name="max relative error",
        ),
        layout={"shapes": shapes},
    )
    fig.update_xaxes(
        type="log", title_text="largest relative error", range=[-16, 1], **_log_ticks(range(-15, 1, 3))
    )
    fig.update_yaxes(autorange="reversed")
    return base_layout(
        fig, uirevision, max(220, 22 * len(labels) + 80), margin={"r": 20, "t": 10}, showlegend=False
    )


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
    """log10 of every element's relative error, coloured by verdict band; hover shows both gradients."""
    errors = as_grid(check.rel_error)
    z = np.log10(_floor(errors))
    custom = np.stack([as_grid(check.analytic), as_grid(check.numeric), errors], axis=-1)
    # Tick labels at least two decades apart, so that they do not overlap on a one-row heatmap.
    ticks = (-12, -9, -5, -2, 0)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=row_labels(check.shape),
            customdata=custom,
            colorscale=ERROR_SCALE,
            zmin=LOG_RANGE[0],
            zmax=LOG_RANGE[1],
            colorbar={
                # Beside the bar: above it the title would overlap the top tick label.
                "title": {"text": "relative error", "side": "right"},
                "tickvals": list(ticks),
                "ticktext": _log_ticks(ticks)["ticktext"],
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
    height = min(max(260, 120 + 22 * errors.shape[0]), 600)
    return base_layout(
        fig, uirevision, height, title=title or f"d{check.name}: relative error of each element"
    )


def _titled(fig: go.Figure, title: str, uirevision: str, height: int, legend: dict) -> go.Figure:
    """The layout of the lab's titled charts on a white plot, with the legend below."""
    return base_layout(fig, uirevision, height, title=title, legend=legend)


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
    return _titled(
        fig, f"d{check.name}: analytic vs numeric", uirevision, 360, {"orientation": "h", "y": -0.25}
    )


def _element(check, scan) -> str:
    """The element a scan followed, e.g. dWh[2, 3]."""
    return f"d{check.name}[{', '.join(str(i) for i in scan.index)}]"


def scan_figure(check, uirevision: str = "gradcheck.scan") -> go.Figure:
    """The relative error of a failing gradient's worst element at every step h (its Diagnosis.scan), with
    the float64 reference check's worst element beside it when that one fails too, the step the check used
    and the pass bound."""
    diagnosis = check.diagnosis
    scan = diagnosis.scan
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(scan.steps),
            y=_floor(scan.errors),
            mode="lines+markers",
            line={"color": "#2563eb"},
            name=f"{_element(check, scan)} in {scan.dtype}",
            customdata=list(scan.errors),
            hovertemplate="h = %{x:g}<br>relative error %{customdata:.2e}<extra></extra>",
        )
    )
    reference = diagnosis.reference_scan
    if reference is not None and reference is not scan:
        fig.add_trace(
            go.Scatter(
                x=list(reference.steps),
                y=_floor(reference.errors),
                mode="lines+markers",
                line={"color": "#6b7280", "dash": "dash"},
                name=f"{_element(check, reference)} in {reference.dtype}",
                customdata=list(reference.errors),
                hovertemplate="h = %{x:g}<br>relative error %{customdata:.2e}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[scan.step],
            y=[max(scan.error_at(scan.step), FLOOR)],
            mode="markers",
            marker={"size": 14, "color": "rgba(0,0,0,0)", "line": {"color": "#dc2626", "width": 2}},
            name=f"the check's h = {scan.step:g}",
            hoverinfo="skip",
        )
    )
    fig.add_hline(y=PASS_BOUND, line={"dash": "dot", "color": VERDICT_COLORS["pass"], "width": 1})
    fig.update_xaxes(type="log", title_text="step h", **_log_ticks(range(-9, 0, 2)))
    fig.update_yaxes(
        type="log", title_text="relative error", range=[-16.5, 0.5], **_log_ticks(range(-15, 1, 3))
    )
    legend = {"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "left", "x": 0}
    return _titled(fig, f"{_element(check, scan)}: error at each step h", uirevision, 420, legend)


def _dtype_eps(dtype: str) -> float:
    return float(np.finfo(dtype).eps)


def _smaller(error: float, better: float) -> str:
    """How many times smaller `better` is than `error`, as a clause (", 120× smaller", ", 6.5e+06× smaller"),
    or "" for 0."""
    if better == 0:
        return ""
    return f", {times(error / better)} smaller"


def _span(errors) -> str:
    """The range of `errors` as a clause: "stays between 5.00e-01 and 9.10e-01", or "stays at 1.00e+00"."""
    low, high = f"{min(errors):.2e}", f"{max(errors):.2e}"
    return f"stays at {low}" if low == high else f"stays between {low} and {high}"


def _unresolved_text(check, diagnosis) -> str:
    """Why a gradient whose float64 reference check fails at every step is still right: it agrees as a whole,
    and its worst element, tiny against the largest, shows the V of finite differences
    (core.lab.gradcheck_lab.too_small_to_resolve)."""
    reference = diagnosis.reference_scan
    above, below = reference.rises
    element = float(np.asarray(check.analytic)[reference.index])
    largest = float(np.abs(check.analytic).max())
    smaller = f"{times(largest / abs(element))} smaller than" if element else "0 against"
    return (
        f"The backward pass itself is right: in {REFERENCE_DTYPE} with h = {REFERENCE_STEP:g} the whole "
        f"gradient agrees to {diagnosis.reference_norm_error:.2e} (‖analytic − numeric‖ / (‖analytic‖ + "
        f"‖numeric‖)). Its worst element there, `{_element(check, reference)}` = {element:.2e}, is {smaller} "
        f"the largest entry ({largest:.2e}), too small for finite "
        f"differences to resolve: its error, {reference.best_error:.2e} at best (h = {reference.best_step:g}), "
        f"rises to {reference.error_at(above):.2e} at h = {above:g} and {reference.error_at(below):.2e} at "
        f"h = {below:g}, the V of truncation against round-off; a wrong derivative would stay flat."
    )


def _step_text(scan, cause, error) -> str:
    """What a smaller or larger step does to the worst element's error `error` (at the check's step), and the
    cause it shows: TOO_LARGE or ROUND_OFF."""
    better = scan.better_step
    if better is None:
        return (
            f"No step from {scan.steps[0]:g} to {scan.steps[-1]:g} halves that error (the smallest is "
            f"{scan.best_error:.2e}, at h = {scan.best_step:g}): this is as close as {scan.dtype} gets, its "
            f"round-off (ε = {_dtype_eps(scan.dtype):.1e}) sets the limit."
        )
    if cause == TOO_LARGE:
        return (
            f"A smaller step does better: at h = {better:g} that element's error is {scan.error_at(better):.2e}"
            f"{_smaller(error, scan.error_at(better))}. **The step is too large**: the truncation error of a "
            "centred difference shrinks like h²."
        )
    return (
        f"A larger step does better: at h = {better:g} that element's error is {scan.error_at(better):.2e}"
        f"{_smaller(error, scan.error_at(better))}. **Round-off dominates**: {scan.dtype} keeps numbers to "
        f"about ε = {_dtype_eps(scan.dtype):.1e} of their size, and the difference quotient divides that "
        "error by 2h."
    )


def _reference_text(check, diagnosis) -> str:
    """That the backward pass is right, from the reference check: it passes, or its worst element does at
    some step."""
    if diagnosis.reference_error < PASS_BOUND:
        return (
            f"The backward pass itself is right: in {REFERENCE_DTYPE} with h = {REFERENCE_STEP:g} this "
            f"gradient's largest error is {diagnosis.reference_error:.2e}."
        )
    reference = diagnosis.reference_scan
    return (
        f"The backward pass itself is right: in {REFERENCE_DTYPE} its worst element "
        f"`{_element(check, reference)}` agrees to {reference.best_error:.2e} at h = {reference.best_step:g}."
    )


def diagnosis_markdown(result, check) -> str:
    """Why `check`, a gradient of `result` outside the pass band, fails: sentences that quote the
    measurements of its Diagnosis they follow from."""
    diagnosis = check.diagnosis
    scan = diagnosis.scan
    name = f"`d{check.name}` of {LAYER_TITLES[result.layer]}"
    reference = diagnosis.reference_scan
    if diagnosis.cause == BUG:
        return (
            f"{name}: even in {REFERENCE_DTYPE} with h = {REFERENCE_STEP:g} its largest error is "
            f"{diagnosis.reference_error:.2e}, and its worst element `{_element(check, reference)}` "
            f"{_span(reference.errors)} at every step h from {reference.steps[0]:g} to {reference.steps[-1]:g}. "
            "No step brings the finite differences to the "
            "backward pass: **the backward pass is wrong**."
        )
    error = scan.error_at(scan.step)
    text = f"{name}: at h = {scan.step:g} its largest error is {error:.2e}, at `{_element(check, scan)}`. "
    if diagnosis.cause == UNRESOLVED:
        # No step resolves the element, in float64 either: which step does best here is noise, not a cause.
        text += _unresolved_text(check, diagnosis)
    else:
        text += _step_text(scan, diagnosis.cause, error) + " " + _reference_text(check, diagnosis)
    # Of the steps the lab offers (h = 0.1 or 1e-9 is measured, not one to choose), the nearest to this one:
    # that element's best step can be too far for the others (round-off at h = 1e-7 would send them to 1e-3,
    # where the truncation error fails others), and each nearer step moves them all the same way.
    offered = [h for h in scan.steps if h in STEP_CHOICES and scan.error_at(h) < PASS_BOUND]
    if offered:
        choice = min(offered, key=lambda h: (abs(np.log10(h / scan.step)), scan.error_at(h)))
        return text + f" Choose h = {choice:g}, the nearest step where that element is inside the pass band."
    if scan.best_error < PASS_BOUND:
        return text + (
            f" Only at h = {scan.best_step:g}, beyond the lab's steps ({STEP_CHOICES[0]:g} to "
            f"{STEP_CHOICES[-1]:g}), is that element inside the pass band."
        )
    advice = " Use float64." if scan.dtype != "float64" and diagnosis.cause != UNRESOLVED else ""
    return (
        text
        + f" Even at its best ({scan.best_error:.2e}, at h = {scan.best_step:g}) it stays outside the pass "
        f"band (below {PASS_BOUND:g}): {scan.dtype} cannot check this gradient at any step.{advice}"
    )


def _named(pairs) -> str:
    """`layer · dname` of the first NAMED (result, check) pairs, then how many more."""
    names = [f"`{result.layer} · d{check.name}`" for result, check in pairs[:NAMED]]
    more = len(pairs) - NAMED
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def advice_markdown(results) -> str:
    """Why the gradients outside the pass band fail, grouped by their measured cause: how many have it, which,
    and the diagnosis of the worst of them. Empty when every gradient passes."""
    failing = [(r, p) for r in results for p in r.params if p.diagnosis is not None]
    if not failing:
        return ""
    lines = [
        "**Why they fail**, measured: each failing gradient's worst element at every step h, and the same "
        f"check in {REFERENCE_DTYPE} with h = {REFERENCE_STEP:g}."
    ]
    for cause, title in CAUSE_TITLES.items():
        group = [(r, p) for r, p in failing if p.diagnosis.cause == cause]
        if group:
            worst = max(group, key=lambda pair: pair[1].max_rel_error)
            lines.append(
                f"- **{title}** ({len(group)}: {_named(group)}). The worst: {diagnosis_markdown(*worst)}"
            )
    return "\n".join(lines)


def _titles(results) -> str:
    return ", ".join(LAYER_TITLES[r.layer] for r in results)


def verdict_markdown(results, bug: str) -> tuple[str, str]:
    """(kind, Markdown) for the whole run. kind: "success" (all right), "caught" (a check that runs the bug
    fails with a measured bug), "missed" (none does), or "failed" (gradients fail without a deliberate bug)."""
    worst_result = max(results, key=lambda r: r.max_rel_error)
    worst = worst_result.worst
    worst_text = f"`d{worst.name}` of {LAYER_TITLES[worst_result.layer]}: {worst.max_rel_error:.2e}"
    failing = [p for r in results for p in r.params if p.verdict != "pass"]
    if bug == "none":
        if not failing:
            checked = sum(len(r.params) for r in results)
            agree = f"All {checked} gradients agree" if checked > 1 else "The gradient agrees"
            return "success", f"{agree} with finite differences (largest relative error {worst_text})."
        are = "is" if len(failing) == 1 else "are"
        text = (
            f"{counted(len(failing), 'gradient')} {are} outside the pass band without any deliberate bug; "
            f"the largest is {worst_text}."
        )
        wrong = [r for r in results if r.cause == BUG]
        if wrong:
            fail = "fails" if len(wrong) == 1 else "fail"
            text += f" {_titles(wrong)} {fail} in {REFERENCE_DTYPE} at every step too: a bug in the engine itself."
        return "failed", text
    title = BUGS[bug].title
    applied = [r for r in results if r.bug_applies]
    hidden = [r for r in results if r.layer in BUGS[bug].hidden_in]
    hidden_run = f"{_titles(hidden)} run{'s' * (len(hidden) == 1)}"  # "Whole model runs", "… run"
    showing = ", ".join(LAYER_TITLES[layer] for layer in BUGS[bug].checks)
    if not applied and hidden:
        return "missed", (
            f"**Missed.** {hidden_run} the code the bug “{title}” breaks but cannot show it: "
            f"{BUGS[bug].hidden_because}. The checks that can: {showing}."
        )
    if not applied:
        return "missed", (
            f"**Not run.** None of the chosen checks runs the code the bug “{title}” breaks; the checks that do: "
            f"{showing}."
        )
    caught = [r for r in applied if r.cause == BUG]
    missed = [r for r in applied if r.cause != BUG]
    if not caught:
        unresolved = [r for r in applied if r.cause == UNRESOLVED]
        agree = f"every check that runs it agrees with {REFERENCE_DTYPE} finite differences"
        if unresolved:  # they fail in float64 too, at every step, but only where no step can tell
            agree += f", except at an element too small for them to resolve in {_titles(unresolved)}, explained below"
        return "missed", (
            f"**Missed.** The bug “{title}” is in the code, yet {agree}: the test input never exercises it. "
            f"{BUGS[bug].unexercised}"
        ).strip()
    # The largest error of the checks that caught it: elsewhere it may be finite-difference noise (float32).
    worst_caught = max(caught, key=lambda r: r.max_rel_error)
    text = (
        f"**Caught.** The bug “{title}” shows in: {_titles(caught)}: there the backward pass disagrees with "
        f"finite differences even in {REFERENCE_DTYPE}, at every step h. Largest error there "
        f"`d{worst_caught.worst.name}` of {LAYER_TITLES[worst_caught.layer]}: {worst_caught.worst.max_rel_error:.2e}."
    )
    if missed:
        text += f" It went unnoticed by: {_titles(missed)}."
    if hidden:
        text += f" {hidden_run} it too but cannot show it: {BUGS[bug].hidden_because}."
    clean = [r for r in results if not r.bug_applies and r.layer not in BUGS[bug].hidden_in]
    if clean and all(r.passed for r in clean):
        text += " Checks that do not run the broken code still pass, which tells you where to look."
    elif clean and all(r.cause != BUG for r in clean):
        text += (
            " Checks that do not run the broken code fail only through the finite differences (see below), "
            f"never in {REFERENCE_DTYPE}."
        )
    return "caught", text


def float64_markdown(step: float, dtype: str) -> str:
    """Why the lab uses float64: the machine epsilons, the round-off ε/h they imply at step h, and where that
    lies against the pass bound; `dtype` is the precision the checks ran in."""
    roundoff = {name: float(np.finfo(name).eps) / step for name in ("float32", "float64")}
    rows = [f"| {name} | {float(np.finfo(name).eps):.1e} | {value:.1e} |" for name, value in roundoff.items()]

    def against_the_bound(name):
        side = "outside" if roundoff[name] >= PASS_BOUND else "inside"
        return f"{name}'s ({roundoff[name]:.1e}) is {side} the pass band (below {PASS_BOUND:g})"

    closing = (
        f"At this h, for an element as large as the loss, {against_the_bound('float32')}; "
        f"{against_the_bound('float64')}. An element a thousand times smaller than the loss has a thousand "
        "times that error relative to it, so a small h can fail some elements in float64 too. float64's "
        f"round-off is {roundoff['float32'] / roundoff['float64']:.1e} times smaller at any h, which leaves room "
        "for the truncation error and still tells a right gradient from a slightly wrong one."
    )
    if dtype == "float64":
        closing += " Switch the precision to float32 to see the difference."
    return "\n".join(
        [
            f"A centred difference (f(x + h) − f(x − h)) / 2h with h = {step:g} subtracts two nearly equal "
            "numbers, each rounded by about ε·|f|: their difference divided by 2h carries an error of about "
            "ε·|f| / h on top of the h² truncation error. Relative to an element g of the gradient that is "
            "ε / h · |f| / |g|, which is ε / h for an element as large as the loss:",
            "",
            "| dtype | machine ε | round-off ε / h |",
            "|---|---|---|",
            *rows,
            "",
            closing,
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
    return wrapped_pre(rows)
