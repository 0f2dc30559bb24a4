"""AppTest of the gradient-check lab: clean checks pass, deliberate bugs are caught by exactly the checks that
run them (vanilla cell and LSTM), the advice follows what was measured, every choice lives in the URL, and
the widgets whose options depend on another choice follow it."""

import numpy as np
from streamlit.testing.v1 import AppTest

from core.lab.gradcheck_lab import BUG, ROUND_OFF, TOO_LARGE, LabSizes, bugs_of, checks_of, run_check
from explainer.gradcheck import CAUSE_TITLES
from tests.helpers.apptest import (
    axes_without_automargin,
    chart,
    drawn_trace_types,
    no_problems,
    other_html,
    page_app,
    tables,
)
from tests.helpers.plotly_json import decode
from tests.helpers.stepper import bundled_trace_types

PAGE = "pages/5_Gradient_check_lab.py"
RESULTS_KEY = "gradcheck.results"
DEFAULT_VIEW = {
    "cell": "tanh",
    "dtype": "float64",
    "step": "1e-05",
    "seed": "0",
    "repeat": "1",
    "N": "2",
    "T": "3",
    "D": "4",
    "W": "5",
    "H": "6",
    "V": "10",
    "checks": ",".join(checks_of("tanh")),
    "bug": "none",
    "detail": "model.W_vocab",
}
# Every field at a value other than its default.
OTHER_VIEW = {
    "cell": "lstm",
    "dtype": "float32",
    "step": "0.001",
    "seed": "7",
    "repeat": "0",
    "N": "1",
    "T": "2",
    "D": "3",
    "W": "4",
    "H": "5",
    "V": "12",
    "checks": "lstm_model,lstm_step",
    "bug": "forget_gate_without_c_prev",
    "detail": "lstm_step.prev_c",
}


def open_lab(query: dict | None = None) -> AppTest:
    """The lab opened from a link with `query`: no exception (a caught bug is an error box, so no_problems is
    asserted where none is expected)."""
    at = page_app(PAGE, 120)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def widget(at: AppTest, kind: str, label: str):
    """The widget of `kind` (e.g. "selectbox") whose label starts with `label`."""
    (found,) = [w for w in at.get(kind) if w.label.startswith(label)]
    return found


def rows(at: AppTest) -> dict:
    """The results table as {(check, gradient): row}."""
    (table,) = tables(at)
    return {(row["check"], row["gradient"]): row for row in table}


def results(at: AppTest) -> list:
    return at.session_state[RESULTS_KEY]


def detail(at: AppTest):
    return widget(at, "selectbox", "Look at one gradient")


def new_widget(before, after) -> bool:
    """Whether `after` is another widget than `before` (url_state.bind(options_of=...)): the browser then
    draws it afresh, never with the previous options' value."""
    return before.key != after.key


def charted_gradient(at: AppTest) -> str:
    """The gradient the element-by-element charts show, from their titles."""
    heat = chart(at, "gradcheck.elements")["layout"]["title"]["text"]
    scatter = chart(at, "gradcheck.scatter")["layout"]["title"]["text"]
    assert heat.split(":")[0] == scatter.split(":")[0]
    return heat.split(":")[0]


def verdict_text(at: AppTest) -> str:
    (text,) = [e.value for kind in ("success", "error", "warning") for e in at.get(kind)]
    return text


def test_real_backward_passes_all_pass_and_the_view_is_in_the_url():
    at = open_lab()
    no_problems(at)
    assert verdict_text(at).startswith("All 23 gradients agree")
    assert {row["verdict"] for row in rows(at).values()} == {"pass"}
    for key in ("gradcheck.overview", "gradcheck.elements", "gradcheck.scatter"):
        chart(at, key)
    assert drawn_trace_types(at) <= bundled_trace_types()
    assert axes_without_automargin(at) == []
    assert dict(at.query_params) == DEFAULT_VIEW
    assert not at.info


