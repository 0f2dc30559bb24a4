"""The shared page layer (ui/) in small Streamlit scripts."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explainer.escape import plain
from tests.helpers.apptest import TIMEOUT, images

# --------------------------------------------------------------------------- url_state


def url_state_app():
    import streamlit as st

    from ui import url_state

    fields = [
        url_state.choice("split", "train", ("train", "val")),
        url_state.integer("t", 2, 0, 9),
        url_state.number("wh", 1.0, 0.1, 3.0, 0.05),
    ]
    url_state.load(fields)
    st.radio("split", ["train", "val"], **url_state.bind("split"))
    st.slider("t", 0, 9, **url_state.bind("t"))
    st.slider("wh", 0.1, 3.0, step=0.05, **url_state.bind("wh"))
    st.button("later", on_click=lambda: url_state.set("t", url_state.get("t") + 1))
    st.markdown(f"state: {url_state.get('split')} {url_state.get('t')} {url_state.get('wh'):g}")
    url_state.save(fields)


def test_url_state_reads_the_link_and_writes_back_changes():
    at = AppTest.from_function(url_state_app, default_timeout=TIMEOUT)
    at.query_params.update({"split": "val", "t": "7", "wh": "2.5"})
    at.run()
    assert at.radio[0].value == "val" and at.slider[0].value == 7 and at.slider[1].value == 2.5
    assert not at.info
    at.slider[0].set_value(4).run()
    assert at.query_params["t"] == "4" and at.query_params["split"] == "val"
    at.button[0].click().run()
    assert at.slider[0].value == 5 and at.query_params["t"] == "5"
    assert at.markdown[0].value == "state: val 5 2.5"


def test_url_state_defaults_without_a_link():
    at = AppTest.from_function(url_state_app, default_timeout=TIMEOUT).run()
    assert at.markdown[0].value == "state: train 2 1"
    assert at.query_params["t"] == "2" and at.query_params["wh"] == "1"


def test_bad_link_values_fall_back_to_defaults_with_a_notice():
    at = AppTest.from_function(url_state_app, default_timeout=TIMEOUT)
    at.query_params.update({"split": "test", "t": "99", "wh": "nan"})
    at.run()
    assert not at.exception
    assert at.markdown[0].value == "state: train 2 1"
    notice = at.info[0].value
    assert "split" in notice and "t" in notice and "wh" in notice and "between 0 and 9" in notice
    assert at.query_params["split"] == "train"  # the URL is corrected, so the link can be shared again


def test_a_number_off_its_sliders_grid_is_refused_as_the_slider_could_not_show_it():
    at = AppTest.from_function(url_state_app, default_timeout=TIMEOUT)
    at.query_params.update({"wh": "1.23456789", "t": "1" + "0" * 5000})
    at.run()
    notice = at.info[0].value
    assert "between 0.1 and 3 in steps of 0.05" in notice
    # 5001 digits are a whole number, too large (int() refuses more than 4300 digits)
    assert "**t** = “1000" in notice and "must be between 0 and 9" in notice and "whole number" not in notice
    assert at.slider[1].value == 1.0 and at.query_params["wh"] == "1"
    at.query_params.update({"wh": "0.1000000000000000000001"})  # below 0.1 by less than a double can hold
    at.run()
    assert not at.info and at.query_params["wh"] == "0.1"
    at.query_params.update({"wh": "1.02"})  # in range, but not a value of the slider
    at.run()
    assert f"**wh** = “{plain('1.02')}” must be between 0.1 and 3 in steps of 0.05" in at.info[0].value
    at.query_params.update({"wh": "0.15000000000000002"})  # on the grid, written with a float sum's digits
    at.run()
    assert not at.info and at.slider[1].value == 0.15 and at.query_params["wh"] == "0.15"


def written_once_app():
    import streamlit as st

    from ui import url_state

    fields = [url_state.number("x", 1.0, 0.0, 2.0, 0.1), url_state.integer("n", 1, 0, 9)]
    url_state.load(fields)
    st.markdown(f"{url_state.get('x'):g} {url_state.get('n')}")
    url_state.save(fields, without=[url_state.flag("unused", False)])


def test_a_link_is_read_as_written_and_written_back_once():
    at = AppTest.from_function(written_once_app, default_timeout=TIMEOUT)
    # -0 is the slider's 0; ² is a digit to str.isdigit but no number to int(); a name given twice, and
    # a setting this view does not use, are tidied away.
    at.query_params.update({"x": "-0", "n": ["2", "²"], "unused": "1", "other": "kept"})
    at.run()
    assert at.markdown[0].value == "0 1"
    (notice,) = [i.value for i in at.info]
    assert f"**n** = “{plain('²')}” must be a whole number" in notice and "**x**" not in notice
    assert dict(at.query_params) == {"x": "0", "n": "1", "other": "kept"}


def waiting_app():
    """A page that stops on its first run before save(), as one waiting for a model does."""
    import streamlit as st

    from ui import url_state

    fields = [url_state.integer("t", 2, 0, 9)]
    url_state.load(fields)
    st.session_state.setdefault("runs", 0)
    st.session_state.runs += 1
    if st.session_state.runs == 1:
        st.stop()
    st.slider("t", 0, 9, **url_state.bind("t"))
    st.markdown(f"t = {url_state.get('t')}")
    url_state.save(fields)
    if st.session_state.runs == 2:
        url_state.keep_notices()  # as a fragment does before the rerun it starts when a model is ready


def test_a_refused_link_value_is_said_again_on_the_reruns_the_page_starts_by_itself():
    at = AppTest.from_function(waiting_app, default_timeout=TIMEOUT)
    at.query_params.update({"t": "99"})
    at.run()
    assert "**t** = “99” must be between 0 and 9" in at.info[0].value
    at.run()  # the page's rerun once its model is ready
    assert "**t** = “99” must be between 0 and 9" in at.info[0].value
    assert at.markdown[0].value == "t = 2" and at.query_params["t"] == "2"
    at.run()  # the rerun the page started by itself: still said
    assert "**t** = “99” must be between 0 and 9" in at.info[0].value
    at.run()  # a rerun the learner asked for (another button): said enough
    assert not at.info
    at.run()
    assert not at.info


def choices_app():
    import streamlit as st

    from ui import url_state

    fields = [
        url_state.choice("step", 1e-5, (1e-2, 1e-5, 1e-8)),
        url_state.subset("checks", ("a", "b"), ("a", "b", "c")),
        url_state.integer("n", 2, 1, 6, "N (batch)"),
    ]
    url_state.load(fields)
    st.select_slider("step", (1e-2, 1e-5, 1e-8), **url_state.bind("step"))
    st.multiselect("checks", ("a", "b", "c"), **url_state.bind("checks"))
    st.number_input("n", step=1, **url_state.bind("n", field=fields[2]))
    if message := url_state.refusal("n"):
        st.warning(message)
    st.markdown(f"state: {url_state.get('step')!r} {url_state.get('checks')} {url_state.get('n')}")
    url_state.save(fields)


def test_numbers_and_subsets_round_trip_through_the_url():
    at = AppTest.from_function(choices_app, default_timeout=TIMEOUT)
    at.query_params.update({"step": "1e-08", "checks": "c,a"})
    at.run()
    assert not at.info
    assert at.select_slider[0].value == 1e-8 and at.multiselect[0].value == ["c", "a"]
    assert at.markdown[0].value == "state: 1e-08 ['c', 'a'] 2"
    at.multiselect[0].set_value([]).run()
    assert at.query_params["checks"] == "" and at.query_params["step"] == "1e-08"
    at.select_slider[0].set_value(1e-2).run()
    assert at.query_params["step"] == "0.01"
    again = AppTest.from_function(choices_app, default_timeout=TIMEOUT)
    again.query_params.update(dict(at.query_params))
    again.run()
    assert again.markdown[0].value == "state: 0.01 [] 2" and not again.info
    # the same number written another way is the same choice
    again.query_params.update({"step": "0.00001"})
    again.run()
    assert not again.info and again.query_params["step"] == "1e-05"


def test_bad_numbers_and_subsets_in_a_link_fall_back_with_a_notice():
    at = AppTest.from_function(choices_app, default_timeout=TIMEOUT)
    at.query_params.update({"step": "3e-05", "checks": "a,z", "n": "9"})
    at.run()
    assert at.markdown[0].value == "state: 1e-05 ['a', 'b'] 2"
    (notice,) = [i.value for i in at.info]
    assert "must be one of 0.01, 1e-05, 1e-08" in notice and "must be some of a, b, c" in notice
    assert "N (batch)" in notice
    at.query_params.update({"checks": "a,a"})
    at.run()
    assert "names one choice twice" in at.info[0].value


def test_a_value_its_field_refuses_is_not_used_and_is_said_once():
    at = AppTest.from_function(choices_app, default_timeout=TIMEOUT).run()
    at.number_input[0].set_value(9).run()
    (refused,) = [w.value for w in at.warning]
    assert refused == "**N (batch)** = 9 was not used: it must be between 1 and 6."
    assert at.number_input[0].value == 2 and at.query_params["n"] == "2"
    assert at.markdown[0].value.endswith(" 2")
    at.number_input[0].set_value(5).run()
    assert not at.warning and at.query_params["n"] == "5" and at.markdown[0].value.endswith(" 5")


# --------------------------------------------------------------------------- friendly errors


def errors_app():
    import streamlit as st

    import ui
    from core.errors import HyperparameterError

    st.session_state.setdefault("kept", 0)
    st.session_state.kept += 1
    with ui.friendly_errors("the test"):
        raise HyperparameterError("hidden_dim must be at least 1, got 0.")
    with ui.friendly_errors("the test"):
        {}["missing"]
    st.markdown(f"still running, run {st.session_state.kept}")


def test_friendly_errors_show_messages_not_tracebacks(caplog):
    at = AppTest.from_function(errors_app, default_timeout=TIMEOUT).run()
    # The page shows no traceback; the server's log has the bug's whole traceback, and only the bug's.
    (logged,) = [record for record in caplog.records if record.name == "ui.errors"]
    assert logged.getMessage() == "Error while drawing the test" and logged.exc_info[0] is KeyError
    assert not at.exception
    assert at.error[0].value.startswith(plain("hidden_dim must be at least 1, got 0."))  # as text
    assert "Something went wrong while drawing the test (KeyError)" in at.error[1].value
    assert at.expander[0].label == "Technical details"
    assert "KeyError: 'missing'" in at.code[0].value and "Traceback" not in at.code[0].value
    at.run()
    assert at.markdown[0].value == "still running, run 2"  # session state kept across the errors


def rerun_app():
    import streamlit as st

    import ui

    st.session_state.setdefault("runs", 0)
    st.session_state.runs += 1
    with ui.friendly_errors():
        if st.session_state.runs == 1:
            st.rerun()
    st.markdown(f"runs: {st.session_state.runs}")


def test_friendly_errors_let_streamlit_reruns_through():
    at = AppTest.from_function(rerun_app, default_timeout=TIMEOUT).run()
    assert not at.error
    assert at.markdown[0].value == "runs: 2"


# --------------------------------------------------------------------------- images


def image_app():
    import os

    import numpy as np
    import streamlit as st
    from PIL import Image

    import ui

    folder = os.environ["RNN_EXPLAINER_HOME"]
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(f"{folder}/ok.png")
    shown = ui.show_image("ok.png", caption="a grey square", base_dir=folder)
    missing = ui.show_image(f"{folder}/nowhere.png", caption="lost")
    st.markdown(f"{shown} {missing}")


def test_show_image_falls_back_to_a_placeholder_with_the_reason():
    at = AppTest.from_function(image_app, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert at.markdown[0].value == "True False"
    assert len(images(at)) == 2


def test_placeholder_is_a_framed_grey_square():
    from ui.images import placeholder

    image = placeholder(32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image[0, 0, 0] < image[16, 16, 0]


# --------------------------------------------------------------------------- resources


def test_freeze_makes_nested_arrays_read_only():
    from core.engine.rnn import CaptioningRNN
    from ui.dataset import freeze

    model = CaptioningRNN({"<NULL>": 0, "a": 1}, input_dim=3, wordvec_dim=2, hidden_dim=2, seed=0)
    data = freeze({"x": np.zeros(3), "nested": [np.ones(2)], "model": model})
    for array in (data["x"], data["nested"][0], model.params["Wh"]):
        assert not array.flags.writeable
    with pytest.raises(ValueError):
        data["x"][0] = 1
    assert model.copy().params["Wh"].flags.writeable  # callers mutate copies


def stepper_app():
    import streamlit as st

    from ui import stepper, url_state

    fields = [url_state.integer("t", 1, 0, 3), url_state.choice("case", "a", ("a", "b"))]
    url_state.load(fields)
    st.radio("case", ("a", "b"), **url_state.bind("case"))
    if st.button("move the page's step"):
        url_state.set("t", 3)
    case = url_state.get("case")
    panels = {"words": {"kind": "text", "steps": [f"{case}{t}" for t in range(4)]}}
    data = stepper.payload(f"case {case}", 0, 3, [[("words", 1)]], panels, label="step")
    stepper.stepped_view(
        data, fields, below=lambda: st.markdown(f"below at t = {url_state.get('t')}"), key="s"
    )


def test_stepper_rows_give_each_panel_a_width_and_a_minimum():
    from ui import stepper

    panels = {name: {"kind": "text", "steps": ["", ""]} for name in ("a", "b", "c")}
    data = stepper.payload("rows", 0, 1, [[("a", 3, 470), ("b", 2)], [("c", 1)]], panels)
    assert data["rows"] == [
        [
            {"id": "a", "width": 3, "min_width": 470},
            {"id": "b", "width": 2, "min_width": stepper.PANEL_MIN_WIDTH},
        ],
        [{"id": "c", "width": 1, "min_width": stepper.PANEL_MIN_WIDTH}],
    ]


def test_stepper_sends_every_step_and_stores_the_reported_one_in_the_url():
    from tests.helpers import stepper

    at = AppTest.from_function(stepper_app, default_timeout=TIMEOUT).run()
    sent = stepper.sent(at, "s")
    assert sent["t"] == 1 and sent["panels"]["words"]["steps"] == ["a0", "a1", "a2", "a3"]
    assert (sent["first"], sent["last"], sent["label"], sent["trace"]) == (0, 3, "step", "case a")
    assert at.query_params["t"] == "1"
    stepper.report(at, "s", 2)
    assert at.query_params["t"] == "2" and at.markdown[-1].value == "below at t = 2"
    stepper.report(at, "s", -5)  # clamped to the steps there are
    assert at.query_params["t"] == "0"
    # The page moves the step itself: the component's earlier report (still in its state) does not undo it.
    at.button[0].click().run()
    at.run()
    assert at.query_params["t"] == "3" and stepper.sent(at, "s")["t"] == 3
    # Other views are another version (the browser rebuilds its panels); the same views are sent unchanged.
    at.radio[0].set_value("b").run()
    changed = stepper.sent(at, "s")
    assert changed["version"] != sent["version"] and changed["panels"]["words"]["steps"][0] == "b0"
    at.run()
    assert stepper.sent(at, "s") == changed


def test_the_figures_load_the_plotly_js_that_plotly_py_writes_for_from_a_served_folder():
    """The Plotly.js bundle of the figures and the stepper (ui/plotly_loader.js) is in static/, which Streamlit
    serves, and is the version plotly.py builds its figures for (an upgrade of plotly must bring the matching
    bundle)."""
    import re

    import plotly.offline

    root = Path(__file__).parents[2]
    url = re.search(
        r'const BUNDLE = "app/static/([^"]+)";', (root / "ui/plotly_loader.js").read_text()
    ).group(1)
    header = (root / "static" / url).read_text()[:200]
    assert header.startswith(f"/*! plotly.js v{plotly.offline.get_plotlyjs_version()} ")
    assert streamlit_config()["server"]["enableStaticServing"] is True


def streamlit_config() -> dict:
    """The project's .streamlit/config.toml, as the server reads it."""
    import tomllib

    return tomllib.loads((Path(__file__).parents[2] / ".streamlit/config.toml").read_text())


