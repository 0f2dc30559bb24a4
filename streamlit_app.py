"""Home page: what the app teaches, in what order, with which data and models."""

import streamlit as st

import ui
from core.data.coco_utils import decode_captions, first_captions_of_images
from core.lab.trained_models import recipe_config
from explainer.text import sizes_markdown
from ui.resources import FRESH_SIZES, TRAINED_RECIPE


def lesson_links() -> None:
    """One card per lesson of ui.registry, in teaching order."""
    for number, lesson in enumerate(ui.LESSONS, start=1):
        with st.container(border=True):
            st.page_link(lesson.path, label=f"{number} · {lesson.title}", icon=lesson.icon)
            st.caption(lesson.description)


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


# The quick models first (seconds), then the full vanilla and LSTM ones (about a minute each): the
# explainer pages use the readable and overfit ones, the gallery the overfit, full and LSTM ones.
TRAINING_ORDER = ("readable", "overfit", "full", "lstm")


def model_section(data: dict) -> None:
    st.subheader("The models")
    (small_w, small_h), (real_w, real_h) = FRESH_SIZES["readable"], FRESH_SIZES["real"]
    readable = recipe_config(TRAINED_RECIPE["rnn", "readable"])
    overfit = recipe_config(TRAINED_RECIPE["rnn", "real"])
    lstm_overfit = recipe_config(TRAINED_RECIPE["lstm", "real"])
    st.markdown(
        "Every model is a captioner with a vanilla RNN (Elman) cell or an LSTM cell: image feature → h₀, then "
        "one step per word. The explainer pages (1 and 2) let you choose the cell and the model they trace:\n"
        "- **Freshly initialised** (seed 0): what the network computes before any training.\n"
        f"- **Trained**: with *readable* sizes (W = {small_w}, H = {small_h}) it is trained on "
        f"{readable['num_iterations']} minibatches of {readable['batch_size']} captions drawn from the whole "
        "training set, in a second or two on first use, so every number fits on screen; at the *notebook's* "
        f"sizes (W = {real_w}, H = {real_h}) it is the notebook's own run, the overfit model below: "
        f"{overfit['max_train']} captions, {overfit['num_iterations']} iterations. With the LSTM cell they are "
        "the same runs with an LSTM, trained when the LSTM is first chosen there; at the notebook's sizes it is "
        f"LSTM_Captioning's run, whose learning rate decays by {lstm_overfit['lr_decay']:g} an epoch (by "
        f"{overfit['lr_decay']:g} in RNN_Captioning's)."
    )
    num_steps = data["train_captions"].shape[1] - 1
    readable, real = st.columns(2)
    with readable, st.expander("Readable model: sizes, parameters and memory"):
        st.markdown(sizes_markdown(ui.get_model("fresh", "readable"), num_steps))
    with real, st.expander("Model at the notebook's sizes: parameters and memory"):
        st.markdown(sizes_markdown(ui.get_model("fresh", "real"), num_steps))
    st.markdown(
        "The trained models are trained once on this server, in the background from the moment this page "
        "first opens, and stored on disk, so they are usually ready by the time you need them: the readable "
        "and the overfit one for pages 1 and 2 (vanilla cell), the overfit, the full and the LSTM one for the "
        "caption gallery "
        "(page 4). "
        "Their status:"
    )
    ui.show_training(TRAINING_ORDER)


def home() -> None:
    ui.page_title(ui.HOME)
    st.markdown(
        "An interactive companion to the CS231n exercises *RNN_Captioning* and *LSTM_Captioning*: a recurrent "
        "network (a vanilla Elman cell, or an LSTM) that turns an image into a sentence, one word at a time. "
        "Every number you see "
        "is computed by the same NumPy code the exercise asks you to write. Follow the pages in order:"
    )
    lesson_links()
    data = ui.get_dataset()
    dataset_section(data)
    model_section(data)


ui.setup_page(ui.HOME)
with ui.friendly_errors("the home page"):
    home()
