"""AppTest of the caption gallery on the embedded dataset, with small training recipes so it stays fast
(tests/app/conftest.py: fresh_caches)."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import core.lab.trained_models
from core.data.coco_utils import load_coco_data
from core.lab.captioning import gallery_items, generate_caption, recipe_caption_indices
from tests.helpers.apptest import chart, images, no_problems, page_app, run_until_trained
from tests.helpers.plotly_json import decode

PAGE = "pages/4_Caption_gallery.py"
# Widget keys of the URL-bound controls.
MODEL, SPLIT, COUNT, TEMPERATURE, SEED, K, IMAGE = (
    f"url_state_widget.{name}" for name in ("recipe", "split", "images", "temperature", "seed", "k", "image")
)


@pytest.fixture(scope="module")
def data():
    return load_coco_data()


def open_gallery(query: dict | None = None) -> AppTest:
    at = page_app(PAGE, 180)
    at.query_params.update(query or {})
    at.run()
    run_until_trained(at)
    no_problems(at)
    return at


def model_captions(at) -> list:
    return [m.value.removeprefix("**Model:** ") for m in at.markdown if m.value.startswith("**Model:** ")]


def test_images_are_shown_next_to_generated_and_ground_truth_captions(data):
    at = open_gallery()
    scores = at.dataframe[0].value
    assert list(scores["model"]) == [
        "Trained on the whole training set",
        "Overfit: 50 training captions (the notebook's small-data model)",
    ]
    assert scores["val images"].tolist() == [500, 500]
    assert ((scores["BLEU-4 on val"] >= 0) & (scores["BLEU-4 on val"] <= 1)).all()
    captions = model_captions(at)
    # Six cards plus the composed scene, each with the model's caption; images for every card.
    assert len(captions) == 7
    assert len(images(at)) >= 6
    truths = truth_blocks(at)
    assert len(truths) == 6 and all(t.count("\n- ") == 5 for t in truths)
    # Every card's correctness check against its scene is shown.
    assert sum(c.value.startswith(("✅", "❌")) for c in at.caption) == 6
    for i in range(6):
        chart(at, f"gallery.topk.{i}")


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


def test_teacher_forcing_ablation_and_compose_tabs():
    at = open_gallery()
    divergence = chart(at, "gallery.divergence")
    heat = divergence["data"][0]
    truth_row = [w for w in heat["text"][0] if w]
    assert truth_row[-1] == "&lt;END&gt;"  # Plotly shows the entities as < and >
    assert any(m.value.startswith(("Free sampling leaves", "Free sampling reproduces")) for m in at.markdown)
    ablation = chart(at, "gallery.ablation")
    assert np.all(decode(ablation["data"][0]["y"]) > 0)
    assert any(m.value.startswith("With the image:") for m in at.markdown)
    chart(at, "gallery.compose.topk")
    at.radio(key="compose.count").set_value(1)
    at.selectbox(key="compose.shape.0").set_value("star")
    at.selectbox(key="compose.colour.0").set_value("red").run()
    no_problems(at)
    composed = model_captions(at)[-1]
    assert isinstance(composed, str)
    assert any(m.value.startswith(("✅", "❌")) for m in at.markdown)


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
    }
    at = open_gallery({**query, "k": "3", "image": "2"})
    assert at.radio(key=MODEL).value == "overfit" and at.radio(key=SPLIT).value == "val"
    assert at.slider(key=COUNT).value == 3 and at.slider(key=TEMPERATURE).value == 0.7
    assert at.number_input(key=SEED).value == 5 and at.slider(key=K).value == 3
    assert at.sidebar.selectbox(key=IMAGE).value == 2
    items = gallery_items(data, "val", 3, seed=4)
    overfit = core.lab.trained_models.trained_model(data, "overfit")
    expected = [generate_caption(overfit, item.feature, 0.7, 5, 3).text for item in items]
    assert model_captions(at)[:3] == expected
    assert len(chart(at, "gallery.topk.0")["data"][0]["y"]) <= 4  # k = 3 bars (+ the sampled word)
    # The detailed tabs explain the linked image.
    assert f"Ground truth: “{items[2].truths[0]}”" in next(
        m.value for m in at.markdown if "Ground truth: “" in m.value
    )
    assert dict(at.query_params) == {**query, "k": "3", "image": "2"}
    at.slider(key=TEMPERATURE).set_value(0.0)
    at.radio(key=MODEL).set_value("full").run()
    no_problems(at)
    assert at.query_params["temperature"] == "0" and at.query_params["recipe"] == "full"


def test_bad_link_values_fall_back_with_a_notice():
    at = page_app(PAGE, 180)
    at.query_params.update({"images": "40", "recipe": "best", "image": "7"})
    at.run()
    assert "number of images" in at.info[0].value and "model" in at.info[0].value
    run_until_trained(at)
    no_problems(at)
    assert at.slider(key=COUNT).value == 6 and at.radio(key=MODEL).value == "full"
    assert at.sidebar.selectbox(key=IMAGE).value == 0
    assert at.query_params["images"] == "6" and at.query_params["recipe"] == "full"