def test_the_server_watches_no_source_files():
    """Streamlit's file watcher re-scans every imported module on the server's one event loop after script runs:
    with ten learners and two races, clicks waited up to 1.3 s for it (.streamlit/config.toml, bench/README.md).
    tests/browser/test_concurrency.py measures the latency; this names the setting if it is lost."""
    assert streamlit_config()["server"].get("fileWatcherType") == "none"


def test_the_server_runs_no_full_garbage_collection_after_each_script_run():
    """Streamlit's default collects every object of the server after each script run, holding every session's
    thread meanwhile: 3.4-4.9 s in all in a run of the ten-learner test, the longest 0.95 s (.streamlit/config.toml,
    bench/README.md). AppTest's script runner skips that step, so this names the setting if it is lost."""
    assert streamlit_config()["runner"].get("postScriptGC") is False


# --------------------------------------------------------------------------- figures


def figure_app():
    import numpy as np
    import plotly.graph_objects as go
    import streamlit as st

    import ui

    scale = st.radio("scale", [1, 2])
    ui.plotly_figure(go.Figure(go.Bar(x=["a", "b"], y=np.array([1.5, 2.5]) * scale)), key="bars")


def test_a_figure_is_sent_as_plotly_js_reads_it_and_redrawn_only_when_it_changes():
    import plotly.graph_objects as go

    from tests.helpers.apptest import chart, figures
    from tests.helpers.plotly_json import decode
    from ui.figure import payload

    at = AppTest.from_function(figure_app, default_timeout=TIMEOUT).run()
    assert list(figures(at)) == ["bars"]
    bars = chart(at, "bars")
    np.testing.assert_allclose(decode(bars["data"][0]["y"]), [1.5, 2.5])
    assert bars == payload(go.Figure(go.Bar(x=["a", "b"], y=np.array([1.5, 2.5]))))["figure"]
    # The version names the figure: the same figure keeps it (the browser draws nothing), another changes it.
    first = payload(go.Figure(go.Bar(y=[1.0])))["version"]
    assert (
        payload(go.Figure(go.Bar(y=[1.0])))["version"]
        == first
        != payload(go.Figure(go.Bar(y=[2.0])))["version"]
    )
    at.radio[0].set_value(2).run()
    np.testing.assert_allclose(decode(chart(at, "bars")["data"][0]["y"]), [3.0, 5.0])


