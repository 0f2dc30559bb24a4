"""AppTest of the forward-pass page on the embedded dataset (generated once per test session)."""

from urllib.parse import parse_qs

import numpy as np

import core.lab.trained_models
from core.lab.captioning import recipe_caption_indices
from core.lab.trace import trace_example
from explainer.colors import HIGHLIGHT
from tests.helpers import stepper
from tests.helpers.apptest import (
    CELL,
    SMALL_RECIPES,
    fresh_trace,
    images,
    no_problems,
    open_page,
    run_until_trained,
    trace_values,
)

PAGE = "pages/1_Forward_pass.py"
STEPPER = "forward.stepper"


def highlighted_step(at, t=None) -> float:
    column = stepper.figure(at, STEPPER, "network", t)["layout"]["shapes"][0]
    assert column["fillcolor"] == HIGHLIGHT
    return (column["x0"] + column["x1"]) / 2


def equation(at, t=None) -> np.ndarray:
    return trace_values(stepper.figure(at, STEPPER, "equation", t))


def test_page_runs_with_image_caption_and_every_view():
    at = open_page(PAGE)
    no_problems(at)
    assert any(m.value.startswith("**Ground truth:**") for m in at.markdown)
    assert images(at), "the example's image is shown"
    data = stepper.sent(at, STEPPER)
    assert set(data["panels"]) == {"network", "formula", "summary", "equation", "topk", "loss"}
    assert (data["first"], data["last"], data["t"], data["direction"]) == (0, 16, 0, 1)
    assert stepper.trace_types(data) <= stepper.bundled_trace_types() == {"scatter", "bar", "heatmap"}
    assert highlighted_step(at) == 0
    assert at.query_params["t"] == "0" and at.query_params["sizes"] == "readable"


def test_every_step_sent_to_the_browser_holds_core_numbers(data):
    """The stepper paints each step from the data sent once: every step's equation and loss are core's."""
    at = open_page(PAGE, {"example": "5"})
    expected = fresh_trace(data, 5, "train", activation="tanh").forward
    for t in range(1, expected.num_steps + 1):
        assert highlighted_step(at, t) == t
        z = equation(at, t)
        np.testing.assert_allclose(z[5], expected.a[t - 1], rtol=1e-5)  # a_t row
        np.testing.assert_allclose(z[6], expected.h[t - 1], rtol=1e-5)  # h_t row
        outline = stepper.figure(at, STEPPER, "loss", t)["layout"]["shapes"][1]
        assert outline["x0"] == t
        assert stepper.text(at, STEPPER, "summary", t).startswith(f"**t = {t}: reads")
        assert f"h<sub>{t}</sub>" in stepper.text(at, STEPPER, "formula", t)
    np.testing.assert_allclose(equation(at, 0)[0], expected.h0, rtol=1e-5)
    assert not np.allclose(equation(at, 1)[6], equation(at, 4)[6])


def last_scored_step(data, index) -> int:
    return int(np.flatnonzero(data["train_captions"][index][1:] != 0)[-1]) + 1


def test_a_step_taken_in_the_browser_goes_to_the_url(data):
    at = open_page(PAGE, {"example": "5"})
    for t in (1, 4):
        stepper.report(at, STEPPER, t)
        no_problems(at)
        assert at.query_params["t"] == str(t)
        link = next(p for p in at.get("page_link") if "Backprop" in p.proto.page)
        # The link keeps the example; backprop opens where it starts, the caption's last scored word.
        query = parse_qs(link.proto.query_string)
        assert query["example"] == ["5"] and query["t"] == [str(last_scored_step(data, 5))]
        at.run()
        assert (
            stepper.sent(at, STEPPER)["t"] == t
        )  # the page's next rerun opens on the step the learner is on
    stepper.report(at, STEPPER, 99)  # never past the end, whatever is reported
    assert at.query_params["t"] == "16"


