"""The caption gallery: trained models caption train and val images; how sampling, teacher forcing and
the image itself shape what they say; compose a scene and have it captioned."""

import math

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
from explainer.table import html_table
from ui import url_state

# The overfit model trains in seconds, the full and the LSTM one in about a minute each: the first ready is
# shown while the others train. RECIPES is the order they are offered in.
TRAINING_ORDER = ("overfit", "full", "lstm")
RECIPES = ("full", "overfit", "lstm")
SPLITS = ("train", "val")
TEMPERATURE_STEP = 0.1
VIEWS = {
    "gallery": "Gallery",
    "words": "Word by word",
    "forcing": "Teacher forcing vs free sampling",
    "ablation": "Image ablation",
    "compose": "Compose a scene",
}
MAX_IMAGES = 12
MAX_SEED = 10_000
DEFAULT_POSITIONS = ((0.25, 0.35), (0.72, 0.3), (0.5, 0.75))
MAX_OBJECTS = len(DEFAULT_POSITIONS)
# Session key: {widget key: value} of every composing widget (keep_scene).
KEPT_SCENE = "compose.kept"
# Session key: (the model shown, the one to show once it is ready) while the model shown stands in for another:
# the page's own first choice for the best one ready (None), or "Meanwhile, show …" for the one asked for.
STAND_IN = "gallery.stand_in"


def recipe_field(ready: tuple) -> url_state.Field:
    """The model shown: the link's, else the first ready one in RECIPES' order (the full one once it is)."""
    return url_state.choice("recipe", next((r for r in RECIPES if r in ready), RECIPES[0]), RECIPES, "model")


def follow_ready(ready: tuple) -> None:
    """While the model shown stands in for another (STAND_IN), show that one once it is ready, and say so. A
    model the learner or a link chose since stays."""
    if STAND_IN not in st.session_state:
        return
    shown, awaited = st.session_state[STAND_IN]
    if url_state.get("recipe") != shown:
        del st.session_state[STAND_IN]
        return
    if awaited is None:
        best = recipe_field(ready).default
    else:
        best = awaited if awaited in ready else shown
    if best != shown:
        url_state.set("recipe", best)
        if awaited is None:
            st.session_state[STAND_IN] = (best, None)  # on to a better one when it is ready (full: the best)
        else:
            del st.session_state[STAND_IN]
        st.info(f"**{ui.RECIPE_LABELS[best]}** is ready: shown now.", icon="ℹ️")


def remember_pages_choice(chosen_by_page: bool) -> None:
    """The model just loaded stands in for the best one ready if neither the session nor the link had one."""
    if chosen_by_page and url_state.has("recipe"):
        st.session_state[STAND_IN] = (url_state.get("recipe"), None)


def _meanwhile(shown: str, awaited: str) -> None:
    url_state.set("recipe", shown)
    st.session_state[STAND_IN] = (shown, awaited)


def url_fields() -> list[url_state.Field]:
    """The gallery's view in the URL besides the model: split, how many images and which page of them,
    decoding, and the view open."""
    return [
        # A key of its own: the explainer pages' split picks their example; changed here, it would move it.
        url_state.choice("split", "train", SPLITS, "images from", key="gallery.split"),
        url_state.integer("images", 6, 1, MAX_IMAGES, "number of images"),
        url_state.integer("page", 0, 0, MAX_SEED, "page of images"),
        url_state.number("temperature", 0.0, 0.0, 2.0, TEMPERATURE_STEP, "temperature"),
        url_state.integer("seed", 0, 0, MAX_SEED, "sampling seed", key="gallery.seed"),
        url_state.integer("k", 5, 1, 10, "candidate words per step"),
        url_state.choice("view", "gallery", VIEWS, "view"),
    ]


def scene_text(background: str, objects) -> str:
    """A composed scene as the URL writes it: the background, then each object's shape, colour, size, x and y,
    e.g. "grey;triangle,purple,large,0.3,0.4;square,blue,small,0.7,0.6"."""
    return ";".join([background, *(f"{o.shape},{o.colour},{o.size},{o.x:g},{o.y:g}" for o in objects)])