def test_pages_with_figures_start_loading_plotly_js_in_the_sidebar():
    from tests.helpers.apptest import components, page_app
    from ui.registry import PAGES

    def preloads(at) -> int:
        sidebar = at._tree.children[1]
        return sum(element.proto.id.endswith("-figure.preload") for element, _ in components(sidebar))

    assert [page.figures for page in PAGES] == [False, True, True, True, True, True]
    for page in (PAGES[0], PAGES[5]):
        at = page_app(page.path).run()
        assert preloads(at) == int(page.figures), page.path


def lab_settings(**changes) -> dict:
    """Settings of the lab's checks (core.lab.gradcheck_lab.run_all_checks), small and seeded; `changes` override."""
    from core.lab.gradcheck_lab import LabSizes

    settings = dict(
        layers=("rnn_step", "model"),
        sizes=LabSizes(),
        activation="tanh",
        bug="none",
        dtype="float64",
        seed=3,
        step=1e-5,
        repeat_word=True,
    )
    return {**settings, **changes}


def test_the_gradient_checks_are_computed_once_for_every_learner():
    from core.lab.gradcheck_lab import run_all_checks
    from ui.gradient_checks import gradient_checks

    settings = lab_settings()
    shared = gradient_checks(**settings)
    assert gradient_checks(**settings) is shared  # another session's call: the same results, not recomputed
    own = run_all_checks(**settings)
    assert [r.max_rel_error for r in shared] == [r.max_rel_error for r in own]
    other = gradient_checks(**lab_settings(seed=4))  # other settings, other results
    assert [r.max_rel_error for r in other] == [
        r.max_rel_error for r in run_all_checks(**lab_settings(seed=4))
    ]
    assert [r.max_rel_error for r in other] != [r.max_rel_error for r in shared]
    with pytest.raises(ValueError):  # read-only, as every cached object
        shared[0].params[0].analytic[...] = 0


