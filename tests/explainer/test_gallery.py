"""explainer.gallery: the figures and sentences carry the numbers of the captions they were given."""

import dataclasses
from html.parser import HTMLParser

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


class Cells(HTMLParser):
    """The rows of a candidates table: per row, (text, style) of each cell."""

    def __init__(self, html):
        super().__init__()
        self.rows, self._style = [], None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append(["", dict(attrs).get("style", "")])

    def handle_data(self, data):
        if self.rows and self.rows[-1]:
            self.rows[-1][-1][0] += data


def test_candidates_table_has_a_row_per_word_with_bars_as_long_as_the_probabilities(greedy):
    header, *rows = Cells(gallery.candidates_html(greedy, WORDS)).rows
    assert "2 most probable words" in header[-1][0] and "temperature" not in header[-1][0]
    # Drawn at a temperature: the probabilities shown are those of the softmax the words were drawn from.
    header, *_ = Cells(gallery.candidates_html(dataclasses.replace(greedy, temperature=1.5), WORDS)).rows
    assert (
        header[-1][0]
        == "the 2 most probable words and their probabilities at temperature 1.5 (the chosen one outlined)"
    )
    assert len(rows) == 4
    step, word, *candidates = rows[1]
    assert (step[0], word[0]) == ("2", "red")
    assert [text for text, _ in candidates] == ["red0.600", "blue0.300"]
    assert "60.0%" in candidates[0][1] and "30.0%" in candidates[1][1]
    assert HIGHLIGHT in candidates[0][1] and HIGHLIGHT not in candidates[1][1]  # the chosen word outlined


def test_candidates_table_adds_a_sampled_word_outside_the_top_k_and_escapes_words():
    sampled = caption([8, 2], [[4, 5], [2, 4]], [[0.5, 0.3], [0.9, 0.1]], [0.02, 0.9])
    _, first, _ = Cells(gallery.candidates_html(sampled, WORDS)).rows
    assert [text for text, _ in first[2:]] == ["a0.500", "red0.300", "square (outside the top 2)0.020"]
    assert HIGHLIGHT in first[-1][1]
    # k = 1: one word per step, named in the singular.
    single = caption([8, 2], [[4], [2]], [[0.5], [0.9]], [0.02, 0.9])
    header, first, _ = Cells(gallery.candidates_html(single, WORDS)).rows
    assert header[-1][0].startswith("the most probable word and its probability")
    assert [text for text, _ in first[2:]] == ["a0.500", "square (not the most probable)0.020"]
    odd = caption([3, 2], [[3, 2], [2, 3]], [[0.5, 0.3], [0.9, 0.1]], [0.5, 0.9])
    html = gallery.candidates_html(odd, ["<NULL>", "<START>", "<END>", "<b>bold</b>"])
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_sampling_and_shortened_texts():
    assert gallery.sampling_text(0.0, 3).startswith("greedy")
    assert gallery.sampling_text(0.7, 3) == "sampled from the softmax at temperature 0.7 with seed 3"
    assert gallery.shorten("a red circle") == "a red circle"
    short = gallery.shorten("a large red circle to the left of a small blue square and a yellow star", 30)
    assert short == "a large red circle to the…" and len(short) <= 31


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
    # Words as large as the longest ("square", "circle", "<END>": 6 letters) fits in one of 4 cells, at most 13 px.
    assert heat["textfont"]["size"] == 13
    z = decode(heat["z"])
    np.testing.assert_array_equal(z[1], [1, 0, 1, 1])
    np.testing.assert_array_equal(z[2], [1, 0, 0, 1])
    np.testing.assert_allclose(decode(bars["y"]), [0.9, 0.3, 0.8, 0.9])
    (outline,) = spec["layout"]["shapes"]
    assert (outline["x0"] + outline["x1"]) / 2 == 2
    text = gallery.divergence_text(div, [])
    assert "**step 2**" in text and "“red” where the caption has “blue”" in text
    # 3 of the 4 steps, <END> one of them, though the caption quoted leaves it out
    assert "predicts 3 of its 4 next words (75%, the end of the caption counted as a word)" in text
    assert "“a blue square”" in text and "p = 0.300." in text
    assert decode(bars["customdata"]).tolist() == ["0.900", "0.300", "0.800", "0.900"]
    assert bars["hovertemplate"] == "step %{x}: p(ground truth) = %{customdata}<extra></extra>"
    # A free caption that is another ground-truth caption of the image is no mistake.
    other = gallery.divergence_text(div, ["a blue square", "a red circle"])
    assert other.startswith(
        "Free sampling says another ground-truth caption of this image, word for word: “a red circle”. It parts "
        "from the one chosen here at **step 2** (“red” where this one has “blue”): a different true caption, "
        "not a mistake."
    )
    assert "mistakes compound" not in other
    assert "mistakes compound" in gallery.divergence_text(div, ["a blue square", "a red circle square"])
    # a probability far below 0.001 is written as one, never as 0.00
    tiny = dataclasses.replace(div, forced_truth_prob=np.array([0.9, 5.17e-05, 0.8, 0.9]))
    assert "gets p = 5.2e-05." in gallery.divergence_text(tiny, [])
    assert decode(figure_json(gallery.divergence_figure(tiny))["data"][1]["customdata"])[1] == "5.2e-05"


