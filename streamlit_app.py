"""Home page: what the app teaches, in what order, with which data and models."""

import streamlit as st

import ui
from core.data import decode_captions, first_captions_of_images
from explainer.text import sizes_markdown

LESSONS = [
    (
        "pages/1_Forward_pass.py",
        "➡️",
        "1 · The forward pass, step by step",
        "How an Elman cell reads a caption: h_t = f(Wx·x_t + Wh·h_{t-1} + b) with this example's numbers, "
        "the next-word probabilities, and the loss with <NULL> padding masked.",
    ),
    (
        "pages/2_Backprop_through_time.py",
        "⬅️",
        "2 · Backprop through time",
        "The gradient flowing back through the steps: what each loss sends in, what survives f'(a) and Whᵀ, "
        "why gradients vanish or explode, and how dWh sums over time.",
    ),
    (
        "pages/3_Activation_race.py",
        "🏁",
        "3 · Activation race",
        "Train tanh and sigmoid side by side, live, on the same data and see which one learns.",
    ),
    (
        "pages/4_Caption_gallery.py",
        "🖼️",
        "4 · Caption gallery",
        "What the trained and the overfit models say about training and validation images.",
    ),
    (
        "pages/5_Gradient_check_lab.py",
        "🔬",
        "5 · Gradient-check lab",
        "Numeric vs analytic gradients for every layer, and a deliberate bug for the check to catch.",
    ),
]


def lesson_links() -> None:
    """One link per page, in teaching order."""
    for path, icon, label, blurb in LESSONS:
        with st.container(border=True):
            st.page_link(path, label=label, icon=icon)
            st.caption(blurb)


def dataset_section(data: dict) -> None:
    st.subheader("The data")
    st.markdown(ui.dataset_summary(data))
    if data.get("source") == "coco":
        st.markdown(
            "These are the COCO 2014 captions of the CS231n exercise; each image is represented by its "
            "VGG-16 fc7 feature reduced to 512 numbers by PCA. Images are loaded from their URLs."
        )
    else:
        st.markdown(
            "No COCO files were found, so the app uses its **embedded dataset**: scenes of coloured shapes "
            "rendered on this machine, with captions that describe them and 512-d image features, stored "
            "in the same layout as the course's files. Everything works offline."
        )
        st.info(ui.how_to_get_coco(), icon="📦")
    samples = st.columns(4)
    for column, index in zip(samples, first_captions_of_images(data["train_image_idxs"], 4), strict=False):
        caption, _, source = ui.example("train", index)
        with column:
            ui.show_image(
                source, caption=decode_captions(caption, data["idx_to_word"]), base_dir=data.get("base_dir")
            )


# The quick overfit model first (seconds), then the full one (about a minute): the gallery needs both.
TRAINING_ORDER = ("overfit", "full")


def model_section(data: dict) -> None:
    st.subheader("The models")
    st.markdown(
        "Every model is a vanilla RNN (Elman cell) captioner: image feature → h₀, then one step per word. "
        "The explainer pages (1 and 2) let you choose the model they trace:\n"
        "- **Freshly initialised** (seed 0): what the network computes before any training.\n"
        "- **Trained on this dataset**: with *readable numbers* (W = H = 8) it is trained in a second or two "
        "on first use, so every number fits on screen; with *real sizes* it is the fully trained model below."
    )
    num_steps = data["train_captions"].shape[1] - 1
    readable, real = st.columns(2)
    with readable, st.expander("Readable model: sizes, parameters and memory"):
        st.markdown(sizes_markdown(ui.get_model("fresh", "readable"), num_steps))
    with real, st.expander("Real-size model: sizes, parameters and memory"):
        st.markdown(sizes_markdown(ui.get_model("fresh", "real"), num_steps))
    st.markdown(
        "The caption gallery (page 4) compares two trained models. They are trained once on this server, "
        "in the background from the moment this page first opens, and cached on disk, so they are "
        "usually ready by the time you get there. Their status:"
    )
    ui.show_training(TRAINING_ORDER)


def home() -> None:
    st.title("🔁 Vanilla RNNs for image captioning, explained")
    st.markdown(
        "An interactive companion to the CS231n exercise *RNN_Captioning*: a recurrent network "
        "(an Elman cell) that turns an image into a sentence, one word at a time. Every number you see "
        "is computed by the same NumPy code the exercise asks you to write. Follow the pages in order:"
    )
    lesson_links()
    data = ui.get_dataset()
    dataset_section(data)
    model_section(data)


ui.setup_page("Home", "🔁")
with ui.friendly_errors("the home page"):
    home()
