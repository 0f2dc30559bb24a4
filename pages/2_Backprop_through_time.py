"""Backpropagation through time for one caption, stepping backward from the last word."""

import streamlit as st

import ui
from explainer import backward, code, text
from ui import controls, url_state


def page() -> None:
    ui.page_title(ui.BACKPROP)
    st.markdown(
        "The loss of every step sends a gradient into its hidden state; each step also passes the gradient "
        "it received back to the step before, through f'(a) and Whᵀ. Step backward from the last word and "
        "see what survives the journey. Scale Wh to make gradients vanish or explode."
    )
    data = ui.get_dataset()
    num_steps = data["train_captions"].shape[1] - 1
    settings, fields = controls.controls(data, t_default=num_steps, extra_fields=[controls.wh_field()])

    scale, radius = st.columns([2, 3], vertical_alignment="center")
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
    bwd = trace.backward
    with radius:
        st.markdown(text.spectral_markdown(trace.spectral_radius, wh_scale, settings.activation))

    t = ui.timestep_control(
        settings.num_steps, direction=-1, label="Timestep t (backprop goes from T down to 0)"
    )
    picture, summary = st.columns([1, 3])
    with picture:
        controls.example_card(data, settings)
    with summary:
        st.markdown(text.backward_step_summary(bwd, t))
        st.metric("Loss of the caption", f"{trace.forward.loss:.3f}")
        st.markdown(
            "**The code that computed these gradients**: `rnn_backward` of `core/engine/rnn_layers.py`, "
            "each line coloured like what it computes, and the derivative f′ it calls"
        )
        loop, derivative = code.backward_code(settings.activation)
        st.html(code.code_html(loop))
        st.html(code.code_html(derivative))

    heat, norms = st.columns(2)
    with heat:
        st.markdown("**dL/dh_t** for every step and hidden unit")
        st.plotly_chart(backward.gradient_heatmap(bwd, t), key="backprop.heatmap", width="stretch")
    with norms:
        st.markdown("**‖dL/dh_t‖**: from the loss at t, carried back from t + 1, and their sum")
        log_scale = st.toggle("Log scale", value=True, key="backprop.log")
        st.plotly_chart(
            backward.norms_figure(bwd, t, log_scale=log_scale), key="backprop.norms", width="stretch"
        )

    local, survive = st.columns(2)
    with local:
        st.markdown("**The local derivative f'(a_t)**: how much of a gradient passes through each unit")
        st.plotly_chart(
            backward.local_derivative_figure(bwd, t, settings.activation),
            key="backprop.fprime",
            width="stretch",
        )
    with survive:
        st.markdown("**How much of the gradient survives** each step back")
        st.plotly_chart(backward.survival_figure(bwd, t), key="backprop.survival", width="stretch")

    st.subheader("Each step's share of the weight gradients")
    st.markdown(
        "Wh and Wx are shared by every step, so their gradients are sums over time: dWh = Σₜ h_{t-1}ᵀ daₜ "
        "and dWx = Σₜ xₜᵀ daₜ. Stepping backward adds one term at a time; at t = 1 the sum is the total."
    )
    param = st.radio("Weight", ["Wh", "Wx"], horizontal=True, key="backprop.param")
    st.plotly_chart(backward.contributions_figure(bwd, t, param), key="backprop.contrib", width="stretch")
    st.caption(text.contribution_markdown(bwd, param, t))
    st.plotly_chart(backward.contribution_norms_figure(bwd, t), key="backprop.contrib_norms", width="stretch")

    controls.save_and_link(fields, ui.FORWARD_PASS, "Back to the forward pass with this example")


ui.setup_page(ui.BACKPROP)
with ui.friendly_errors("backprop through time"):
    page()
