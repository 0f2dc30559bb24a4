"""AppTest of the gradient-check lab: clean checks pass, the deliberate bug is caught, float32 fails."""

import numpy as np
from streamlit.testing.v1 import AppTest

from core.lab.gradcheck_lab import run_check
from tests.helpers.apptest import chart, no_problems, page_app
from tests.helpers.plotly_json import decode

PAGE = "pages/5_Gradient_check_lab.py"


def open_lab() -> AppTest:
    at = page_app(PAGE, 90)
    at.run()
    no_problems(at)
    return at


def verdicts(at) -> dict:
    table = at.dataframe[0].value
    return {(row["check"], row["gradient"]): row["verdict"] for _, row in table.iterrows()}


def test_real_backward_passes_all_pass():
    at = open_lab()
    assert any("All 23 gradients agree" in s.value for s in at.success)
    assert set(verdicts(at).values()) == {"pass"}
    for key in ("gradcheck.overview", "gradcheck.elements", "gradcheck.scatter"):
        chart(at, key)


def test_dropping_the_tanh_derivative_is_caught():
    at = open_lab()
    at.selectbox(key="gradcheck.bug").set_value("drop_local_derivative").run()
    assert not at.exception
    (caught,) = [e.value for e in at.error]
    assert caught.startswith("**Caught.**")
    table = verdicts(at)
    assert table[("RNN step (rnn_step_backward)", "dWh")] == "wrong"
    assert table[("Whole model (CaptioningRNN.loss)", "dWh")] == "wrong"
    assert table[("Word embedding (word_embedding_backward)", "dW_embed")] == "pass"
    shown = " ".join(h.value for h in at.get("html"))
    assert "def rnn_step_backward(dnext_h, cache):" in shown and "def rnn_backward(dh, cache" in shown
    assert "da = dnext_h * derivative(cache.next_h, cache.activation)" in shown
    assert (
        'data-bug="wrong" style="color:#b91c1c;font-weight:600;background:#fee2e2">    da = dnext_h<' in shown
    )
    # The detail view opens on the worst gradient: its heatmap shows errors near 1 (log10 close to 0).
    z = decode(chart(at, "gradcheck.elements")["data"][0]["z"])
    assert np.nanmax(z) > -1


def test_sizes_and_layer_choice_drive_the_check():
    at = open_lab()
    at.multiselect(key="gradcheck.layers").set_value(["rnn_step"])
    at.number_input(key="gradcheck.H").set_value(3)
    at.number_input(key="gradcheck.D").set_value(2).run()
    no_problems(at)
    rows = at.dataframe[0].value
    assert list(rows["gradient"]) == ["dx", "dprev_h", "dWx", "dWh", "db"]
    assert rows.loc[rows["gradient"] == "dWx", "shape"].item() == "2 × 3"
    expected = run_check("rnn_step", at.session_state["gradcheck.results"][1][0].sizes)
    assert (
        rows.loc[rows["gradient"] == "dWh", "max relative error"].item()
        == f"{expected.by_name('Wh').max_rel_error:.2e}"
    )


def test_float32_shows_why_float64():
    at = open_lab()
    at.radio(key="gradcheck.dtype").set_value("float32").run()
    no_problems(at)
    assert any("float32" in w.value for w in at.warning)
    assert "wrong" in set(verdicts(at).values())
    assert any("machine ε" in m.value for m in at.markdown)


def test_no_check_chosen_is_explained():
    at = open_lab()
    at.multiselect(key="gradcheck.layers").set_value([]).run()
    no_problems(at)
    assert any("at least one check" in i.value for i in at.info)
