"""explainer.gallery: the figures and sentences carry the numbers of the captions they were given."""

import numpy as np
import pytest

from core.data.scenes.check import CaptionCheck
from core.lab.captioning import Ablation, Divergence, GeneratedCaption
from core.lab.metrics import ValScore
from explainer import gallery
from explainer.colors import HIGHLIGHT
from tests.helpers.plotly_json import decode, figure_json

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "circle", "blue", "square"]


def caption(ids, topk_ids, topk_probs, chosen_probs):
    return GeneratedCaption(
        ids=np.array(ids),
        words=[WORDS[i] for i in ids],
        topk_ids=np.array(topk_ids),
        topk_probs=np.array(topk_probs),
        chosen_probs=np.array(chosen_probs),
        temperature=0.0,
        seed=0,
    )


@pytest.fixture
def greedy():
    return caption(
        [4, 5, 6, 2],
        [[4, 7], [5, 7], [6, 8], [2, 4]],
        [[0.9, 0.05], [0.6, 0.3], [0.7, 0.2], [0.95, 0.01]],
        [0.9, 0.6, 0.7, 0.95],
    )


def test_topk_figure_has_a_panel_per_word_with_the_chosen_word_highlighted(greedy):
    spec = figure_json(gallery.topk_figure(greedy, WORDS, columns=2))
    bars = spec["data"]
    assert len(bars) == 4
    np.testing.assert_allclose(decode(bars[1]["x"]), [0.6, 0.3])
    assert bars[1]["y"] == ["red", "blue"]
    assert bars[1]["marker"]["color"][0] == HIGHLIGHT
    assert bars[1]["marker"]["color"][1] != HIGHLIGHT
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles == [
        "1. a (p = 0.90)",
        "2. red (p = 0.60)",
        "3. circle (p = 0.70)",
        "4. &lt;END&gt; (p = 0.95)",
    ]


def test_topk_figure_adds_a_sampled_word_outside_the_top_k():
    sampled = caption([8, 2], [[4, 5], [2, 4]], [[0.5, 0.3], [0.9, 0.1]], [0.02, 0.9])
    spec = figure_json(gallery.topk_figure(sampled, WORDS))
    first = spec["data"][0]
    assert first["y"] == ["a", "red", "square"]
    np.testing.assert_allclose(decode(first["x"]), [0.5, 0.3, 0.02])
    assert first["marker"]["color"][2] == HIGHLIGHT


def test_divergence_figure_and_text_mark_where_free_sampling_leaves_the_truth(greedy):
    div = Divergence(
        truth=np.array([4, 7, 8, 2]),
        truth_words=["a", "blue", "square", "<END>"],
        forced_best=np.array([4, 5, 8, 2]),
        forced_best_words=["a", "red", "square", "<END>"],
        forced_truth_prob=np.array([0.9, 0.3, 0.8, 0.9]),
        free=greedy,
        first_difference=1,
    )
    spec = figure_json(gallery.divergence_figure(div))
    heat, bars = spec["data"]
    assert heat["text"][0] == ["a", "blue", "square", "&lt;END&gt;"]
    assert heat["text"][2] == ["a", "red", "circle", "&lt;END&gt;"]
    z = decode(heat["z"])
    np.testing.assert_array_equal(z[1], [1, 0, 1, 1])
    np.testing.assert_array_equal(z[2], [1, 0, 0, 1])
    np.testing.assert_allclose(decode(bars["y"]), [0.9, 0.3, 0.8, 0.9])
    (outline,) = spec["layout"]["shapes"]
    assert (outline["x0"] + outline["x1"]) / 2 == 2
    text = gallery.divergence_text(div)
    assert "**step 2**" in text and "“red” where the caption has “blue”" in text
    assert "predicts 75% of its words" in text
    assert "p = 0.30" in text


def test_divergence_text_when_everything_agrees(greedy):
    div = Divergence(np.array([4, 5, 6, 2]), ["a", "red", "circle", "<END>"], np.array([4, 5, 6, 2]),
                     ["a", "red", "circle", "<END>"], np.ones(4), greedy, None)  # fmt: skip
    assert gallery.divergence_text(div).startswith("Free sampling reproduces the ground truth “a red circle”")


def test_ablation_figure_and_text_name_the_visual_words(greedy):
    zeroed = caption([4, 2], [[4, 5], [2, 4]], [[0.5, 0.3], [0.9, 0.1]], [0.5, 0.9])
    ablation = Ablation(greedy, zeroed, np.array([0.9, 0.6, 0.7, 0.95]), np.array([0.8, 0.006, 0.07, 0.9]))
    spec = figure_json(gallery.ablation_figure(ablation))
    with_image, without = spec["data"]
    np.testing.assert_allclose(decode(with_image["y"]), [0.9, 0.6, 0.7, 0.95])
    np.testing.assert_allclose(decode(without["y"]), [0.8, 0.006, 0.07, 0.9])
    assert with_image["x"] == ["1. a", "2. red", "3. circle", "4. &lt;END&gt;"]
    assert spec["layout"]["yaxis"]["type"] == "log"
    text = gallery.ablation_text(ablation)
    assert "With the image: “a red circle”" in text and "alone says: “a”" in text
    assert "“red” (×100), “circle” (×10)" in text


def test_check_and_score_texts():
    assert gallery.check_text(CaptionCheck(True, [])) == "✅ true of the scene"
    assert gallery.check_text(
        CaptionCheck(False, ["names a red cross, which is not in the image"])
    ).startswith("❌ names")
    assert gallery.check_text(None) == ""
    rows = gallery.score_rows({"full": ValScore(0.4567, 0.82, 500), "coco": ValScore(0.2, None, 1000)})
    assert rows[0] == {
        "model": "full",
        "BLEU-4 on val": 0.457,
        "val images": 500,
        "val images captioned correctly": "82.0%",
    }
    assert "val images captioned correctly" not in rows[1]