def test_every_url_field_round_trips():
    """A link sets every choice; the page shows exactly that view, keeps it in the URL, and the URL it
    writes reopens the same view."""
    at = open_lab(OTHER_VIEW)
    assert not at.info
    assert widget(at, "radio", "Cell").value == "lstm"
    assert widget(at, "radio", "Precision").value == "float32"
    assert widget(at, "select_slider", "Finite-difference step").value == 1e-3
    assert widget(at, "number_input", "Seed").value == 7
    assert widget(at, "toggle", "Repeat a word id").value is False
    for name in "NTDWHV":
        assert widget(at, "number_input", f"{name}:").value == int(OTHER_VIEW[name])
    assert widget(at, "multiselect", "Checks").value == ["lstm_model", "lstm_step"]
    assert widget(at, "selectbox", "Deliberate bug").value == "forget_gate_without_c_prev"
    assert detail(at).value == "lstm_step.prev_c" and charted_gradient(at) == "dprev_c"
    assert [r.layer for r in results(at)] == ["lstm_model", "lstm_step"]
    first = results(at)[1]
    assert (first.dtype, first.step, first.bug, first.sizes) == (
        "float32",
        1e-3,
        "forget_gate_without_c_prev",
        LabSizes(N=1, T=2, D=3, W=4, H=5, V=12),
    )
    assert dict(at.query_params) == OTHER_VIEW
    again = open_lab(dict(at.query_params))
    assert tables(again) == tables(at)
    assert detail(again).value == "lstm_step.prev_c" and dict(again.query_params) == OTHER_VIEW


def test_a_bad_link_falls_back_to_the_defaults_with_one_notice():
    bad = {
        "cell": "gru",
        "dtype": "float16",
        "step": "0.5",
        "seed": "-1",
        "repeat": "maybe",
        "N": "99",
        "V": "two",
        "checks": "rnn_step,lstm_step",
        "bug": "typo",
        "detail": "model.nope",
    }
    at = open_lab(bad)
    (notice,) = [i.value for i in at.info]
    for label in ("cell", "precision", "finite-difference step h", "seed of the random inputs"):
        assert f"**{label}**" in notice
    for label in ("repeated word id", "N (batch)", "V (vocabulary)", "checks", "deliberate bug"):
        assert f"**{label}**" in notice
    assert "**gradient looked at**" in notice
    # The 23 gradients it could have named: the first six, and how many there are, not all of them.
    looked_at = notice.split("**gradient looked at**")[1].split(";")[0]
    assert looked_at.endswith(", … (23 in all).") and looked_at.count(",") == 6
    assert dict(at.query_params) == DEFAULT_VIEW
    assert verdict_text(at).startswith("All 23 gradients agree")
    at.run()
    assert not at.info  # said once: the URL now holds the page's own values


def test_another_cell_keeps_the_checks_as_their_counterparts():
    at = open_lab()
    before = widget(at, "multiselect", "Checks")
    before.set_value(["model", "rnn_step", "temporal_affine"]).run()
    widget(at, "radio", "Cell").set_value("lstm").run()
    no_problems(at)
    checks = widget(at, "multiselect", "Checks")
    assert new_widget(before, checks)
    assert checks.options == [title for title in map(_title, checks_of("lstm"))]
    assert checks.value == ["lstm_step", "temporal_affine", "lstm_model"]
    assert at.query_params["checks"] == "lstm_step,temporal_affine,lstm_model"
    assert [r.layer for r in results(at)] == ["lstm_step", "temporal_affine", "lstm_model"]
    widget(at, "radio", "Cell").set_value("relu").run()
    assert widget(at, "multiselect", "Checks").value == ["rnn_step", "temporal_affine", "model"]
    assert {r.activation for r in results(at)} == {"relu"}


def _title(layer):
    from core.lab.gradcheck_lab import LAYER_TITLES

    return LAYER_TITLES[layer]


