"""The forward pass of one caption, step by step."""

import streamlit as st

import ui
from explainer import code, text
from ui import controls, stepped_views, stepper


def page() -> None:
    ui.page_title(ui.FORWARD_PASS)
    st.markdown(
        "The RNN reads the ground-truth caption one word per step (teacher forcing). At each step it "
        "combines the word it reads with its memory of the words before, then scores every word of the "
        "vocabulary as the next one. Step through time and watch the numbers. Choose the LSTM cell to see "
        "its gates decide what its cell state keeps, writes and shows."
    )
    data = ui.get_dataset()
    settings, fields = controls.controls(data, "forward.t")
    model = ui.get_model(settings.choice, settings.sizes, settings.cell)
    views = stepped_views.forward_data(settings)

    picture, source = st.columns([1, 2])
    with picture:
        controls.example_card(data, settings)
    with source:
        name = "lstm_forward" if settings.cell == "lstm" else "rnn_forward"
        st.markdown(
            f"**The code that computed these numbers**: `{name}` of `core/engine/rnn_layers.py` "
            "(vectors are rows, so Wx·xₜ is `x @ Wx`), and the nonlinearities it calls"
        )
        loop, activation = (
            code.lstm_forward_code() if settings.cell == "lstm" else code.forward_code(settings.activation)
        )
        st.html(code.code_html(loop))
        st.html(code.code_html(activation))
        if settings.sizes == "real":
            st.caption(
                "At the notebook's sizes: hover a cell for its value. Choose readable sizes to see them all."
            )

    stepper.stepped_view(
        views,
        fields,
        # Backprop opens where it starts, at the caption's last scored word.
        below=lambda: controls.link(
            fields,
            ui.BACKPROP,
            "Next: backprop through time with this example",
            step=controls.last_scored_step(settings.split, settings.index),
        ),
        key="forward.stepper",
    )
    trace = ui.get_trace(settings)
    st.metric("Loss of the caption (sum over unmasked steps)", f"{trace.forward.loss:.3f}")
    with st.expander(
        "How big is it? Parameters and memory for these sizes", expanded=settings.sizes == "readable"
    ):
        st.markdown(text.sizes_markdown(model, settings.num_steps))


ui.setup_page(ui.FORWARD_PASS)
with ui.friendly_errors("the forward pass"):
    page()
