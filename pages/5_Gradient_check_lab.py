"""The gradient-check lab: every layer's backward pass against finite differences, with deliberate bugs,
and why a failing check fails, measured."""

import dataclasses

import streamlit as st

import ui
from core.lab.bugs import BUGS
from core.lab.gradcheck_lab import (
    CELL_TITLES,
    CELLS,
    LAYER_TITLES,
    SIZE_LIMITS,
    STEP_CHOICES,
    LabSizes,
    bugs_of,
    checks_of,
    same_checks_for,
)
from explainer import gradcheck
from explainer.table import html_table
from ui import url_state

RESULTS_KEY = "gradcheck.results"
MAX_SEED = 10_000
DTYPES = ("float64", "float32")
SIZE_MEANINGS = {
    "N": "batch",
    "T": "timesteps",
    "D": "input",
    "W": "word vector",
    "H": "hidden",
    "V": "vocabulary",
}
# px: the longest size label ("W: word vector, 1–16") on one line beside the box's steppers.
SIZE_BOX_WIDTH = 150
SEED_BOX_WIDTH = 2 * SIZE_BOX_WIDTH
KIND_STYLE = {"success": st.success, "caught": st.error, "missed": st.warning, "failed": st.warning}
KIND_ICON = {"success": "✅", "caught": "🐞", "missed": "🙈", "failed": "⚠️"}


def size_fields() -> list[url_state.Field]:
    defaults = LabSizes()
    return [
        url_state.integer(name, getattr(defaults, name), low, high, f"{name} ({SIZE_MEANINGS[name]})")
        for name, (low, high) in SIZE_LIMITS.items()
    ]


def base_fields() -> list[url_state.Field]:
    """The URL fields whose choices depend on nothing else: cell, precision, step, seed, repeat, sizes."""
    return [
        url_state.choice("cell", "tanh", CELLS, "cell", key="lab.cell"),
        url_state.choice("dtype", "float64", DTYPES, "precision"),
        url_state.choice("step", 1e-5, STEP_CHOICES, "finite-difference step h"),
        url_state.integer("seed", 0, 0, MAX_SEED, "seed of the random inputs", key="lab.seed"),
        url_state.flag("repeat", True, "repeated word id"),
        *size_fields(),
    ]


def cell_fields(cell: str) -> list[url_state.Field]:
    """The URL fields whose choices depend on the cell: the checks of its captioner, and the bugs in code it
    runs."""
    bug = url_state.choice("bug", "none", bugs_of(cell), "deliberate bug")

    def parse_bug(raw: str) -> str:
        if raw in BUGS and raw not in bugs_of(cell):  # a link that names the bug with another cell
            raise ValueError(
                f"is a bug in code the {CELL_TITLES[cell]} cell never runs (“{BUGS[raw].title}”)"
            )
        return bug.parse(raw)

    return [
        url_state.subset("checks", checks_of(cell), checks_of(cell), "checks"),
        dataclasses.replace(bug, parse=parse_bug),
    ]


def load_settings(notices: list[str], changes: list[str]) -> list[url_state.Field]:
    """Load the lab's URL fields (bad link values fall back to defaults, noted in `notices`; a choice another
    choice undid, in `changes`); returns them."""
    fields = base_fields()
    url_state.load(fields, notices)
    cell = url_state.get("lab.cell")
    before = url_state.get("bug")
    # Another cell keeps the learner's checks, each as its counterpart there (RNN step -> LSTM step). A bug
    # the new cell never runs falls back to "none" in load().
    url_state.reset_on_change("checks", cell, list(same_checks_for(url_state.get("checks", ()), cell)))
    fields += cell_fields(cell)
    url_state.load(fields[-2:], notices)
    # Said only when the fallback happened: a link (or Back) that brings the cell with a bug of its own runs it.
    if before in BUGS and before not in bugs_of(cell) and url_state.get("bug") == "none":
        changes.append(
            f"The {CELL_TITLES[cell]} cell never runs the code of the bug “{BUGS[before].title}”, so the lab "
            "now runs without a deliberate bug."
        )
    return fields


