"""The gradient-check lab: every layer's backward pass against finite differences, with deliberate bugs."""

import streamlit as st

import ui
from core.lab.bugs import BUGS
from core.lab.gradcheck_lab import LAYER_TITLES, LAYERS, SIZE_LIMITS, LabSizes, run_all_checks
from explainer import gradcheck

RESULTS_KEY = "gradcheck.results"
STEP_CHOICES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
SIZE_MEANINGS = {
    "N": "batch",
    "T": "timesteps",
    "D": "input",
    "W": "word vector",
    "H": "hidden",
    "V": "vocabulary",
}
KIND_STYLE = {"success": st.success, "caught": st.error, "missed": st.warning, "failed": st.warning}
KIND_ICON = {"success": "✅", "caught": "🐞", "missed": "🙈", "failed": "⚠️"}


def controls() -> dict:
    """The lab's settings as keyword arguments of core.lab.gradcheck_lab.run_all_checks."""
    left, right = st.columns([2, 3])
    with left:
        bug = st.selectbox(
            "Deliberate bug", list(BUGS), format_func=lambda key: BUGS[key].title, key="gradcheck.bug"
        )
        st.caption(BUGS[bug].explanation)
        activation = st.radio(
            "Activation of the cell", ("tanh", "sigmoid", "relu"), horizontal=True, key="gradcheck.activation"
        )
        dtype = st.radio(
            "Precision",
            ("float64", "float32"),
            horizontal=True,
            key="gradcheck.dtype",
            help="The checks run in float64; choose float32 to see why.",
        )
    with right:
        columns = st.columns(3)
        defaults = LabSizes()
        sizes = {}
        for i, (name, (low, high)) in enumerate(SIZE_LIMITS.items()):
            sizes[name] = columns[i % 3].number_input(
                f"{name} ({SIZE_MEANINGS[name]})", low, high, getattr(defaults, name), key=f"gradcheck.{name}"
            )
        step_column, seed_column = st.columns(2)
        step = step_column.select_slider(
            "Finite-difference step h",
            STEP_CHOICES,
            value=1e-5,
            format_func="{:g}".format,
            key="gradcheck.step",
        )
        seed = seed_column.number_input("Seed of the random inputs", 0, 10_000, 0, key="gradcheck.seed")
        repeat_word = st.checkbox(
            "Make a word id repeat in the embedding input",
            value=True,
            key="gradcheck.repeat",
            help="An embedding backward that overwrites instead of adding is only visible if a word occurs twice.",
        )
    layers = st.multiselect(
        "Checks", list(LAYERS), default=list(LAYERS), format_func=LAYER_TITLES.get, key="gradcheck.layers"
    )
    return {
        "layers": tuple(layers),
        "sizes": LabSizes(**{k: int(v) for k, v in sizes.items()}),
        "activation": activation,
        "bug": bug,
        "dtype": dtype,
        "seed": int(seed),
        "step": float(step),
        "repeat_word": repeat_word,
    }


def run_checks(settings: dict) -> list:
    """The checks for these settings, computed once per session and settings (with a progress bar)."""
    key = repr(settings)
    stored = st.session_state.get(RESULTS_KEY)
    if stored is not None and stored[0] == key:
        return stored[1]
    bar = st.progress(0.0, text="Running the finite differences…")
    results = run_all_checks(
        **settings, progress=lambda fraction, message: bar.progress(fraction, text=f"{message}…")
    )
    bar.empty()
    st.session_state[RESULTS_KEY] = (key, results)
    # New results open the detail view on their worst gradient rather than the previous choice.
    st.session_state.pop("gradcheck.detail", None)
    return results


def details(results: list) -> None:
    """Per-element view of one chosen gradient."""
    choices = [(r.layer, p.name) for r in results for p in r.params]
    worst = max(
        choices, key=lambda c: next(r for r in results if r.layer == c[0]).by_name(c[1]).max_rel_error
    )
    layer, name = st.selectbox(
        "Look at one gradient element by element",
        choices,
        index=choices.index(worst),
        format_func=lambda c: f"{LAYER_TITLES[c[0]]} · d{c[1]}",
        key="gradcheck.detail",
    )
    result = next(r for r in results if r.layer == layer)
    check = result.by_name(name)
    heat, scatter = st.columns([3, 2])
    with heat:
        st.plotly_chart(gradcheck.element_heatmap(check), key="gradcheck.elements", width="stretch")
    with scatter:
        st.plotly_chart(gradcheck.comparison_figure(check), key="gradcheck.scatter", width="stretch")
    st.caption(
        f"d{name} has shape {check.shape}; largest element error {check.max_rel_error:.2e}, error of the whole "
        f"array {check.norm_rel_error:.2e} (‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖)). "
        + " ".join(result.notes)
    )


def page() -> None:
    ui.page_title(ui.GRADIENT_CHECK_LAB)
    st.markdown(
        "Every backward pass of the captioning RNN is checked the way the notebook does: nudge each input "
        "number by ±h, measure how the output changes (the **numeric** gradient) and compare it with what "
        "the backward pass computed (the **analytic** gradient). Break one backward pass on purpose and "
        "watch which checks catch it."
    )
    settings = controls()
    if not settings["layers"]:
        st.info("Choose at least one check.")
        return
    results = run_checks(settings)
    kind, text = gradcheck.verdict_markdown(results, settings["bug"])
    KIND_STYLE[kind](text, icon=KIND_ICON[kind])
    for edit in BUGS[settings["bug"]].edits:
        st.markdown(
            f"**The bug in `{edit.function.__name__}`**: the engine's line (struck through) and the wrong line "
            "the lab runs instead"
        )
        st.html(gradcheck.bug_html(edit))
    table, overview = st.columns([3, 2])
    with table:
        st.dataframe(gradcheck.result_rows(results), hide_index=True, width="stretch", key="gradcheck.table")
    with overview:
        st.plotly_chart(gradcheck.overview_figure(results), key="gradcheck.overview", width="stretch")
    details(results)
    thresholds, precision = st.columns(2)
    with thresholds:
        with st.expander("Thresholds: when is an error small enough?", expanded=False):
            st.markdown(gradcheck.thresholds_markdown())
    with precision:
        with st.expander("Why float64?", expanded=settings["dtype"] == "float32"):
            st.markdown(gradcheck.float64_markdown(settings["step"], settings["dtype"]))


ui.setup_page(ui.GRADIENT_CHECK_LAB)
with ui.friendly_errors("the gradient-check lab"):
    page()