def test_the_bugs_offered_follow_the_cell():
    at = open_lab()
    bug = widget(at, "selectbox", "Deliberate bug")
    assert "Drop c_{t-1} from the LSTM forget gate's gradient" not in bug.options
    bug.set_value("drop_local_derivative").run()
    widget(at, "radio", "Cell").set_value("lstm").run()
    no_problems(at)
    assert new_widget(bug, widget(at, "selectbox", "Deliberate bug"))
    bug = widget(at, "selectbox", "Deliberate bug")
    assert len(bug.options) == len(bugs_of("lstm")) and bug.value == "none"
    assert at.query_params["bug"] == "none" and not other_html(at)
    # said, not done silently
    said = "The LSTM cell never runs the code of the bug “Drop the local derivative f'(a)"
    assert [i.value for i in at.info if i.value.startswith(said)]
    bug.set_value("forget_gate_without_c_prev").run()
    assert not [i.value for i in at.info if "never runs the code" in i.value]
    widget(at, "radio", "Cell").set_value("sigmoid").run()
    assert widget(at, "selectbox", "Deliberate bug").value == "none"
    assert [i.value for i in at.info if i.value.startswith("The RNN · sigmoid cell never runs the code of")]
    # A link naming a bug with a cell that never runs its code says so too.
    linked = open_lab({"cell": "lstm", "bug": "drop_local_derivative"})
    (notice,) = [i.value for i in linked.info]
    assert (
        "**deliberate bug** = “drop\\_local\\_derivative” is a bug in code the LSTM cell never runs" in notice
    )
    assert linked.query_params["bug"] == "none" and linked.query_params["cell"] == "lstm"
    # Back to an entry (or a link) that brings the other cell with a bug of its own: that bug runs, and
    # nothing says the lab runs without one.
    at = open_lab({"bug": "drop_local_derivative"})
    at.query_params.clear()
    at.query_params.update({"cell": "lstm", "bug": "forget_gate_without_c_prev", "checks": "lstm_model"})
    at.run()
    assert widget(at, "selectbox", "Deliberate bug").value == "forget_gate_without_c_prev"
    assert not [i.value for i in at.info if "never runs the code" in i.value]


def test_the_element_view_follows_the_chosen_checks():
    """The issue's case: the selector stayed on "Whole model · dW_vocab" while the charts showed another
    gradient. Its options are those of the checks chosen, and it shows the gradient the charts show."""
    at = open_lab()
    before = detail(at)
    assert before.value == "model.W_vocab" and charted_gradient(at) == "dW_vocab"
    widget(at, "multiselect", "Checks").set_value(["word_embedding", "rnn_step"]).run()
    no_problems(at)
    chosen = detail(at)
    assert new_widget(before, chosen)
    assert [option.split(" · ")[0] for option in chosen.options] == [_title("word_embedding")] + [
        _title("rnn_step")
    ] * 5
    worst = max(results(at), key=lambda r: r.max_rel_error)
    assert chosen.value == f"{worst.layer}.{worst.worst.name}"
    assert charted_gradient(at) == f"d{worst.worst.name}" and at.query_params["detail"] == chosen.value
    chosen.set_value("rnn_step.prev_h").run()
    assert charted_gradient(at) == "dprev_h" and at.query_params["detail"] == "rnn_step.prev_h"
    widget(at, "multiselect", "Checks").set_value(["temporal_softmax"]).run()
    assert detail(at).value == "temporal_softmax.x" and charted_gradient(at) == "dx"


def test_the_element_view_opens_on_the_worst_gradient_of_new_results():
    at = open_lab()
    detail(at).set_value("rnn_step.x").run()
    assert charted_gradient(at) == "dx"
    widget(at, "selectbox", "Deliberate bug").set_value("affine_bias_mean").run()
    assert detail(at).value == "temporal_affine.b" and charted_gradient(at) == "db"
    z = decode(chart(at, "gradcheck.elements")["data"][0]["z"])
    assert np.nanmax(z) > -1  # errors near 1: the bug


def test_dropping_the_tanh_derivative_is_caught_and_its_code_shown():
    at = open_lab({"bug": "drop_local_derivative"})
    assert not at.exception
    (caught,) = [e.value for e in at.error]
    assert caught.startswith("**Caught.**") and "still pass" in caught
    table = rows(at)
    assert table[("RNN step (rnn_step_backward)", "dWh")]["verdict"] == "wrong"
    assert table[("Whole model (CaptioningRNN.loss)", "dWh")]["cause"] == CAUSE_TITLES[BUG]
    assert table[("Word embedding (word_embedding_backward)", "dW_embed")]["verdict"] == "pass"
    shown = " ".join(h.value for h in at.get("html"))
    assert "def rnn_step_backward(dnext_h, cache):" in shown and "def rnn_backward(dh, cache" in shown
    assert "da = dnext_h * derivative(cache.next_h, cache.activation)" in shown
    assert (
        'data-bug="wrong" style="color:#b91c1c;font-weight:600;background:#fee2e2">    da = dnext_h<' in shown
    )


