"""The caption gallery: trained models caption train and val images; how sampling, teacher forcing and
the image itself shape what they say; compose a scene and have it captioned."""

import streamlit as st

import ui
from core.captioning import (
    caption_scene,
    gallery_items,
    generate_caption,
    image_ablation,
    recipe_caption_indices,
    scenes_by_row,
    teacher_forcing_vs_free,
)
from core.pretrained import val_score
from core.scenes import BACKGROUNDS, COLOURS, SHAPES, SIZES, Scene, SceneObject, check_caption
from explainer import gallery

RECIPES = ("full", "overfit")
MODEL_LABELS = {
    "full": "Trained on the whole training set",
    "overfit": "Overfit: 50 training captions (the notebook's small-data model)",
}
# COCO has 40k val images; scoring greedy captions of the first thousand keeps the first load short.
MAX_VAL_IMAGES = 1000
DEFAULT_POSITIONS = ((0.25, 0.35), (0.72, 0.3), (0.5, 0.75))


@st.cache_resource(show_spinner=False, max_entries=4)
def scores_of(recipe: str, source: str, _model, _data):
    """core.pretrained.val_score of a trained model, once per recipe and dataset (read-only ValScore)."""
    return val_score(_model, _data, max_images=MAX_VAL_IMAGES)


@st.cache_resource(show_spinner=False, max_entries=4)
def scenes_of(split: str, base_dir: str, _data):
    """{feature row: Scene} of the embedded dataset's split (None for COCO), shared read-only."""
    return scenes_by_row(_data, split)


def models_and_scores(data: dict) -> dict:
    """Both trained models (trained once with a progress bar, then cached) and the table of their val scores."""
    models = {recipe: ui.get_trained_model(recipe) for recipe in RECIPES}
    with st.spinner("Scoring both models on the val images…"):
        scores = {MODEL_LABELS[r]: scores_of(r, str(data.get("source")), models[r], data) for r in RECIPES}
    st.dataframe(gallery.score_rows(scores), hide_index=True, width="stretch", key="gallery.scores")
    return models


def controls() -> dict:
    """The model, split, number of images, decoding and top-k settings."""
    left, middle, right = st.columns(3)
    recipe = left.radio("Model", RECIPES, format_func=MODEL_LABELS.get, key="gallery.model")
    split = left.radio("Images from", ("train", "val"), horizontal=True, key="gallery.split")
    count = middle.slider("Images", 1, 12, 6, key="gallery.count")
    if "gallery.image_seed" not in st.session_state:
        st.session_state["gallery.image_seed"] = 0
    if middle.button("🔀 Other images", key="gallery.shuffle"):
        st.session_state["gallery.image_seed"] += 1
    temperature = right.slider(
        "Temperature (0 = greedy)",
        0.0,
        2.0,
        0.0,
        step=0.1,
        key="gallery.temperature",
        help="Greedy takes the most probable word each step; a temperature above 0 draws it from the softmax.",
    )
    seed = right.number_input("Sampling seed", 0, 10_000, 0, key="gallery.seed", disabled=temperature == 0)
    k = right.slider("Candidate words shown per step (k)", 1, 10, 5, key="gallery.k")
    return {
        "recipe": recipe,
        "split": split,
        "count": count,
        "image_seed": st.session_state["gallery.image_seed"],
        "temperature": temperature,
        "seed": int(seed),
        "k": k,
    }


def gallery_tab(items, model, settings, data, scenes) -> None:
    idx_to_word = data["idx_to_word"]
    columns = st.columns(3)
    for i, item in enumerate(items):
        caption = generate_caption(
            model, item.feature, settings["temperature"], settings["seed"], settings["k"]
        )
        with columns[i % 3], st.container(border=True):
            ui.show_image(item.source, base_dir=data.get("base_dir"))
            st.markdown(f"**Model:** {caption.text or '(empty caption)'}")
            if scenes is not None:
                st.caption(gallery.check_text(check_caption(caption.text, scenes[item.row])))
            st.markdown("**Ground truth:**\n" + "\n".join(f"- {text}" for text in item.truths))
            with st.expander("Word by word: top-k probabilities"):
                st.plotly_chart(
                    gallery.topk_figure(caption, idx_to_word), key=f"gallery.topk.{i}", width="stretch"
                )


def forcing_tab(item, model) -> None:
    st.markdown(
        "In training the RNN always reads the **ground-truth** previous word (teacher forcing). When it "
        "captions on its own it reads **its own** previous word. Both on the same image:"
    )
    choice = st.selectbox(
        "Ground-truth caption",
        range(len(item.truths)),
        format_func=lambda i: item.truths[i],
        key="gallery.truth",
    )
    div = teacher_forcing_vs_free(model, item.feature, item.captions[choice])
    st.markdown(gallery.divergence_text(div))
    st.plotly_chart(gallery.divergence_figure(div), key="gallery.divergence", width="stretch")


