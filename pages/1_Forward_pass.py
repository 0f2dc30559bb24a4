"""The forward pass of one caption, step by step."""

import streamlit as st

import ui
from explainer import code, forward, text
from ui import controls


def page() -> None:
    ui.page_title(ui.FORWARD_PASS)
    st.markdown(
        "The RNN reads the ground-truth caption one word per step (teacher forcing). At each step it "
        "combines the word it reads with its memory of the words before, then scores every word of the "
        "vocabulary as the next one. Step through time and watch the numbers."
    )
    data = ui.get_dataset()
    settings, fields = controls.controls(data)
    trace = ui.get_trace(settings.split, settings.index, settings.activation, settings.choice, settings.sizes)
    fwd = trace.forward
    model = ui.get_model(settings.choice, settings.sizes)
    idx_to_word = data["idx_to_word"]

    t = ui.timestep_control(settings.num_steps, label="Timestep t (0 = the image)")
    picture, network = st.columns([1, 3])
    with picture:
        controls.example_card(data, settings)
    with network:
        st.plotly_chart(forward.unrolled_network(fwd, idx_to_word, t), key="forward.network", width="stretch")

    st.markdown(text.forward_step_summary(fwd, idx_to_word, t))
    st.latex(code.equation_latex(settings.activation, max(t, 1)))
    numbers, source = st.columns([3, 2])
    with numbers:
        st.plotly_chart(forward.equation_figure(fwd, t), key="forward.equation", width="stretch")
    with source:
        st.markdown(
            "**The code that computed these numbers**: `rnn_forward` of `core/engine/rnn_layers.py` "
            "(vectors are rows, so Wx·xₜ is `x @ Wx`), and the activation it calls"
        )
        loop, activation = code.forward_code(settings.activation)
        st.html(code.code_html(loop))
        st.html(code.code_html(activation))
        if settings.sizes == "real":
            st.caption("Real sizes: hover a cell for its value. Choose readable numbers to see them all.")

    prediction, losses = st.columns([2, 3])
    with prediction:
        if t == 0:
            st.info("At t = 0 nothing is predicted yet: the image only sets the first hidden state h₀.")
        else:
            st.plotly_chart(forward.topk_figure(fwd, idx_to_word, t), key="forward.topk", width="stretch")
    with losses:
        st.plotly_chart(forward.loss_figure(fwd, t), key="forward.loss", width="stretch")
        st.metric("Loss of the caption (sum over unmasked steps)", f"{fwd.loss:.3f}")

    with st.expander(
        "How big is it? Parameters and memory for these sizes", expanded=settings.sizes == "readable"
    ):
        st.markdown(text.sizes_markdown(model, settings.num_steps))

    controls.save_and_link(fields, ui.BACKPROP, "Next: backprop through time with this example")


ui.setup_page(ui.FORWARD_PASS)
with ui.friendly_errors("the forward pass"):
    page()