def size_inputs(fields: list[url_state.Field]) -> None:
    """A box per size, its limits in its label: the batch, the time and the input (N, T, D) in one row, the
    sizes of the model (W, H, V) in the next. The boxes have no bounds of their own: a value past a limit is
    refused by its URL field with a message, instead of sitting unused behind a red border."""
    by_name = {field.name: field for field in fields}
    names = list(SIZE_LIMITS)
    for row in (names[:3], names[3:]):
        with st.container(horizontal=True, key=f"lab.sizes.{''.join(row)}"):
            for name in row:
                low, high = SIZE_LIMITS[name]
                st.number_input(
                    f"{name}: {SIZE_MEANINGS[name]}, {low}–{high}",
                    step=1,
                    width=SIZE_BOX_WIDTH,
                    **url_state.bind(name, field=by_name[name]),
                )
    st.caption("Finite differences cost two forward passes per number, so the lab keeps the sizes small.")


def inputs_label() -> str:
    """The test input's settings in one line, as the button that opens them reads."""
    sizes = " · ".join(f"{name} {int(url_state.get(name))}" for name in SIZE_LIMITS)
    # The toggle's setting, not a fact about the input: whether an id repeats depends on the check and the sizes
    # (none can among N·T = 1 ids), and each check's note says which ids do.
    repeat = "on" if url_state.get("repeat") else "off"
    return f"Test input: {sizes} · seed {int(url_state.get('lab.seed'))} · repeat a word id: {repeat}"


def inputs_popover(fields: list[url_state.Field]) -> None:
    """The random input the checks run on (its sizes, seed and a repeated word id), in a popover: set once
    and seldom changed, they are read from its button. Streamlit draws a popover's widgets only when it opens,
    so a new tab has less to draw (bench/README.md, "The lab's test input in a popover")."""
    by_name = {field.name: field for field in fields}
    with st.popover(inputs_label(), wrap=True, key="lab.test_input"):
        size_inputs(fields)
        st.number_input(
            f"Seed, 0–{MAX_SEED}",
            step=1,
            width=SEED_BOX_WIDTH,
            help=f"The seed of the random inputs: any whole number from 0 to {MAX_SEED}; the same seed gives the "
            "same inputs.",
            **url_state.bind("lab.seed", field=by_name["seed"]),
        )
        st.toggle(
            "Repeat a word id",
            help="Make a word id occur twice in the embedding input: an embedding backward that overwrites instead of "
            "adding is only visible then.",
            **url_state.bind("repeat"),
        )


def controls(fields: list[url_state.Field]) -> dict:
    """Draw the lab's widgets, bound to the URL fields; the settings as keyword arguments of
    core.lab.gradcheck_lab.run_all_checks."""
    cell = url_state.get("lab.cell")
    left, right = st.columns([3, 2])
    left.radio("Cell", CELLS, format_func=CELL_TITLES.get, horizontal=True, **url_state.bind("lab.cell"))
    right.radio(
        "Precision",
        DTYPES,
        horizontal=True,
        help="The checks run in float64; choose float32 to see why.",
        **url_state.bind("dtype"),
    )
    st.selectbox(
        "Deliberate bug",
        bugs_of(cell),
        format_func=lambda key: BUGS[key].title,
        **url_state.bind("bug", options_of=cell),
    )
    st.caption(BUGS[url_state.get("bug")].explanation)
    inputs, step = st.columns([3, 2], vertical_alignment="bottom")
    with inputs:
        inputs_popover(fields)
    step.select_slider(
        "Finite-difference step h",
        STEP_CHOICES,
        format_func="{:g}".format,
        **url_state.bind("step"),
    )
    refused = [message for name in (*SIZE_LIMITS, "lab.seed") if (message := url_state.refusal(name))]
    if refused:
        st.warning(" ".join(refused), icon="✋")
    st.multiselect(
        "Checks",
        checks_of(cell),
        format_func=LAYER_TITLES.get,
        **url_state.bind("checks", options_of=cell),
    )
    return {
        "layers": tuple(url_state.get("checks")),
        "sizes": LabSizes(**{name: int(url_state.get(name)) for name in SIZE_LIMITS}),
        "activation": CELLS[cell][1],
        "bug": url_state.get("bug"),
        "dtype": url_state.get("dtype"),
        "seed": int(url_state.get("lab.seed")),
        "step": float(url_state.get("step")),
        "repeat_word": url_state.get("repeat"),
    }


def run_checks(settings: dict) -> list:
    """The checks for these settings (computed once per server, ui.gradient_checks), kept in the session as
    the results on screen."""
    results = ui.gradient_checks(**settings)
    st.session_state[RESULTS_KEY] = results
    return results


