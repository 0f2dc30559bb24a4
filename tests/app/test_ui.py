"""The shared page layer (ui/) in small Streamlit scripts."""

import time

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
        url_state.number("wh", 1.0, 0.1, 3.0),
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


def test_friendly_errors_show_messages_not_tracebacks():
    at = AppTest.from_function(errors_app, default_timeout=TIMEOUT).run()
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


def timestep_app():
    import streamlit as st

    import ui
    from ui import url_state

    fields = [url_state.integer("t", 0, 0, 3)]
    url_state.load(fields)
    t = ui.timestep_control(3, interval=0.05)
    st.markdown(f"t = {t}")
    url_state.save(fields)


def test_timestep_control_buttons_and_play():

    at = AppTest.from_function(timestep_app, default_timeout=TIMEOUT).run()
    back, forward, play = at.button
    assert back.disabled and not forward.disabled
    forward.click().run()
    assert at.markdown[0].value == "t = 1" and at.slider[0].value == 1 and at.query_params["t"] == "1"
    at.button[0].click().run()
    assert at.markdown[0].value == "t = 0"
    at.button[2].click().run()
    assert at.button[2].label == "Pause"
    seen = []
    for _ in range(6):
        time.sleep(0.06)
        at.run()
        seen.append(at.slider[0].value)
    assert seen[-1] == 3 and seen == sorted(seen) and len(set(seen)) > 1
    assert at.button[2].label == "Play"  # it stops at the end