def test_lstm_checks_pass():
    at = open_lab({"cell": "lstm"})
    assert verdict_text(at).startswith("All ")
    assert [r.layer for r in results(at)] == list(checks_of("lstm"))
    assert {row["verdict"] for row in rows(at).values()} == {"pass"}
    assert {r.by_name("Wx").shape for r in results(at) if r.layer.startswith("lstm")} == {(4, 24), (5, 24)}


def test_the_lstm_bug_is_caught_by_exactly_the_checks_that_run_it():
    at = open_lab({"cell": "lstm", "bug": "forget_gate_without_c_prev"})
    (caught,) = [e.value for e in at.error]
    shown_in = caught.split("shows in: ")[1].split(": there")[0]
    assert shown_in == ", ".join(_title(layer) for layer in ("lstm_step", "lstm_sequence", "lstm_model"))
    assert "unnoticed" not in caught and "still pass" in caught
    for result in results(at):
        assert (result.cause == BUG) == (result.layer in ("lstm_step", "lstm_sequence", "lstm_model"))
        assert result.passed == (result.cause is None)
    causes = {check: row["cause"] for (check, _), row in rows(at).items() if row["cause"]}
    assert set(causes) == {_title(layer) for layer in ("lstm_step", "lstm_sequence", "lstm_model")}
    shown = " ".join(h.value for h in at.get("html"))
    assert "def lstm_step_backward(" in shown and "def lstm_backward(" in shown
    assert "da_f = dc * sigmoid_derivative(f)</span>" in shown
    assert at.query_params["cell"] == "lstm" and at.query_params["bug"] == "forget_gate_without_c_prev"


def advice(at: AppTest) -> str:
    (text,) = [m.value for m in at.markdown if m.value.startswith("**Why they fail**")]
    return text


def test_a_large_step_in_float64_is_blamed_on_the_step():
    at = open_lab({"step": "0.01"})
    (warning,) = [w.value for w in at.warning]
    assert "without any deliberate bug" in warning
    failing = [row for row in rows(at).values() if row["verdict"] != "pass"]
    assert failing and {row["cause"] for row in failing} == {CAUSE_TITLES[TOO_LARGE]}
    lines = advice(at).splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith(f"- **{CAUSE_TITLES[TOO_LARGE]}** ({len(failing)}: ")
    assert "The step is too large" in lines[0] and "at h = 0.01 its largest error is" in lines[0]
    # The element view opens on the worst gradient, with its scan and the same measured sentence.
    (why,) = [m.value for m in at.markdown if m.value.startswith("**Why it fails**")]
    assert "The step is too large" in why
    scan = chart(at, "gradcheck.scan")
    worst = max(results(at), key=lambda r: r.max_rel_error).worst
    np.testing.assert_allclose(decode(scan["data"][0]["y"]), np.maximum(worst.diagnosis.scan.errors, 1e-16))


def test_a_tiny_step_in_float32_is_blamed_on_round_off():
    at = open_lab({"dtype": "float32", "step": "1e-08"})
    assert {row["cause"] for row in rows(at).values()} == {CAUSE_TITLES[ROUND_OFF]}
    (line,) = advice(at).splitlines()[1:]
    assert "Round-off dominates" in line and "A larger step does better" in line
    assert any("machine ε" in m.value for m in at.markdown)  # "Why float64?" opens in float32


def test_a_bug_is_blamed_on_the_bug_at_any_step():
    for query in ({"step": "0.01"}, {"dtype": "float32", "step": "1e-08"}):
        at = open_lab({**query, "bug": "no_carried_gradient", "checks": "rnn_step,rnn_sequence"})
        (caught,) = [e.value for e in at.error]
        assert caught.startswith("**Caught.**") and f"shows in: {_title('rnn_sequence')}:" in caught
        step, sequence = results(at)
        assert sequence.cause == BUG and step.cause != BUG
        assert "the backward pass is wrong" in advice(at)