def test_link_reopens_the_same_view_and_changes_go_to_the_url(data):
    query = {
        "split": "val",
        "example": "3",
        "activation": "sigmoid",
        "model": "fresh",
        "sizes": "readable",
        "t": "4",
    }
    at = open_page(PAGE, query)
    no_problems(at)
    assert at.radio[0].value == "val"
    assert at.number_input[0].value == 3
    assert [s.value for s in at.selectbox] == [("rnn", "sigmoid"), "fresh", "readable"]
    assert stepper.sent(at, STEPPER)["t"] == 4 and highlighted_step(at) == 4
    expected = fresh_trace(data, 3, "val", activation="sigmoid").forward
    np.testing.assert_allclose(equation(at)[6], expected.h[3], rtol=1e-5)
    at.number_input[0].set_value(7).run()
    assert at.query_params["example"] == "7"
    # A number past the split's examples is refused, said, and the box shows the example on screen again.
    at.number_input[0].set_value(30000).run()
    no_problems(at)
    assert at.query_params["example"] == "7" and at.number_input[0].value == 7
    (warning,) = at.warning
    last = len(data["val_captions"]) - 1
    assert warning.value == f"**example** = 30000 was not used: it must be between 0 and {last}."
    at.selectbox(key=CELL).set_value(("rnn", "relu")).run()
    assert at.query_params["activation"] == "relu"
    assert dict(at.query_params).items() >= {"split": "val", "example": "7", "t": "4"}.items()


def test_an_example_past_the_other_split_is_said_when_the_split_changes(data):
    last = len(data["val_captions"]) - 1
    at = open_page(PAGE, {"example": str(last + 10)})
    assert at.number_input[0].value == last + 10 and not at.info
    at.radio[0].set_value("val").run()
    no_problems(at)
    assert at.number_input[0].value == 0 and at.query_params["example"] == "0"
    said = [i.value for i in at.info]
    assert said == [
        f"Example {last + 10} is past the last of the validation images ({last}), so example 0 is shown."
    ]
    at.run()
    assert not at.info  # said once
    # Back to an entry that brings the split and its own example: that example, and nothing to say.
    at = open_page(PAGE, {"example": str(last + 10)})
    at.query_params.clear()
    at.query_params.update({"split": "val", "example": "5"})
    at.run()
    no_problems(at)
    assert at.number_input[0].value == 5 and not at.info


