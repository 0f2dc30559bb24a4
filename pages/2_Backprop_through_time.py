"""Backpropagation through time for one caption, stepping backward from its last word."""

import streamlit as st

import ui
from explainer import code, text
from ui import controls, stepped_views, stepper, url_state

WEIGHTS = ("Wh", "Wx")


def page() -> None:
    ui.page_title(ui.BACKPROP)
    st.markdown(
        "The loss of every step sends a gradient into its hidden state; each step also passes the gradient "
        "it received back to the step before, through f'(a) and Whᵀ. Step backward from the last word and "
        "see what survives the journey. Scale Wh to make gradients vanish or explode; choose the LSTM to "
        "see the gradient carried along its cell state, gated by the forget gate."
    )
    data = ui.get_dataset()
    view_fields = [
        controls.wh_field(),
        controls.forget_field(),
        url_state.choice("weight", "Wh", WEIGHTS, "weight"),
        url_state.flag("log", True, "log scale", key="backprop.log"),
    ]
    settings, fields = controls.controls(
        data, "backprop.t", t_default=controls.last_scored_step, extra_fields=view_fields
    )
    is_lstm = settings.cell == "lstm"

    scale, meaning, options = st.columns([2, 3, 1.3], vertical_alignment="center")
    with scale:
        st.slider(
            "Wh scale s (the trace uses s·Wh)",
            *controls.WH_SCALE_RANGE,
            step=controls.WH_SCALE_STEP,
            help="Multiply the recurrent weights to change how much gradient they carry back. Use the cell "
            "selector above to compare tanh, sigmoid, ReLU and the LSTM at the same scale.",
            **url_state.bind("wh"),
        )
        if is_lstm:
            st.slider(
                "Forget-gate bias shift (added to b_f)",
                *controls.FORGET_SHIFT_RANGE,
                step=controls.FORGET_SHIFT_STEP,
                help="Above 0 the forget gates open (f near 1: the cell keeps its state, and its gradient "
                "travels far back); below 0 they shut.",
                **url_state.bind("forget"),
            )
    wh_scale = float(url_state.get("wh"))
    # The shift applies to the LSTM only (the vanilla cell has no forget gate); the URL keeps it.
    forget_shift = float(url_state.get("forget")) if is_lstm else 0.0
    trace = ui.get_trace(settings, wh_scale, forget_shift)
    with meaning:
        if is_lstm:
            vanilla = ui.get_trace(settings, wh_scale, cell="rnn")
            st.markdown(text.forget_markdown(trace.forward, forget_shift))
            st.markdown(text.reach_markdown(trace.reach, vanilla.reach))
        else:
            st.markdown(text.spectral_markdown(trace.spectral_radius, wh_scale, settings.activation))
    with options:
        st.radio("Weight summed over time", WEIGHTS, horizontal=True, **url_state.bind("weight"))
        # wrap: in this narrow column Streamlit would cut the label ("Norms on a l…") below 1280 px.
        st.toggle("Norms on a log scale", wrap=True, **url_state.bind("backprop.log"))
    views = stepped_views.backprop_data(
        settings, wh_scale, forget_shift, url_state.get("weight"), url_state.get("backprop.log")
    )

    picture, source = st.columns([1, 2])
    with picture:
        controls.example_card(data, settings)
        st.metric("Loss of the caption", f"{trace.forward.loss:.3f}")
        # Traced with the changed weights; the forward page traces the model's own, whose loss differs.
        changed = []
        if wh_scale != 1:
            changed.append(f"{wh_scale:g}·Wh")
        if forget_shift:
            changed.append(f"the forget-gate bias shifted by {forget_shift:+g}")
        if changed:
            own = ui.get_trace(settings).forward.loss
            st.caption(f"With {' and '.join(changed)}; with the model's own weights it is {own:.3f}.")
    with source:
        name = "lstm_backward" if is_lstm else "rnn_backward"
        st.markdown(
            f"**The code that computed these gradients**: `{name}` of `core/engine/rnn_layers.py`, "
            "each line coloured like what it computes, and the derivatives it calls. Wh and Wx are shared "
            "by every step, so their gradients are sums over time: dWh = Σₜ hₜ₋₁ᵀ daₜ and dWx = Σₜ xₜᵀ daₜ."
        )
        loop, derivative = code.lstm_backward_code() if is_lstm else code.backward_code(settings.activation)
        st.html(code.code_html(loop))
        st.html(code.code_html(derivative))

    stepper.stepped_view(
        views,
        fields,
        below=lambda: controls.link(fields, ui.FORWARD_PASS, "Back to the forward pass with this example"),
        key="backprop.stepper",
    )


ui.setup_page(ui.BACKPROP)
with ui.friendly_errors("backprop through time"):
    page()
