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
        "vocabulary as the next one. Step through time and watch the numbers."
    )
    data = ui.get_dataset()
    settings, fields = controls.controls(data)
    model = ui.get_model(settings.choice, settings.sizes)
    views = stepped_views.forward_data(settings)

    picture, source = st.columns([1, 2])
    with picture:
        controls.example_card(data, settings)
    with source:
        st.markdown(
            "**The code that computed these numbers**: `rnn_forward` of `core/engine/rnn_layers.py` "
            "(vectors are rows, so Wx·xₜ is `x @ Wx`), and the activation it calls"
        )
        loop, activation = code.forward_code(settings.activation)
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
            fields, ui.BACKPROP, "Next: backprop through time with this example", with_step=False
        ),
        key="forward.stepper",
    )
    trace = ui.get_trace(settings.split, settings.index, settings.activation, settings.choice, settings.sizes)
    st.metric("Loss of the caption (sum over unmasked steps)", f"{trace.forward.loss:.3f}")
    with st.expander(
        "How big is it? Parameters and memory for these sizes", expanded=settings.sizes == "readable"
    ):
        st.markdown(text.sizes_markdown(model, settings.num_steps))


ui.setup_page(ui.FORWARD_PASS)
with ui.friendly_errors("the forward pass"):
    page()
