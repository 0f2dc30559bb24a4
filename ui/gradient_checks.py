"""The gradient-check lab's results and figures, computed once per server and settings: the results shared
read-only, the figures copied for each call.

The checks are seeded, so the same settings give the same results for every learner: a new tab, or a
class opening the lab's default view together, waits for no finite difference (about 0.2 s of the page's
run on this project's machine, more while other learners compute), and builds no figure again (Plotly's
figure objects took 60 % of the lab's run when the results were already computed; bench/README.md).
"""

from __future__ import annotations

import streamlit as st

from core.lab.gradcheck_lab import CheckResult, ParamCheck, run_all_checks
from explainer import gradcheck
from ui.dataset import freeze
from ui.figure import payload


@st.cache_resource(show_spinner="Running the finite differences…", max_entries=64)
def gradient_checks(**settings) -> list[CheckResult]:
    """core.lab.gradcheck_lab.run_all_checks(**settings) (layers, sizes, activation, bug, dtype, seed, step,
    repeat_word; all hashable), read-only."""
    return freeze(run_all_checks(**settings))


@st.cache_data(show_spinner=False, max_entries=64)
def gradient_check_figures(detail: str, **settings) -> dict[str, dict]:
    """The lab's figures of gradient_checks(**settings), as ui.figure.plotly_figure draws them: "overview", every
    check's errors; for the gradient `detail` ("layer.name") looked at element by element, "elements" (its
    errors as a map) and "scatter" (analytic against numeric), and where its check fails, "scan" (its error
    at every step h). Each call returns a copy of its own."""
    results = gradient_checks(**settings)
    _, check = gradient_looked_at(results, detail)
    figures = {
        "overview": gradcheck.overview_figure(results),
        "elements": gradcheck.element_heatmap(check),
        "scatter": gradcheck.comparison_figure(check),
    }
    if check.diagnosis is not None:
        figures["scan"] = gradcheck.scan_figure(check)
    return {key: payload(fig) for key, fig in figures.items()}


def gradient_looked_at(results: list[CheckResult], detail: str) -> tuple[CheckResult, ParamCheck]:
    """The result of the layer and the check of the gradient that `detail` names ("layer.name", e.g.
    "model.W_vocab"): the gradient the lab looks at element by element."""
    layer, name = detail.split(".", 1)
    result = next(r for r in results if r.layer == layer)
    return result, result.by_name(name)