def test_the_word_grid_is_as_large_as_its_longest_word_fits():
    assert gallery.word_font_size(12, 8) == 12  # a 12-word scene caption at 1280 px, "triangle" the longest
    assert gallery.word_font_size(17, 13) == 8  # a long COCO caption: no smaller than 8 px
    assert gallery.word_font_size(2, 3) == 13


def test_divergence_text_when_everything_agrees(greedy):
    div = Divergence(np.array([4, 5, 6, 2]), ["a", "red", "circle", "<END>"], np.array([4, 5, 6, 2]),
                     ["a", "red", "circle", "<END>"], np.ones(4), greedy, None)  # fmt: skip
    assert gallery.divergence_text(div, []).startswith(
        "Free sampling reproduces the ground truth “a red circle”"
    )


def test_ablation_figure_and_text_name_the_visual_words(greedy):
    zeroed = caption([4, 2], [[4, 5], [2, 4]], [[0.5, 0.3], [0.9, 0.1]], [0.5, 0.9])
    ablation = Ablation(greedy, zeroed, np.array([0.9, 0.6, 0.7, 0.95]), np.array([0.8, 0.006, 0.07, 0.9]))
    spec = figure_json(gallery.ablation_figure(ablation))
    with_image, without = spec["data"]
    np.testing.assert_allclose(decode(with_image["y"]), [0.9, 0.6, 0.7, 0.95])
    np.testing.assert_allclose(decode(without["y"]), [0.8, 0.006, 0.07, 0.9])
    assert with_image["x"] == ["1. a", "2. red", "3. circle", "4. &lt;END&gt;"]
    axis = spec["layout"]["yaxis"]
    assert axis["type"] == "log" and axis["ticktext"][0] == "0.005"  # written out, no "5m"
    assert axis["title"]["text"] == "p(word | words before), temperature 1"
    text = gallery.ablation_text(ablation)
    assert "With the image: “a red circle”" in text and "alone says: “a”" in text
    assert "2. “red” (100×), 3. “circle” (10.0×)" in text
    assert decode(without["customdata"]).tolist() == ["0.800", "0.006", "0.070", "0.900"]
    assert "temperature 1" not in text  # greedy: the probabilities are those the words were chosen from
    # <END> is not a word of the captions quoted: never named, however much likelier the image makes it.
    ending = Ablation(greedy, zeroed, np.array([0.9, 0.6, 0.7, 0.95]), np.array([0.8, 0.006, 0.07, 0.0095]))
    text = gallery.ablation_text(ending)
    assert text.endswith("2. “red” (100×), 3. “circle” (10.0×).") and "END" not in text
    # A word said twice is named twice, each time with its place in the caption, as the figure's bars are.
    twice = caption([4, 5, 5, 2], [[4], [5], [5], [2]], [[0.9], [0.6], [0.7], [0.95]], [0.9, 0.6, 0.7, 0.95])
    repeated = Ablation(twice, zeroed, np.array([0.9, 0.6, 0.7, 0.95]), np.array([0.8, 0.006, 0.07, 0.9]))
    assert gallery.ablation_text(repeated).endswith("2. “red” (100×), 3. “red” (10.0×).")
    # Ratios as every sentence writes them; a probability that underflows to 0 without the image gives none.
    tiny = Ablation(greedy, zeroed, np.array([0.9, 0.6, 0.7, 0.95]), np.array([0.8, 1e-30, 0.0, 0.9]))
    assert gallery.ablation_text(tiny).endswith("3. “circle” (p = 0 without it), 2. “red” (6.0e+29×).")
    # No word much likelier with the image: the model is not looking only if the caption does not change.
    flat = np.array([0.9, 0.6, 0.7, 0.95])
    assert gallery.ablation_text(Ablation(greedy, greedy, flat, flat)).endswith(
        "No word of the caption is much likelier with the image than without: the model is not looking."
    )
    assert gallery.ablation_text(Ablation(greedy, zeroed, flat, flat)).endswith(
        "No word of the caption is much likelier with the image than without, though the caption changes."
    )
    sampled = dataclasses.replace(greedy, temperature=1.5)
    text = gallery.ablation_text(dataclasses.replace(ablation, with_image=sampled))
    assert text.endswith(
        "These probabilities are the model's own, its softmax at temperature 1; the captions were drawn at "
        "temperature 1.5, so a drawn word may be one the model found unlikely."
    )


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
