"""The caption gallery: trained models caption train and val images; how sampling, teacher forcing and
the image itself shape what they say; compose a scene and have it captioned."""

import streamlit as st

import ui
from core.data.scenes.check import check_caption
from core.data.scenes.spec import BACKGROUNDS, COLOURS, SHAPES, SIZES, Scene, SceneObject
from core.lab.captioning import (
    caption_scene,
    gallery_items,
    generate_caption,
    image_ablation,
    recipe_caption_indices,
    teacher_forcing_vs_free,
)
from explainer import gallery
from explainer.escape import MAX_SENTENCE, plain
from ui import url_state

RECIPES = ("full", "overfit")
SPLITS = ("train", "val")
MAX_IMAGES = 12
MAX_SEED = 10_000
DEFAULT_POSITIONS = ((0.25, 0.35), (0.72, 0.3), (0.5, 0.75))


def models_and_scores(data: dict) -> dict:
    """Both trained models (trained once in the background, progress shown until ready) and their val scores."""
    models = ui.trained_models(*RECIPES)
    with st.spinner("Scoring both models on the val images…"):
        scores = {
            ui.RECIPE_LABELS[r]: ui.gallery.scores_of(r, str(data.get("source")), models[r], data)
            for r in RECIPES
        }
    st.dataframe(gallery.score_rows(scores), hide_index=True, width="stretch", key="gallery.scores")
    return models


def url_fields() -> list[url_state.Field]:
    """The gallery's view in the URL: model, split, how many images and which page of them, decoding."""
    return [
        url_state.choice("recipe", "full", RECIPES, "model"),
        url_state.choice("split", "train", SPLITS, "images from"),
        url_state.integer("images", 6, 1, MAX_IMAGES, "number of images"),
        url_state.integer("page", 0, 0, MAX_SEED, "page of images"),
        url_state.number("temperature", 0.0, 0.0, 2.0, "temperature"),
        url_state.integer("seed", 0, 0, MAX_SEED, "sampling seed"),
        url_state.integer("k", 5, 1, 10, "candidate words per step"),
    ]


def focus_field(count: int) -> url_state.Field:
    """The image the detailed tabs explain, one of the `count` shown (its index in the gallery)."""
    return url_state.integer("image", 0, 0, count - 1, "image for the detailed tabs")


def _next_page() -> None:
    url_state.set("page", (url_state.get("page") + 1) % (MAX_SEED + 1))


def controls() -> dict:
    """The model, split, number of images, decoding and top-k widgets, bound to the URL; returns the
    decoding settings (the widgets write the rest to the URL fields, read before they are drawn)."""
    left, middle, right = st.columns(3)
    left.radio("Model", RECIPES, format_func=ui.RECIPE_LABELS.get, **url_state.bind("recipe"))
    left.radio("Images from", SPLITS, horizontal=True, **url_state.bind("split"))
    middle.slider("Images", 1, MAX_IMAGES, **url_state.bind("images"))
    middle.button("🔀 Other images", key="gallery.shuffle", on_click=_next_page)
    temperature = right.slider(
        "Temperature (0 = greedy)",
        0.0,
        2.0,
        step=0.1,
        help="Greedy takes the most probable word each step; a temperature above 0 draws it from the softmax.",
        **url_state.bind("temperature"),
    )
    right.number_input("Sampling seed", 0, MAX_SEED, disabled=temperature == 0, **url_state.bind("seed"))
    right.slider("Candidate words shown per step (k)", 1, 10, **url_state.bind("k"))
    return {
        "temperature": float(url_state.get("temperature")),
        "seed": int(url_state.get("seed")),
        "k": int(url_state.get("k")),
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
            # Captions are words of the dataset's vocabulary: shown as text (escaped), never as Markdown.
            st.markdown(f"**Model:** {plain(caption.text, MAX_SENTENCE) or '(empty caption)'}")
            if scenes is not None:
                st.caption(gallery.check_text(check_caption(caption.text, scenes[item.row])))
            st.markdown(
                "**Ground truth:**\n" + "\n".join(f"- {plain(text, MAX_SENTENCE)}" for text in item.truths)
            )
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
        st.markdown(f"**Model:** {plain(composed.caption.text, MAX_SENTENCE) or '(empty caption)'}")
        st.markdown(gallery.check_text(composed.check))
        st.caption("Overlapping shapes are drawn on top of each other; the training scenes never overlap.")
        st.plotly_chart(
            gallery.topk_figure(composed.caption, data["idx_to_word"]),
            key="gallery.compose.topk",
            width="stretch",
        )


def page() -> None:
    ui.page_title(ui.GALLERY)
    st.markdown(
        "Two trained models caption images they were trained on and images they never saw. The overfit "
        "model memorised 50 captions: perfect on those, nonsense elsewhere. The properly trained one "
        "generalises. Below, look inside a caption: the words it weighed, where free sampling leaves the "
        "ground truth, and what it says with the image taken away."
    )
    data = ui.get_dataset()
    notices: list[str] = []
    fields = url_fields()
    url_state.load(fields, notices)
    recipe, split = url_state.get("recipe"), url_state.get("split")
    indices = recipe_caption_indices(data, recipe) if split == "train" else None
    items = gallery_items(data, split, int(url_state.get("images")), int(url_state.get("page")), indices)
    fields.append(focus_field(len(items)))
    url_state.load(fields[-1:], notices)
    url_state.notify(notices)

    models = models_and_scores(data)
    settings = controls()
    model = models[recipe]
    if indices is not None:
        st.caption(f"Train images of the overfit model are the {len(indices)} captions it was trained on.")
    base_dir = data.get("base_dir")
    scenes = ui.gallery.scenes_of(split, str(base_dir), data)

    tabs = st.tabs(["Gallery", "Teacher forcing vs free sampling", "Image ablation", "Compose a scene"])
    with tabs[0]:
        gallery_tab(items, model, settings, data, scenes)
    st.sidebar.selectbox(
        "Image for the detailed tabs",
        range(len(items)),
        format_func=lambda i: f"#{i + 1}: {items[i].truths[0]}",
        **url_state.bind("image"),
    )
    chosen = items[int(url_state.get("image"))]
    with tabs[1], ui.friendly_errors("teacher forcing"):
        ui.show_image(chosen.source, base_dir=base_dir, width=200)
        forcing_tab(chosen, model)
    with tabs[2], ui.friendly_errors("the ablation"):
        ui.show_image(chosen.source, base_dir=base_dir, width=200)
        ablation_tab(chosen, model)
    with tabs[3], ui.friendly_errors("the scene"):
        compose_tab(model, settings, data)
    url_state.save(fields)


ui.setup_page(ui.GALLERY)
with ui.friendly_errors("the caption gallery"):
    page()