def test_the_labs_figures_are_the_explainers_of_the_shared_results_and_each_call_gets_its_own():
    from explainer import gradcheck
    from ui.figure import payload
    from ui.gradient_checks import gradient_check_figures, gradient_checks

    broken = lab_settings(bug="drop_local_derivative")
    results = gradient_checks(**broken)
    check = next(r for r in results if r.layer == "rnn_step").by_name("x")
    assert check.diagnosis is not None  # the bug's check fails, so its scan over h is shown too
    figures = gradient_check_figures("rnn_step.x", **broken)
    assert figures["overview"] == payload(gradcheck.overview_figure(results))
    assert figures["elements"] == payload(gradcheck.element_heatmap(check))
    assert figures["scatter"] == payload(gradcheck.comparison_figure(check))
    assert figures["scan"] == payload(gradcheck.scan_figure(check))
    # Another gradient, of results where every check passes: its own figures, and no scan.
    passing = gradient_check_figures("model.W_vocab", **lab_settings())
    assert set(passing) == {"overview", "elements", "scatter"}
    assert passing["elements"] != figures["elements"]
    figures["overview"]["figure"]["data"].clear()
    assert gradient_check_figures("rnn_step.x", **broken)["overview"]["figure"]["data"]  # not shared


def test_a_name_two_pages_use_for_different_things_keeps_each_pages_value():
    """The lab's cell (tanh, sigmoid, ReLU or LSTM) is not the explainer pages' cell (RNN or LSTM), and the
    race's, the gallery's and the lab's seeds seed different things: switching pages keeps each one's."""
    from tests.helpers.apptest import open_page

    at = open_page("pages/5_Gradient_check_lab.py", {"cell": "relu", "seed": "7"})
    at.switch_page("pages/1_Forward_pass.py")
    at.query_params.clear()
    at.run()
    assert not at.exception and at.query_params["cell"] == "rnn"
    at.switch_page("pages/3_Activation_race.py")
    at.query_params.clear()
    at.query_params.update({"seed": "77", "log": "0"})
    at.run()
    at.switch_page("pages/2_Backprop_through_time.py")
    at.query_params.clear()
    at.run()
    assert at.query_params["log"] == "1"  # the race's log scale is off: each page keeps its own
    at.switch_page("pages/5_Gradient_check_lab.py")
    at.query_params.clear()
    at.run()
    assert not at.exception and not at.info
    assert at.query_params["cell"] == "relu" and at.query_params["seed"] == "7"
    at.switch_page("pages/3_Activation_race.py")
    at.query_params.clear()
    at.run()
    assert at.query_params["seed"] == "77" and at.query_params["log"] == "0"


