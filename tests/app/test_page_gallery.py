"""AppTest of the caption gallery on the embedded dataset, with small training recipes so it stays fast
(tests/app/conftest.py: fresh_caches)."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import core.lab.trained_models
import ui
from core.data.coco_utils import load_coco_data
from core.lab.captioning import (
    gallery_items,
    generate_caption,
    image_ablation,
    recipe_caption_indices,
    teacher_forcing_vs_free,
)
from explainer.escape import figure_text, plain
from explainer.forward import probability_text
from explainer.gallery import divergence_text
from tests.helpers.apptest import (
    axes_without_automargin,
    chart,
    drawn_trace_types,
    figures,
    images,
    no_problems,
    open_page,
    other_html,
    page_app,
    run_until_trained,
    tables,
)
from tests.helpers.plotly_json import decode
from tests.helpers.stepper import bundled_trace_types

PAGE = "pages/4_Caption_gallery.py"
# Widget keys of the URL-bound controls.
MODEL, SPLIT, COUNT, TEMPERATURE, SEED, K = (
    f"url_state_widget.{name}"
    for name in ("recipe", "gallery.split", "images", "temperature", "gallery.seed", "k")
)


@pytest.fixture(scope="module")
def data():
    return load_coco_data()


def open_gallery(query: dict | None = None, problems: bool = True) -> AppTest:
    at = page_app(PAGE, 180)
    at.query_params.update(query or {})
    at.run()
    run_until_trained(at)
    if problems:
        no_problems(at)
    return at


def model_captions(at) -> list:
    return [m.value.removeprefix("**Model:** ") for m in at.markdown if m.value.startswith("**Model:** ")]


def test_images_are_shown_next_to_generated_and_ground_truth_captions(data):
    at = open_gallery()
    (scores,) = tables(at)
    assert [row["model"] for row in scores] == [
        "Vanilla RNN trained on the whole training set",
        "Overfit: 50 training captions (the notebook's small-data model)",
        "LSTM trained on the whole training set",
    ]
    assert [row["val images"] for row in scores] == ["500", "500", "500"]
    assert all(0 <= float(row["BLEU-4 on val"]) <= 1 for row in scores)
    # Six cards, each with the model's caption and a way into the detailed views; only the open view ran.
    assert len(model_captions(at)) == 6
    assert len(images(at)) >= 6
    truths = truth_blocks(at)
    assert len(truths) == 6 and all(t.count("\n- ") == 5 for t in truths)
    # Every card's correctness check against its scene is shown.
    assert sum(c.value.startswith(("✅", "❌")) for c in at.caption) == 6
    assert [b.label for b in at.button if b.key.startswith("gallery.explain")] == ["Word by word →"] * 6
    assert not figures(at) and not other_html(at)  # the other views did not run


def truth_blocks(at) -> list:
    return [m.value for m in at.markdown if m.value.startswith("**Ground truth:**")]


def test_the_shown_caption_is_the_models_greedy_caption(data):
    at = open_gallery()
    at.radio(key=SPLIT).set_value("val")
    at.slider(key=COUNT).set_value(2).run()
    no_problems(at)
    # The page's model is the recipe's cached file: loading it here gives the same weights.
    full = core.lab.trained_models.trained_model(data, "full")
    items = gallery_items(data, "val", 2, seed=0)
    assert model_captions(at)[:2] == [generate_caption(full, item.feature).text for item in items]
    assert truth_blocks(at) == [
        "**Ground truth:**\n" + "\n".join(f"- {t}" for t in item.truths) for item in items
    ]


def test_overfit_model_shows_its_training_images(data):
    at = open_gallery()
    at.radio(key=MODEL).set_value("overfit")
    at.radio(key=SPLIT).set_value("train").run()
    no_problems(at)
    assert any("the 50 captions it was trained on" in c.value for c in at.caption)
    indices = recipe_caption_indices(data, "overfit")
    trained_rows = set(data["train_image_idxs"][indices].tolist())
    items = gallery_items(data, "train", 6, seed=0, caption_indices=indices)
    assert {item.row for item in items} <= trained_rows
    shown = truth_blocks(at)
    assert len(shown) == 6
    # Cards fill three columns, so the page lists them column by column.
    assert sorted(shown) == sorted(
        "**Ground truth:**\n" + "\n".join(f"- {t}" for t in item.truths) for item in items
    )


def test_temperature_and_seed_change_and_reproduce_captions():
    at = open_gallery()
    greedy = model_captions(at)
    at.slider(key=TEMPERATURE).set_value(2.0).run()
    hot = model_captions(at)
    at.run()
    assert model_captions(at) == hot
    assert hot != greedy


def test_word_by_word_explains_the_chosen_image(data):
    # The full model by name, as below: the model shown by default is the first one ready.
    at = open_gallery({"recipe": "full", "split": "val", "images": "3"})
    at.button(key="gallery.explain.2").click().run()
    no_problems(at)
    # The third card: #3 in the image selector and in the link.
    assert at.query_params["view"] == "words" and at.query_params["image"] == "3"
    image = next(s for s in at.selectbox if s.label == "Image (one of the gallery's)")
    assert image.value == 3 and image.format_func(3).startswith("#3: ")
    items = gallery_items(data, "val", 3, seed=0)
    full = core.lab.trained_models.trained_model(data, "full")
    expected = generate_caption(full, items[2].feature)
    assert model_captions(at) == [f"{expected.text}, greedy (the most probable word at every step). Each row "
                                  "is one step: the word it chose and the words it weighed."]  # fmt: skip
    (table,) = other_html(at)
    assert table.count("<tr>") == len(expected.words) + 1
    for word, p in zip(expected.words, expected.chosen_probs, strict=True):
        assert (
            f"{word.replace('<', '&lt;').replace('>', '&gt;')}<br><small>{probability_text(p)}</small>"
            in table
        )


def test_teacher_forcing_follows_the_image_the_caption_and_the_sampling(data):
    # The full model by name: otherwise the first model ready, which depends on how far training has got.
    query = {"recipe": "full", "split": "val", "images": "3", "temperature": "1.5", "seed": "4"}
    at = open_gallery({**query, "view": "forcing"})
    no_problems(at)
    items = gallery_items(data, "val", 3, seed=0)
    full = core.lab.trained_models.trained_model(data, "full")
    truth = at.selectbox(key="url_state_widget.truth.val." + str(items[0].row))
    truth.set_value(3).run()
    assert at.query_params["truth"] == "3"
    expected = teacher_forcing_vs_free(full, items[0].feature, items[0].captions[3], temperature=1.5, seed=4)
    heat = chart(at, "gallery.divergence")["data"][0]
    assert drawn_trace_types(at) <= bundled_trace_types()
    assert axes_without_automargin(at) == []
    # Plotly shows the entities of the escaped words as < and >.
    assert [w for w in heat["text"][0] if w] == [figure_text(w) for w in expected.truth_words]
    assert [w for w in heat["text"][2] if w] == [figure_text(w) for w in expected.free.words]
    assert any("temperature 1.5 with seed 4" in m.value for m in at.markdown)
    assert any(m.value == divergence_text(expected, items[0].truths) for m in at.markdown)
    # Another image: the caption choice follows it (its first caption), never the previous image's.
    image = next(s for s in at.selectbox if s.label == "Image (one of the gallery's)")
    image.set_value(3).run()
    no_problems(at)
    assert at.query_params["truth"] == "0"
    truth = at.selectbox(key="url_state_widget.truth.val." + str(items[2].row))
    assert truth.value == 0 and truth.options == items[2].truths
    heat = chart(at, "gallery.divergence")["data"][0]
    expected = teacher_forcing_vs_free(full, items[2].feature, items[2].captions[0], temperature=1.5, seed=4)
    assert [w for w in heat["text"][0] if w] == [figure_text(w) for w in expected.truth_words]
    assert not any(m.value.startswith("**Model:**") for m in at.markdown)  # the gallery view did not run
    # Back: the browser reruns the page with the earlier entry's URL, whose caption is shown and kept.
    at.query_params.update({"image": "1", "truth": "3"})
    at.run()
    assert at.selectbox(key="url_state_widget.truth.val." + str(items[0].row)).value == 3
    assert at.query_params["image"] == "1" and at.query_params["truth"] == "3"


def test_ablation_uses_the_sampling_settings(data):
    at = open_gallery({"recipe": "full", "view": "ablation", "temperature": "0.8", "seed": "2", "image": "2"})
    no_problems(at)
    items = gallery_items(data, "train", 6, seed=0)
    full = core.lab.trained_models.trained_model(data, "full")
    expected = image_ablation(full, items[1].feature, temperature=0.8, seed=2)
    assert any(m.value.startswith(f"With the image: “{expected.with_image.text}”") for m in at.markdown)
    bars = chart(at, "gallery.ablation")["data"]
    assert drawn_trace_types(at) <= bundled_trace_types()
    assert axes_without_automargin(at) == []
    np.testing.assert_allclose(decode(bars[0]["y"]), expected.word_probs_with, rtol=1e-5)
    assert any("temperature 0.8 with seed 2" in m.value for m in at.markdown)


def test_compose_a_scene():
    at = open_gallery({"view": "compose"})
    at.radio(key="compose.count").set_value(1)
    at.selectbox(key="compose.shape.0").set_value("star")
    at.selectbox(key="compose.colour.0").set_value("red").run()
    no_problems(at)
    (composed,) = model_captions(at)
    assert composed
    assert any(m.value.startswith(("✅", "❌")) for m in at.markdown)
    assert len(other_html(at)) == 1  # its word-by-word table


def test_a_composed_scene_is_in_the_link_and_a_link_opens_it():
    at = open_gallery({"view": "compose"})
    at.radio(key="compose.count").set_value(3).run()
    at.selectbox(key="compose.shape.2").set_value("cross")
    at.selectbox(key="compose.colour.2").set_value("orange")
    at.slider(key="compose.x.2").set_value(0.4).run()
    no_problems(at)
    link = at.query_params["scene"]
    assert link.endswith(";cross,orange,small,0.4,0.75") and link.count(";") == 3
    (composed,) = model_captions(at)

    # The link opens the same scene, captioned the same, in a new session.
    again = open_gallery({"view": "compose", "scene": link})
    assert again.radio(key="compose.count").value == 3
    assert again.selectbox(key="compose.shape.2").value == "cross"
    assert again.slider(key="compose.x.2").value == 0.4
    assert model_captions(again) == [composed]
    assert again.query_params["scene"] == link

    # A scene the link gets wrong is named, and the default scene shown.
    bad = open_gallery({"view": "compose", "scene": "grey;hexagon,red,small,0.5,0.5"}, problems=False)
    assert any("composed scene" in i.value and "hexagon" in i.value for i in bad.info)
    assert bad.radio(key="compose.count").value == 2
    # The link's text is quoted as text, cut and on one line: it adds no link, image or heading to the page.
    hostile = "**b** [click](https://evil.example/x) ![i](https://evil.example/p.png)\n# Heading " + "A" * 500
    bad = open_gallery({"view": "compose", "scene": f"grey;{hostile},red,small,0.5,0.5"}, problems=False)
    (notice,) = [i.value for i in bad.info if "composed scene" in i.value]
    assert plain(f"{hostile},red,small,0.5,0.5") in notice  # the object named, escaped and cut
    assert "[click](" not in notice and "![i](" not in notice and "\n" not in notice and len(notice) < 600
    # Another view's link carries no scene, even if it was given one.
    assert "scene" not in open_gallery({"view": "gallery"}).query_params
    assert "scene" not in open_gallery({"view": "gallery", "scene": "grey"}, problems=False).query_params


def test_a_composed_scene_is_kept_while_another_view_is_open_and_objects_are_hidden():
    """Streamlit drops the state of widgets it does not draw: the scene and every object come back as left."""
    at = open_gallery({"view": "compose"})
    at.radio(key="compose.count").set_value(3).run()
    at.selectbox(key="compose.shape.2").set_value("cross")
    at.slider(key="compose.x.2").set_value(0.4).run()
    at.selectbox(key="compose.colour.1").set_value("orange").run()
    scene = at.query_params["scene"]
    at.session_state["url_state.view"] = "gallery"  # as the tabs set it
    at.run()
    assert "scene" not in at.query_params
    at.session_state["url_state.view"] = "compose"
    at.run()
    no_problems(at)
    assert at.query_params["scene"] == scene and at.radio(key="compose.count").value == 3
    # Fewer objects, then more: the hidden ones come back as they were.
    at.radio(key="compose.count").set_value(1).run()
    assert at.query_params["scene"].count(";") == 1
    at.radio(key="compose.count").set_value(3).run()
    assert at.query_params["scene"] == scene
    assert at.selectbox(key="compose.shape.2").value == "cross" and at.slider(key="compose.x.2").value == 0.4
    # Another page, then back from the sidebar (no scene in that link): the same scene.
    at.switch_page("pages/3_Activation_race.py").run()
    at.query_params.clear()
    at.switch_page(PAGE).run()
    assert at.query_params["scene"] == scene and at.query_params["view"] == "compose"


def test_shuffle_shows_other_images():
    at = open_gallery()
    before = truth_blocks(at)
    at.button(key="gallery.shuffle").click().run()
    after = truth_blocks(at)
    assert at.query_params["page"] == "1"
    assert before != after


def test_the_link_reopens_the_same_view_and_changes_go_to_the_url(data):
    query = {
        "recipe": "overfit",
        "split": "val",
        "images": "3",
        "page": "4",
        "temperature": "0.7",
        "seed": "5",
        "k": "3",
    }
    at = open_gallery(query)
    assert at.radio(key=MODEL).value == "overfit" and at.radio(key=SPLIT).value == "val"
    assert at.slider(key=COUNT).value == 3 and at.slider(key=TEMPERATURE).value == 0.7
    assert at.number_input(key=SEED).value == 5 and at.slider(key=K).value == 3
    items = gallery_items(data, "val", 3, seed=4)
    overfit = core.lab.trained_models.trained_model(data, "overfit")
    expected = [generate_caption(overfit, item.feature, 0.7, 5, 3) for item in items]
    assert model_captions(at) == [caption.text for caption in expected]
    assert dict(at.query_params) == {**query, "view": "gallery", "image": "1", "truth": "0"}
    # The detailed views explain the linked image (#3, numbered from 1 as the selector does) with the linked
    # caption.
    at = open_gallery({**query, "view": "forcing", "image": "3", "truth": "4"})
    picked = at.selectbox(key="url_state_widget.truth.val." + str(items[2].row))
    assert picked.value == 4 and picked.options == items[2].truths
    assert dict(at.query_params) == {**query, "view": "forcing", "image": "3", "truth": "4"}
    at = open_gallery({**query, "view": "words", "image": "2"})
    (table,) = other_html(at)
    assert table.count("<tr>") == len(expected[1].words) + 1 and "3 most probable words" in table
    at.slider(key=TEMPERATURE).set_value(0.0)
    at.radio(key=MODEL).set_value("full").run()
    no_problems(at)
    assert at.query_params["temperature"] == "0" and at.query_params["recipe"] == "full"


def test_bad_link_values_fall_back_with_a_notice():
    at = page_app(PAGE, 180)
    at.query_params.update({"images": "40", "recipe": "best", "image": "7", "view": "secret"})
    at.run()
    # Said at once, while the models train; the image, which depends on the images shown, once they are.
    first = at.info[0].value
    assert "number of images" in first and "model" in first and "view" in first
    said = [info.value for info in at.info]
    run_until_trained(at, said=said)
    assert any("image for the detailed views" in notice for notice in said)
    no_problems(at)
    assert at.slider(key=COUNT).value == 6 and at.radio(key=MODEL).value == "full"
    assert at.query_params["images"] == "6" and at.query_params["recipe"] == "full"
    assert at.query_params["image"] == "1" and at.query_params["view"] == "gallery"


def test_the_lstm_model_is_offered_like_the_others(data):
    at = open_gallery({"recipe": "lstm", "split": "val", "images": "2"})
    no_problems(at)
    assert at.radio(key=MODEL).value == "lstm"
    assert "LSTM trained on the whole training set" in at.radio(key=MODEL).options
    lstm = core.lab.trained_models.trained_model(data, "lstm")
    assert lstm.cell_type == "lstm"
    items = gallery_items(data, "val", 2, seed=0)
    assert model_captions(at) == [generate_caption(lstm, item.feature).text for item in items]
    (scores,) = tables(at)
    (lstm_row,) = [row for row in scores if row["model"] == "LSTM trained on the whole training set"]
    assert 0 <= float(lstm_row["BLEU-4 on val"]) <= 1


def test_the_gallerys_split_leaves_the_explainer_pages_example_alone():
    """The gallery's "Images from" and the explainer pages' split both read train or val, but each page keeps
    its own: choosing val images here moved the forward page's training example 3000 to the validation set,
    past its last image."""
    at = open_page("pages/1_Forward_pass.py", {"example": "3000"})
    at.switch_page(PAGE)
    at.query_params.clear()
    at.run()
    run_until_trained(at)
    at.radio(key=SPLIT).set_value("val").run()
    assert at.query_params["split"] == "val"
    at.switch_page("pages/1_Forward_pass.py")
    at.query_params.clear()
    at.run()
    assert not at.exception and not at.info
    assert at.query_params["split"] == "train" and at.query_params["example"] == "3000"


def test_fewer_images_than_the_chosen_one_is_said(data):
    at = open_gallery({"recipe": "full", "split": "val", "view": "words", "image": "5"})
    assert at.query_params["image"] == "5" and not at.info
    at.slider(key=COUNT).set_value(3).run()
    no_problems(at)
    assert at.query_params["image"] == "1"
    assert [i.value for i in at.info] == [
        "Only 3 images are shown now, so the detailed views explain #1 instead of #5."
    ]
    image = next(s for s in at.selectbox if s.label == "Image (one of the gallery's)")
    assert image.value == 1
    at.run()
    assert not at.info  # said once
    at.slider(key=COUNT).set_value(1).run()
    assert not at.info  # #1 is still shown
    # A link that brings both is taken or refused by the link's own notice, not this one.
    at = open_gallery({"recipe": "full", "split": "val", "images": "2", "image": "5"}, problems=False)
    assert [i.value for i in at.info] != [] and "image for the detailed views" in at.info[0].value
    assert not any(i.value.startswith("Only ") for i in at.info)


def test_the_model_the_page_chose_gives_way_to_the_full_one_once_ready(data, monkeypatch):
    """Opened while only the overfit model is ready, the gallery shows it, then the full model as soon as that
    one is ready, and says so; a model chosen by the learner or by a link stays."""
    open_gallery()  # every model trained
    ready_now = ["overfit"]
    real_recipes, real_models = ui.ready_recipes, ui.ready_models
    monkeypatch.setattr(ui, "ready_recipes", lambda *r: tuple(x for x in real_recipes(*r) if x in ready_now))
    monkeypatch.setattr(
        ui, "ready_models", lambda *r: {k: v for k, v in real_models(*r).items() if k in ready_now}
    )
    full = core.lab.trained_models.trained_model(data, "full")
    items = gallery_items(data, "train", 6, caption_indices=recipe_caption_indices(data, "full"))
    full_captions = [generate_caption(full, item.feature).text for item in items]

    at = page_app(PAGE, 180)
    at.run()
    assert at.radio(key=MODEL).value == "overfit" and at.query_params["recipe"] == "overfit"
    ready_now += ["full", "lstm"]
    at.run()
    no_problems(at)
    assert at.radio(key=MODEL).value == "full" and at.query_params["recipe"] == "full"
    assert model_captions(at) == [full_captions[i] for i in (0, 3, 1, 4, 2, 5)]  # three columns
    assert [i.value for i in at.info] == [
        "**Vanilla RNN trained on the whole training set** is ready: shown now."
    ]
    at.run()
    assert not at.info and at.radio(key=MODEL).value == "full"

    # The learner's choice, made while the overfit model was the only one ready, stays.
    ready_now[:] = ["overfit"]
    at = page_app(PAGE, 180)
    at.run()
    at.radio(key=MODEL).set_value("lstm").run()
    ready_now += ["full", "lstm"]
    at.run()
    assert at.radio(key=MODEL).value == "lstm" and not at.info
    # "Meanwhile, show …" stands in for the model asked for until it is ready, and no longer.
    ready_now[:] = ["overfit"]
    at = page_app(PAGE, 180)
    at.query_params["recipe"] = "lstm"
    at.run()
    at.button(key="gallery.use.overfit").click().run()
    assert at.radio(key=MODEL).value == "overfit"
    ready_now.append("full")
    at.run()
    assert at.radio(key=MODEL).value == "overfit" and not at.info
    ready_now.append("lstm")
    at.run()
    assert at.radio(key=MODEL).value == "lstm" and at.query_params["recipe"] == "lstm"
    assert [i.value for i in at.info] == ["**LSTM trained on the whole training set** is ready: shown now."]
    at.run()
    assert at.radio(key=MODEL).value == "lstm"
    # And a link's choice stays.
    ready_now[:] = ["overfit"]
    at = page_app(PAGE, 180)
    at.query_params["recipe"] = "overfit"
    at.run()
    ready_now += ["full", "lstm"]
    at.run()
    assert at.radio(key=MODEL).value == "overfit" and at.query_params["recipe"] == "overfit"