def parse_scene(raw: str) -> tuple[str, list[SceneObject]]:
    """(background, objects) of a scene_text, or ValueError saying what is wrong (Markdown, the link's text
    quoted as text)."""
    background, *objects = raw.split(";")
    if background not in BACKGROUNDS:
        raise ValueError(f"must start with a background: {', '.join(BACKGROUNDS)}")
    if not 1 <= len(objects) <= MAX_OBJECTS:
        raise ValueError(f"must have 1 to {MAX_OBJECTS} objects after the background, separated by ;")
    parsed = []
    for text in objects:
        parts = text.split(",")
        if len(parts) != 5 or parts[0] not in SHAPES or parts[1] not in COLOURS or parts[2] not in SIZES:
            raise ValueError(
                f"has an object “{plain(text)}”: write shape,colour,size,x,y with a shape of {', '.join(SHAPES)}, "
                f"a colour of {', '.join(COLOURS)} and a size of {', '.join(SIZES)}"
            )
        try:
            x, y = (float(value) for value in parts[3:])
        except ValueError:
            x = y = math.nan
        if not all(0.1 <= v <= 0.9 and round(v, 2) == v for v in (x, y)):
            raise ValueError(
                f"has an object “{plain(text)}” whose x and y are not numbers from 0.1 to 0.9 in steps of 0.01"
            )
        parsed.append(SceneObject(*parts[:3], x=x, y=y))
    return background, parsed


def default_object(i: int) -> SceneObject:
    """The composer's object i before the learner changes it."""
    x, y = DEFAULT_POSITIONS[i]
    return SceneObject(
        SHAPES[i % len(SHAPES)], list(COLOURS)[(2 * i) % len(COLOURS)], SIZES[i % len(SIZES)], x, y
    )


def scene_field() -> url_state.Field:
    """The scene of "Compose a scene" (scene_text, kept as that text), so that a link opens the same scene."""
    return url_state.Field(
        "scene",
        scene_text(list(BACKGROUNDS)[0], [default_object(0), default_object(1)]),
        lambda raw: scene_text(*parse_scene(raw)),
        "composed scene",
    )


def _next_page() -> None:
    url_state.set("page", (url_state.get("page") + 1) % (MAX_SEED + 1))


def _explain(index: int) -> None:
    url_state.set("image", index + 1)
    url_state.set("view", "words")


def scores_table(models: dict, data: dict) -> None:
    """The val scores of the models that are ready (each computed once per server)."""
    with st.spinner("Scoring the models on the val images…"):
        scores = {
            ui.RECIPE_LABELS[r]: ui.gallery.scores_of(r, str(data.get("source")), models[r], data)
            for r in RECIPES
            if r in models
        }
    st.html(html_table(gallery.score_rows(scores)))


def controls() -> dict:
    """The model, split, number of images, decoding and top-k widgets, bound to the URL; returns the
    decoding settings (the widgets write the rest to the URL fields, read before they are drawn)."""
    left, middle, right = st.columns(3)
    left.radio("Model", RECIPES, format_func=ui.RECIPE_LABELS.get, **url_state.bind("recipe"))
    left.radio("Images from", SPLITS, horizontal=True, **url_state.bind("gallery.split"))
    middle.slider("Images", 1, MAX_IMAGES, **url_state.bind("images"))
    middle.button("🔀 Other images", key="gallery.shuffle", on_click=_next_page)
    temperature = right.slider(
        "Temperature (0 = greedy)",
        0.0,
        2.0,
        step=TEMPERATURE_STEP,
        help="Greedy takes the most probable word each step; a temperature above 0 draws it from the softmax. "
        "Every view that generates a caption uses it.",
        **url_state.bind("temperature"),
    )
    right.number_input(
        "Sampling seed", 0, MAX_SEED, disabled=temperature == 0, **url_state.bind("gallery.seed")
    )
    right.slider("Candidate words shown per step (k)", 1, 10, **url_state.bind("k"))
    return {
        "temperature": float(url_state.get("temperature")),
        "seed": int(url_state.get("gallery.seed")),
        "k": int(url_state.get("k")),
    }


def gallery_view(items, model, settings, data, scenes) -> None:
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
            st.button(
                "Word by word →", key=f"gallery.explain.{i}", on_click=_explain, args=(i,), width="stretch"
            )


def chosen_image(items, data):
    """The image the detailed views explain, picked here next to them; drawn with its first caption."""
    picture, choice = st.columns([1, 3], vertical_alignment="center")
    choice.selectbox(
        "Image (one of the gallery's)",
        range(1, len(items) + 1),
        format_func=lambda number: f"#{number}: {gallery.shorten(items[number - 1].truths[0])}",
        **url_state.bind("image", options_of=".".join(f"{item.split}{item.row}" for item in items)),
    )
    item = items[int(url_state.get("image")) - 1]
    with picture:
        ui.show_image(item.source, base_dir=data.get("base_dir"), width=160)
    return item


def words_view(item, model, settings, data) -> None:
    caption = generate_caption(model, item.feature, settings["temperature"], settings["seed"], settings["k"])
    st.markdown(
        f"**Model:** {plain(caption.text, MAX_SENTENCE) or '(empty caption)'}, "
        f"{gallery.sampling_text(settings['temperature'], settings['seed'])}. Each row is one step: the "
        "word it chose and the words it weighed."
    )
    st.html(gallery.candidates_html(caption, data["idx_to_word"]))