def refusing_app():
    """A page that refuses a link's pair of values for a reason of its own, as the explainer pages refuse an
    LSTM with a vanilla activation, and then reruns by itself once, as when its model is ready."""
    import streamlit as st

    from ui import url_state

    fields = [
        url_state.choice("cell", "rnn", ("rnn", "lstm")),
        url_state.choice("act", "tanh", ("tanh", "relu")),
    ]
    notices = []
    url_state.load(fields, notices)
    if url_state.get("cell") == "lstm" and url_state.get("act") != "tanh":
        url_state.refuse("act", f"**act** = “{url_state.get('act')}” is the vanilla cell's", notices)
        url_state.set("act", "tanh")
    url_state.notify(notices)
    url_state.save(fields)
    st.session_state.setdefault("runs", 0)
    st.session_state.runs += 1
    if st.session_state.runs == 1:
        url_state.keep_notices()


def test_a_value_a_page_refuses_itself_is_said_again_with_the_others():
    at = AppTest.from_function(refusing_app, default_timeout=TIMEOUT)
    at.query_params.update({"cell": "lstm", "act": "relu"})
    at.run()
    assert "**act** = “relu” is the vanilla cell's" in at.info[0].value
    assert at.query_params["act"] == "tanh"
    at.run()  # the rerun the page started by itself: still said
    assert "**act** = “relu” is the vanilla cell's" in at.info[0].value
    at.run()  # a rerun the learner asked for: said enough
    assert not at.info