def test_sizes_state_their_limits_and_drive_the_check():
    at = open_lab({"checks": "rnn_step"})
    assert {w.label for w in at.number_input} >= {
        "N: batch, 1–6",
        "T: timesteps, 1–8",
        "D: input, 1–16",
        "W: word vector, 1–16",
        "H: hidden, 1–16",
        "V: vocabulary, 4–24",
    }
    widget(at, "number_input", "H:").set_value(3).run()
    widget(at, "number_input", "D:").set_value(2).run()
    no_problems(at)
    (table,) = tables(at)
    by_gradient = {row["gradient"]: row for row in table}
    assert list(by_gradient) == ["dx", "dprev_h", "dWx", "dWh", "db"]
    assert by_gradient["dWx"]["shape"] == "2 × 3"
    expected = run_check("rnn_step", results(at)[0].sizes)
    assert by_gradient["dWh"]["max relative error"] == f"{expected.by_name('Wh').max_rel_error:.2e}"
    assert at.query_params["H"] == "3" and at.query_params["D"] == "2"


def test_a_size_past_its_limit_is_refused_with_a_message():
    at = open_lab({"checks": "rnn_step"})
    widget(at, "number_input", "N:").set_value(9).run()
    (refused,) = [w.value for w in at.warning]
    assert refused == "**N (batch)** = 9 was not used: it must be between 1 and 6."
    assert widget(at, "number_input", "N:").value == 2 and at.query_params["N"] == "2"
    assert results(at)[0].sizes.N == 2
    widget(at, "number_input", "V:").set_value(3).run()
    assert [w.value for w in at.warning] == [
        "**V (vocabulary)** = 3 was not used: it must be between 4 and 24."
    ]
    widget(at, "number_input", "Seed").set_value(-1).run()
    assert "seed of the random inputs" in at.warning[0].value and results(at)[0].sizes.V == 10
    widget(at, "number_input", "T:").set_value(8).run()
    assert not at.warning and results(at)[0].sizes.T == 8


def popover_label(at: AppTest) -> str:
    """The label of the popover holding the test input's settings."""
    (popover,) = at.get("popover")
    return popover.proto.popover.label


def test_the_test_inputs_button_names_the_input_the_checks_ran_on():
    """The button that opens the sizes, the seed and the repeated word id reads the values the checks ran on:
    from a link, after a change, and after a refused value."""
    at = open_lab(OTHER_VIEW)
    sizes = results(at)[0].sizes
    assert all(r.sizes == sizes for r in results(at))
    named = " · ".join(f"{name} {getattr(sizes, name)}" for name in "NTDWHV")
    assert popover_label(at) == f"Test input: {named} · seed 7 · repeat a word id: off"
    assert named == "N 1 · T 2 · D 3 · W 4 · H 5 · V 12"  # the link's sizes
    widget(at, "number_input", "N:").set_value(3).run()
    widget(at, "toggle", "Repeat a word id").set_value(True).run()
    assert results(at)[0].sizes.N == 3
    assert (
        popover_label(at) == "Test input: N 3 · T 2 · D 3 · W 4 · H 5 · V 12 · seed 7 · repeat a word id: on"
    )
    widget(at, "number_input", "N:").set_value(9).run()
    assert at.warning and results(at)[0].sizes.N == 3
    assert popover_label(at).startswith("Test input: N 3 · T 2")


def test_no_check_chosen_is_explained():
    at = open_lab()
    widget(at, "multiselect", "Checks").set_value([]).run()
    no_problems(at)
    assert any("at least one check" in i.value for i in at.info)
    # The link keeps no gradient to look at: opened later, with a check chosen, it has nothing to refuse.
    assert at.query_params["checks"] == "" and "detail" not in at.query_params
    again = open_lab(dict(at.query_params))
    assert any("at least one check" in i.value for i in again.info)
    widget(again, "multiselect", "Checks").set_value(["rnn_step"]).run()
    assert not [i.value for i in again.info if "could not be used" in i.value]
    assert again.query_params["detail"].startswith("rnn_step.")