def forcing_view(item, model, settings) -> None:
    st.markdown(
        "In training the RNN always reads the **ground-truth** previous word (teacher forcing). When it "
        "captions on its own it reads **its own** previous word, here "
        f"{gallery.sampling_text(settings['temperature'], settings['seed'])}. Both on the same image:"
    )
    st.selectbox(
        "Ground-truth caption",
        range(len(item.truths)),
        format_func=lambda i: item.truths[i],
        **url_state.bind("truth", options_of=f"{item.split}.{item.row}"),
    )
    div = teacher_forcing_vs_free(
        model,
        item.feature,
        item.captions[int(url_state.get("truth"))],
        temperature=settings["temperature"],
        seed=settings["seed"],
    )
    st.markdown(gallery.divergence_text(div, item.truths))
    ui.plotly_figure(gallery.divergence_figure(div), key="gallery.divergence")


def ablation_view(item, model, settings) -> None:
    st.markdown(
        "Zero the image feature and the first hidden state becomes just the projection's bias: what is left "
        "is the language model the RNN learned from the captions. Both captions are generated the same way: "
        f"{gallery.sampling_text(settings['temperature'], settings['seed'])}."
    )
    ablation = image_ablation(model, item.feature, temperature=settings["temperature"], seed=settings["seed"])
    st.markdown(gallery.ablation_text(ablation))
    ui.plotly_figure(gallery.ablation_figure(ablation), key="gallery.ablation")


def compose_view(model, settings, data) -> None:
    if data.get("source") != "embedded":
        st.info(
            "Composing a scene works with the embedded shape dataset, whose features are computed from the "
            "pixels by this project. The COCO features come from VGG-16, which is not part of the app."
        )
        return
    keep_scene()
    count = st.radio("Objects", range(1, MAX_OBJECTS + 1), horizontal=True, **kept_widget("compose.count"))
    background = st.selectbox("Background", list(BACKGROUNDS), **kept_widget("compose.background"))
    objects = []
    for i in range(count):
        shape, colour, size, x, y = st.columns(5)
        objects.append(
            SceneObject(
                shape=shape.selectbox(f"Shape {i + 1}", SHAPES, **kept_widget(f"compose.shape.{i}")),
                colour=colour.selectbox(
                    f"Colour {i + 1}", list(COLOURS), **kept_widget(f"compose.colour.{i}")
                ),
                size=size.selectbox(f"Size {i + 1}", SIZES, **kept_widget(f"compose.size.{i}")),
                # The arrows say which way a position grows (left to right, top to bottom) in a label that stays
                # on one line in a fifth of a 1024 px page.
                x=x.slider(
                    f"x {i + 1} →", 0.1, 0.9, help="0.1 left … 0.9 right", **kept_widget(f"compose.x.{i}")
                ),
                y=y.slider(
                    f"y {i + 1} ↓", 0.1, 0.9, help="0.1 top … 0.9 bottom", **kept_widget(f"compose.y.{i}")
                ),
            )
        )
    url_state.set("scene", scene_text(background, objects))
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
    st.html(gallery.candidates_html(composed.caption, data["idx_to_word"]))


def keep_scene() -> None:
    """Keep {widget key: value} of every composing widget in the session (KEPT_SCENE): Streamlit drops the
    state of the widgets it does not draw (another view or page open, fewer objects), and these values bring
    them back as the learner left them. Taken from the URL's scene when it came from the URL (a link, Back or
    Forward), with the defaults' objects for those it has not."""
    times = url_state.times_from_url("scene")
    if st.session_state.get("compose.from_url") != times or KEPT_SCENE not in st.session_state:
        st.session_state["compose.from_url"] = times
        background, objects = parse_scene(url_state.get("scene"))
        values = {"compose.count": len(objects), "compose.background": background}
        for i in range(MAX_OBJECTS):
            shown = objects[i] if i < len(objects) else default_object(i)
            values |= {
                f"compose.{name}.{i}": getattr(shown, name) for name in ("shape", "colour", "size", "x", "y")
            }
        st.session_state[KEPT_SCENE] = values


def kept_widget(key: str) -> dict:
    """Keyword arguments for a composing widget: it shows its kept value (keep_scene), which its changes update."""
    st.session_state[key] = st.session_state[KEPT_SCENE][key]
    return {"key": key, "on_change": _keep, "args": (key,)}


def _keep(key: str) -> None:
    st.session_state[KEPT_SCENE][key] = st.session_state[key]


