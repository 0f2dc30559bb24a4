"""Backpropagation through time for one caption, stepping backward from its last word."""

import streamlit as st

import ui
from explainer import backward, code, text
from ui import controls, stepped_views, stepper, url_state

WEIGHTS = ("Wh", "Wx")


def last_scored_step(split: str, index: int) -> int:
    """Where backprop opens: the caption's last step whose target is a word."""
    caption, _, _ = ui.example(split, index)
    return backward.last_scored_step(caption[1:] != 0)


def page() -> None:
    ui.page_title(ui.BACKPROP)
    st.markdown(
        "The loss of every step sends a gradient into its hidden state; each step also passes the gradient "
        "it received back to the step before, through f'(a) and Whᵀ. Step backward from the last word and "
        "see what survives the journey. Scale Wh to make gradients vanish or explode."
    )
    data = ui.get_dataset()
    view_fields = [
        controls.wh_field(),
        url_state.choice("weight", "Wh", WEIGHTS, "weight"),
        url_state.choice("log", "on", ("on", "off"), "log scale"),
    ]
    settings, fields = controls.controls(data, t_default=last_scored_step, extra_fields=view_fields)

    scale, radius, options = st.columns([2, 3, 1.3], vertical_alignment="center")
    with scale:
        st.slider(
            "Wh scale s (the trace uses s·Wh)",
            *controls.WH_SCALE_RANGE,
            step=0.05,
            help="Multiply the recurrent weights to change their spectral radius. Use the activation "
            "selector above to compare tanh, sigmoid and ReLU at the same scale.",
            **url_state.bind("wh"),
        )
    wh_scale = float(url_state.get("wh"))
    trace = ui.get_trace(
        settings.split, settings.index, settings.activation, settings.choice, settings.sizes, wh_scale
    )
    with radius:
        st.markdown(text.spectral_markdown(trace.spectral_radius, wh_scale, settings.activation))
    with options:
        st.radio("Weight summed over time", WEIGHTS, horizontal=True, **url_state.bind("weight"))
        st.radio("Norms on a log scale", ("on", "off"), horizontal=True, **url_state.bind("log"))
    views = stepped_views.backprop_data(
        settings, wh_scale, url_state.get("weight"), url_state.get("log") == "on"
    )

    picture, source = st.columns([1, 2])
    with picture:
        controls.example_card(data, settings)
        st.metric("Loss of the caption", f"{trace.forward.loss:.3f}")
    with source:
        st.markdown(
            "**The code that computed these gradients**: `rnn_backward` of `core/engine/rnn_layers.py`, "
            "each line coloured like what it computes, and the derivative f′ it calls. Wh and Wx are shared "
            "by every step, so their gradients are sums over time: dWh = Σₜ h_{t-1}ᵀ daₜ and dWx = Σₜ xₜᵀ daₜ."
        )
        loop, derivative = code.backward_code(settings.activation)
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