def detail_choices(results: list) -> list[str]:
    """Every gradient of the results as "layer.name" (e.g. "model.W_vocab")."""
    return [f"{r.layer}.{p.name}" for r in results for p in r.params]


def detail_field(results: list, settings: dict, notices: list[str]) -> url_state.Field:
    """The gradient looked at element by element, loaded: new results open on their worst gradient, a link's
    choice is kept."""
    worst = max(results, key=lambda r: r.max_rel_error)
    field = url_state.choice(
        "detail", f"{worst.layer}.{worst.worst.name}", detail_choices(results), "gradient looked at"
    )
    url_state.reset_on_change("detail", repr(settings), field.default)
    url_state.load([field], notices)
    return field


def details(results: list, settings: dict, figures: dict) -> None:
    """Per-element view of the chosen gradient, and why it fails when it does; `figures`: the lab's figures for
    these settings and this gradient (ui.gradient_check_figures)."""
    st.selectbox(
        "Look at one gradient element by element",
        detail_choices(results),
        format_func=lambda c: f"{LAYER_TITLES[c.split('.')[0]]} · d{c.split('.', 1)[1]}",
        **url_state.bind("detail", options_of=",".join(settings["layers"])),
    )
    result, check = ui.gradient_looked_at(results, url_state.get("detail"))
    heat, scatter = st.columns([3, 2])
    with heat:
        ui.plotly_figure(figures["elements"], key="gradcheck.elements")
    with scatter:
        ui.plotly_figure(figures["scatter"], key="gradcheck.scatter")
    st.caption(
        f"d{check.name} has shape {check.shape}; largest element error {check.max_rel_error:.2e}, error of the whole "
        f"array {check.norm_rel_error:.2e} (‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖)). "
        # the checks' notes say which word ids repeat in the input: a fact about dW_embed alone
        + (" ".join(result.notes) if check.name == "W_embed" else "")
    )
    if check.diagnosis is None:
        return
    scan, text = st.columns([2, 3])
    with scan:
        ui.plotly_figure(figures["scan"], key="gradcheck.scan")
    with text:
        st.markdown("**Why it fails**, measured: " + gradcheck.diagnosis_markdown(result, check))


def page() -> None:
    ui.page_title(ui.GRADIENT_CHECK_LAB)
    st.markdown(
        "Every backward pass of the captioning RNN is checked the way the notebook does: nudge each input "
        "number by ±h, measure how the output changes (the **numeric** gradient) and compare it with what "
        "the backward pass computed (the **analytic** gradient). Break one backward pass on purpose and "
        "watch which checks catch it."
    )
    notice = st.empty()
    notices: list[str] = []
    changes: list[str] = []
    fields = load_settings(notices, changes)
    for change in changes:
        st.info(change, icon="ℹ️")
    settings = controls(fields)
    if not settings["layers"]:
        with notice:
            url_state.notify(notices)
        st.info("Choose at least one check.")
        # No gradient to look at: the link drops the one it named (a link opened later would refuse it).
        url_state.save(fields, without=[url_state.choice("detail", "", ("",))])
        return
    results = run_checks(settings)
    fields.append(detail_field(results, settings, notices))
    with notice:
        url_state.notify(notices)
    kind, text = gradcheck.verdict_markdown(results, settings["bug"])
    KIND_STYLE[kind](text, icon=KIND_ICON[kind])
    for edit in BUGS[settings["bug"]].edits:
        st.markdown(
            f"**The bug in `{edit.function.__name__}`**: the engine's line (struck through) and the wrong line "
            "the lab runs instead"
        )
        st.html(gradcheck.bug_html(edit))
    st.html(html_table(gradcheck.result_rows(results)))
    advice = gradcheck.advice_markdown(results)
    if advice:
        st.markdown(advice)
    figures = ui.gradient_check_figures(url_state.get("detail"), **settings)
    ui.plotly_figure(figures["overview"], key="gradcheck.overview")
    details(results, settings, figures)
    thresholds, precision = st.columns(2)
    with thresholds:
        with st.expander("Thresholds: when is an error small enough?", expanded=False):
            st.markdown(gradcheck.thresholds_markdown())
    with precision:
        with st.expander("Why float64?", expanded=settings["dtype"] == "float32"):
            st.markdown(gradcheck.float64_markdown(settings["step"], settings["dtype"]))
    url_state.save(fields)


ui.setup_page(ui.GRADIENT_CHECK_LAB)
with ui.friendly_errors("the gradient-check lab"):
    page()