def ablation_tab(item, model) -> None:
    st.markdown(
        "Zero the image feature and the first hidden state becomes just the projection's bias: what is left "
        "is the language model the RNN learned from the captions."
    )
    ablation = image_ablation(model, item.feature)
    st.markdown(gallery.ablation_text(ablation))
    st.plotly_chart(gallery.ablation_figure(ablation), key="gallery.ablation", width="stretch")


def compose_tab(model, settings, data) -> None:
    if data.get("source") != "embedded":
        st.info(
            "Composing a scene works with the embedded shape dataset, whose features are computed from the "
            "pixels by this project. The COCO features come from VGG-16, which is not part of the app."
        )
        return
    count = st.radio("Objects", (1, 2, 3), index=1, horizontal=True, key="compose.count")
    background = st.selectbox("Background", list(BACKGROUNDS), key="compose.background")
    objects = []
    for i in range(count):
        shape, colour, size, x, y = st.columns(5)
        default_x, default_y = DEFAULT_POSITIONS[i]
        objects.append(
            SceneObject(
                shape=shape.selectbox(
                    f"Shape {i + 1}", SHAPES, index=i % len(SHAPES), key=f"compose.shape.{i}"
                ),
                colour=colour.selectbox(
                    f"Colour {i + 1}", list(COLOURS), index=(2 * i) % len(COLOURS), key=f"compose.colour.{i}"
                ),
                size=size.selectbox(f"Size {i + 1}", SIZES, index=i % len(SIZES), key=f"compose.size.{i}"),
                x=x.slider(f"x {i + 1} (left → right)", 0.1, 0.9, default_x, key=f"compose.x.{i}"),
                y=y.slider(f"y {i + 1} (top → bottom)", 0.1, 0.9, default_y, key=f"compose.y.{i}"),
            )
        )
    composed = caption_scene(
        model,
        Scene(tuple(objects), background=background),
        settings["temperature"],
        settings["seed"],
        settings["k"],
    )
    picture, words = st.columns([1, 2])
    with picture:
        st.image(composed.image, caption="Your scene, rendered as the dataset's images are", width=256)
    with words:
        st.markdown(f"**Model:** {composed.caption.text or '(empty caption)'}")
        st.markdown(gallery.check_text(composed.check))
        st.caption("Overlapping shapes are drawn on top of each other; the training scenes never overlap.")
        st.plotly_chart(
            gallery.topk_figure(composed.caption, data["idx_to_word"]),
            key="gallery.compose.topk",
            width="stretch",
        )


def page() -> None:
    st.title("🖼️ Caption gallery")
    st.markdown(
        "Two trained models caption images they were trained on and images they never saw. The overfit "
        "model memorised 50 captions: perfect on those, nonsense elsewhere. The properly trained one "
        "generalises. Below, look inside a caption: the words it weighed, where free sampling leaves the "
        "ground truth, and what it says with the image taken away."
    )
    data = ui.get_dataset()
    models = models_and_scores(data)
    settings = controls()
    model = models[settings["recipe"]]
    indices = recipe_caption_indices(data, settings["recipe"]) if settings["split"] == "train" else None
    if indices is not None:
        st.caption(f"Train images of the overfit model are the {len(indices)} captions it was trained on.")
    items = gallery_items(data, settings["split"], settings["count"], settings["image_seed"], indices)
    base_dir = data.get("base_dir")
    scenes = scenes_of(settings["split"], str(base_dir), data)

    tabs = st.tabs(["Gallery", "Teacher forcing vs free sampling", "Image ablation", "Compose a scene"])
    with tabs[0]:
        gallery_tab(items, model, settings, data, scenes)
    focus = st.sidebar.selectbox(
        "Image for the detailed tabs",
        range(len(items)),
        format_func=lambda i: f"#{i + 1}: {items[i].truths[0]}",
        key="gallery.focus",
    )
    with tabs[1], ui.friendly_errors("teacher forcing"):
        ui.show_image(items[focus].source, base_dir=base_dir, width=200)
        forcing_tab(items[focus], model)
    with tabs[2], ui.friendly_errors("the ablation"):
        ui.show_image(items[focus].source, base_dir=base_dir, width=200)
        ablation_tab(items[focus], model)
    with tabs[3], ui.friendly_errors("the scene"):
        compose_tab(model, settings, data)


ui.setup_page("Caption gallery", "🖼️")
with ui.friendly_errors("the caption gallery"):
    page()
