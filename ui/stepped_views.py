"""The stepper data of the forward-pass and backprop pages, built once per trace and view options and shared
read-only by every session (the views are pure functions of a cached trace)."""

from __future__ import annotations

import streamlit as st

from explainer import backward, code, forward, lstm, text
from ui import stepper
from ui.dataset import get_dataset
from ui.resources import get_trace

# px: the forward equation's heatmap, its row labels and 8 units with their numbers at 12 px.
EQUATION_MIN_WIDTH = 470
REACH_TITLE = (
    "**How far back does the last word's gradient reach?** The share of the gradient of the last scored "
    "word's loss that reaches the state of each earlier step: the LSTM (h and c together) against the vanilla "
    "RNN with the same model choice and sizes, on the same example."
)


def _trace_name(settings, *extra) -> str:
    """Names the sequence the stepper shows: another one resets its step to the page's."""
    return "|".join(str(part) for part in (*settings.__dict__.values(), *extra))


@st.cache_resource(show_spinner=False, max_entries=64)
def _forward_data(settings) -> dict:
    trace = get_trace(settings).forward
    idx_to_word = get_dataset()["idx_to_word"]
    steps = range(trace.num_steps + 1)
    is_lstm = trace.cell_type == "lstm"
    formula = [
        code.lstm_equation_html(t) if is_lstm else code.equation_html(trace.activation, t) for t in steps
    ]
    panels = {
        "network": {"kind": "plotly", **forward.network_view(trace, idx_to_word).payload()},
        "formula": {"kind": "html", "steps": formula},
        "summary": {
            "kind": "text",
            "steps": [text.forward_step_summary(trace, idx_to_word, t) for t in steps],
        },
        "equation": {
            "kind": "plotly",
            **forward.equation_view(
                trace, lstm.equation_rows if is_lstm else forward.equation_rows
            ).payload(),
        },
        "topk": {"kind": "plotly", **forward.topk_view(trace, idx_to_word).payload()},
        "loss": {"kind": "plotly", **forward.loss_view(trace).payload()},
    }
    rows = [
        [("network", 1)],
        [("formula", 1)],
        [("summary", 1)],
        [("equation", 3, EQUATION_MIN_WIDTH), ("topk", 2)],
        [("loss", 1)],
    ]
    return stepper.payload(
        "forward|" + _trace_name(settings),
        0,
        trace.num_steps,
        rows,
        panels,
        label="Timestep t (0 = the image)",
    )


def forward_data(settings) -> dict:
    """The forward page's stepper data for these settings (ui.controls.Settings)."""
    # The trace (and the model behind it) is made outside the cached builder, so its progress is shown.
    get_trace(settings)
    return _forward_data(settings)


@st.cache_resource(show_spinner=False, max_entries=64)
def _backprop_data(settings, wh_scale: float, forget_shift: float, param: str, log_scale: bool) -> dict:
    trace = get_trace(settings, wh_scale, forget_shift)
    bwd, mask = trace.backward, trace.forward.mask
    steps = range(trace.forward.num_steps + 1)
    if trace.cell_type == "lstm":
        # The LSTM's own panels: the forget gate that scales the cell's gradient, and how far the last
        # word's gradient reaches compared with the vanilla cell on the same example.
        vanilla = get_trace(settings, wh_scale, cell="rnn")
        factor = lstm.forget_view(trace.forward, mask)
        reach = {
            "reach_title": {"kind": "text", "steps": [REACH_TITLE] * len(steps)},
            "reach": {"kind": "plotly", **lstm.reach_view(trace.reach, vanilla.reach).payload()},
        }
    else:
        factor = backward.local_derivative_view(bwd, settings.activation, mask)
        reach = {}
    panels = {
        "summary": {"kind": "text", "steps": [text.backward_step_summary(bwd, mask, t) for t in steps]},
        "dh": {"kind": "plotly", **backward.gradient_view(bwd, mask).payload()},
        "norms": {"kind": "plotly", **backward.norms_view(bwd, log_scale).payload()},
        "factor": {"kind": "plotly", **factor.payload()},
        "survival": {"kind": "plotly", **backward.survival_view(bwd).payload()},
        **reach,
        "contrib_text": {
            "kind": "text",
            "steps": [text.contribution_markdown(bwd, mask, param, t) for t in steps],
        },
        "contrib": {"kind": "plotly", **backward.contributions_view(bwd, param).payload()},
        "contrib_norms": {"kind": "plotly", **backward.contribution_norms_view(bwd).payload()},
    }
    rows = [
        [("summary", 1)],
        [("dh", 1), ("norms", 1)],
        [("factor", 1), ("survival", 1)],
        *([[("reach_title", 1)], [("reach", 1)]] if reach else []),
        [("contrib_text", 1)],
        [("contrib", 1)],
        [("contrib_norms", 1)],
    ]
    return stepper.payload(
        "backprop|" + _trace_name(settings, wh_scale, forget_shift),
        0,
        trace.forward.num_steps,
        rows,
        panels,
        direction=-1,
        label="Timestep t (backprop goes from the last word down to 0)",
        # Played back from the start, it starts where backprop does: the later steps carry nothing.
        restart=backward.last_scored_step(trace.forward.mask),
    )


def backprop_data(settings, wh_scale: float, forget_shift: float, param: str, log_scale: bool) -> dict:
    """The backprop page's stepper data for these settings, Wh scale, forget-gate bias shift (LSTM), weight
    (Wh or Wx) and norm axis."""
    get_trace(settings, wh_scale, forget_shift)
    if settings.cell == "lstm":
        get_trace(settings, wh_scale, cell="rnn")
    return _backprop_data(settings, float(wh_scale), float(forget_shift), param, bool(log_scale))