def test_switching_activation_changes_the_trace(data):
    at = open_page(PAGE, {"t": "3"})
    tanh_row = equation(at)
    at.selectbox(key=CELL).set_value(("rnn", "sigmoid")).run()
    no_problems(at)
    sigmoid_row = equation(at)
    np.testing.assert_allclose(tanh_row[6], np.tanh(tanh_row[5]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sigmoid_row[6], 1 / (1 + np.exp(-sigmoid_row[5])), rtol=1e-5, atol=1e-7)
    assert not np.allclose(tanh_row[6], sigmoid_row[6])
    shown = [h.value for h in at.get("html")]
    assert any("def rnn_forward(" in html for html in shown)
    assert any("def sigmoid(a):" in html for html in shown) and not any(
        "def tanh(a):" in html for html in shown
    )


def test_bad_link_values_fall_back_with_a_notice():
    at = open_page(PAGE, {"t": "500", "activation": "softmax", "example": "-2"})
    no_problems(at)
    assert at.info and "activation" in at.info[0].value and "timestep t" in at.info[0].value
    assert (
        stepper.sent(at, STEPPER)["t"] == 0
        and at.selectbox(key=CELL).value == ("rnn", "tanh")
        and at.number_input[0].value == 0
    )


def test_trained_readable_model_and_real_sizes():
    at = run_until_trained(open_page(PAGE, {"model": "trained", "t": "2"}))  # the "readable" recipe's job
    no_problems(at)
    trained_loss = float(next(m for m in at.metric).value)
    at.selectbox[1].set_value("fresh").run()
    fresh_loss = float(next(m for m in at.metric).value)
    assert trained_loss < fresh_loss  # the trained model has learned something about captions
    at.selectbox[1].set_value("trained").run()
    assert any(
        "Trained model (vanilla RNN, W = 8, H = 8) on minibatches drawn from the whole training set"
        in c.value
        for c in at.caption
    )
    assert not any("were not trained for" in c.value for c in at.caption)
    at.selectbox(key=CELL).set_value(("rnn", "relu")).run()  # the tanh-trained weights, run with ReLU
    assert any(
        "Its weights were learned with tanh; here they run with relu, which they were not trained for."
        in c.value
        for c in at.caption
    )
    at.selectbox(key=CELL).set_value(("rnn", "tanh")).run()
    at.selectbox[1].set_value("fresh").run()
    at.selectbox[2].set_value("real").run()
    no_problems(at)
    assert at.selectbox[2].value == "real"
    real = stepper.figure(at, STEPPER, "equation")
    assert stepper.trace_types(stepper.sent(at, STEPPER)) <= stepper.bundled_trace_types()
    # "Notebook's sizes" are the notebook's: W = 256, H = 512, every label saying so.
    assert trace_values(real).shape[1] == 512 and real["data"][0].get("texttemplate") is None
    assert any("H = 512" in m.value for m in at.markdown)
    assert any("Freshly initialised model (vanilla RNN, W = 256, H = 512" in c.value for c in at.caption)


def test_trained_model_at_the_notebooks_sizes_is_the_notebooks_run(data):
    """Trained at the notebook's sizes is the notebook's own run ("overfit": 50 captions; smaller here): the
    page waits for its background job, which writes it to core.lab.trained_models's store, then traces that
    very model and says which captions it was trained on."""
    trained_caption = int(recipe_caption_indices(data, "overfit")[0])
    at = open_page(PAGE, {"model": "trained", "sizes": "real", "t": "2", "example": str(trained_caption)})
    run_until_trained(at)
    no_problems(at)
    cached = core.lab.trained_models.cache_path(data, "overfit")
    assert cached.is_file()
    model = core.lab.trained_models.load_model(cached)
    row = data["train_image_idxs"][trained_caption]
    expected = trace_example(
        model, data["train_features"][row], data["train_captions"][trained_caption], 1.0, "tanh"
    )
    z = equation(at)
    hidden = SMALL_RECIPES["overfit"]["hidden_dim"]
    assert z.shape[1] == hidden
    np.testing.assert_allclose(z[6], expected.forward.h[1], rtol=1e-5)  # h_2 of the trained model
    assert any(f"H = {hidden}" in m.value for m in at.markdown)
    note = next(c.value for c in at.caption if c.value.startswith("Trained model"))
    assert f"H = {hidden}) on 50 training captions" in note and note.endswith("This caption is one of them.")
    at.number_input[0].set_value(
        trained_caption + 1 if trained_caption + 1 not in recipe_caption_indices(data, "overfit") else 0
    )
    at.run()
    note = next(c.value for c in at.caption if c.value.startswith("Trained model"))
    assert note.endswith(
        f"This caption is not one of them; training caption #{trained_caption} is: compare their losses."
    )
    stepper.report(at, STEPPER, 3)
    no_problems(at)
    assert not at.get("progress")  # ready: served from the cache, never trained again


def test_the_lstm_cell_shows_its_gates_and_cell_state_step_by_step(data):
    at = open_page(PAGE, {"example": "4", "t": "3"})
    at.selectbox(key=CELL).set_value(("lstm", "tanh")).run()
    no_problems(at)
    assert at.query_params["cell"] == "lstm" and at.query_params["activation"] == "tanh"
    assert stepper.trace_types(stepper.sent(at, STEPPER)) <= stepper.bundled_trace_types()
    expected = fresh_trace(data, 4, cell="lstm").forward
    for t in (1, 3, 6):
        z = equation(at, t)
        np.testing.assert_allclose(z[4, :8], expected.f[t - 1], rtol=1e-5)  # the forget gate
        np.testing.assert_allclose(z[9, :8], expected.c[t - 1], rtol=1e-5)  # c_t
        np.testing.assert_allclose(z[10, :8], expected.h[t - 1], rtol=1e-5)  # h_t
        assert f"forget f = {expected.f[t - 1].mean():.2f}" in stepper.text(at, STEPPER, "summary", t)
        assert f"c<sub>{t - 1}</sub>" in stepper.text(at, STEPPER, "formula", t)
    shown = [h.value for h in at.get("html")]
    assert any("def lstm_forward(" in html for html in shown) and any(
        "def sigmoid(a):" in html for html in shown
    )
    assert any("Parameters of the LSTM cell" in m.value for m in at.markdown)
    assert any(c.value.startswith("Freshly initialised model (LSTM, W = 8, H = 8") for c in at.caption)
    # A link with the LSTM and another activation opens the LSTM (its nonlinearities are fixed).
    at = open_page(PAGE, {"cell": "lstm", "activation": "relu"})
    no_problems(at)
    assert at.selectbox(key=CELL).value == ("lstm", "tanh") and at.query_params["activation"] == "tanh"
    (notice,) = [i.value for i in at.info]
    assert (
        "**activation** = “relu” is the vanilla cell's; the LSTM's gates fix their nonlinearities" in notice
    )