def save_url(fields: list[url_state.Field]) -> None:
    """The page's settings to the URL; the scene only while it is composed (a link to another view carries
    none)."""
    composing = url_state.get("view") == "compose"
    url_state.save(
        [f for f in fields if f.name != "scene" or composing],
        without=[] if composing else [f for f in fields if f.name == "scene"],
    )


def waiting_for(recipe: str, models: dict) -> None:
    """The model the link or the learner chose is still training (its progress is drawn above)."""
    st.info(f"**{ui.RECIPE_LABELS[recipe]}** is still training; its progress is shown above.")
    for other in models:
        st.button(
            f"Meanwhile, show {ui.RECIPE_LABELS[other]}",
            key=f"gallery.use.{other}",
            on_click=_meanwhile,
            args=(other, recipe),
        )


def page() -> None:
    ui.page_title(ui.GALLERY)
    st.markdown(
        "Three trained models caption images they were trained on and images they never saw. The overfit "
        "model memorised 50 captions: perfect on those, nonsense elsewhere. The properly trained vanilla RNN "
        "and LSTM generalise. Below, look inside a caption: the words it weighed, where free sampling leaves "
        "the ground truth, and what it says with the image taken away."
    )
    data = ui.get_dataset()
    notices: list[str] = []
    fields = url_fields()
    ready = ui.ready_recipes(*TRAINING_ORDER)
    follow_ready(ready)
    chosen_by_page = not url_state.has("recipe") and "recipe" not in st.query_params
    # The model is chosen once one is ready (the first ready one, unless the link names one), so that
    # waiting for the first does not fix the choice to a model still training.
    if ready or not chosen_by_page:
        fields.insert(0, recipe_field(ready))
    url_state.load(fields, notices)
    remember_pages_choice(chosen_by_page)
    models = ui.ready_models(*TRAINING_ORDER)
    if not models:
        url_state.notify(notices)
        st.stop()  # the progress of both is drawn; the page reruns when the first is ready
    if fields[0].name != "recipe":
        fields.insert(0, recipe_field(tuple(models)))
        url_state.load(fields[:1], notices)
        remember_pages_choice(chosen_by_page)
    recipe, split = url_state.get("recipe"), url_state.get("gallery.split")
    indices = recipe_caption_indices(data, recipe) if split == "train" else None
    items = gallery_items(data, split, int(url_state.get("images")), int(url_state.get("page")), indices)
    # Numbered from 1 in the link, as the image selector numbers them (#1, #2, …).
    fields.append(url_state.integer("image", 1, 1, len(items), "image for the detailed views"))
    dropped = url_state.load_one(fields[-1], notices)
    if dropped is not None:
        st.info(
            f"Only {len(items)} image{'s are' if len(items) > 1 else ' is'} shown now, so the detailed views "
            f"explain #{url_state.get('image')} instead of #{dropped}.",
            icon="ℹ️",
        )
    chosen = items[int(url_state.get("image")) - 1]
    fields.append(url_state.integer("truth", 0, 0, len(chosen.truths) - 1, "ground-truth caption"))
    fields.append(scene_field())
    # Before the load: another image resets the caption chosen, unless the URL brings one (a link, Back).
    url_state.reset_on_change("truth", (split, chosen.row), 0)
    url_state.load(fields[-2:], notices)
    url_state.notify(notices)

    scores_table(models, data)
    settings = controls()
    if recipe not in models:
        waiting_for(recipe, models)
        save_url(fields)
        return
    model = models[recipe]
    if indices is not None:
        st.caption(f"Train images of the overfit model are the {len(indices)} captions it was trained on.")
    scenes = ui.gallery.scenes_of(split, str(data.get("base_dir")), data)

    # Only the open view runs: another control changes what is visible, not the hidden views.
    tabs = dict(zip(VIEWS, st.tabs(list(VIEWS.values()), **url_state.bind("view", VIEWS)), strict=True))
    with tabs["gallery"]:
        if tabs["gallery"].open:
            gallery_view(items, model, settings, data, scenes)
    for view, explain in (("words", words_view), ("forcing", forcing_view), ("ablation", ablation_view)):
        with tabs[view], ui.friendly_errors(VIEWS[view]):
            if tabs[view].open:
                item = chosen_image(items, data)
                if view == "words":
                    explain(item, model, settings, data)
                else:
                    explain(item, model, settings)
    with tabs["compose"], ui.friendly_errors("the scene"):
        if tabs["compose"].open:
            compose_view(model, settings, data)
    save_url(fields)


ui.setup_page(ui.GALLERY)
with ui.friendly_errors("the caption gallery"):
    page()
