"""BLEU-4 on hand-checked examples and the scene measure on hand-made captions."""

import math

import numpy as np
import pytest

from core.data.scenes.grammar import build_vocab, encode_caption
from core.data.scenes.spec import Scene, SceneObject
from core.errors import ShapeError
from core.lab.metrics import caption_words, corpus_bleu, references_by_image, scene_accuracy


def test_identical_caption_scores_one():
    s = corpus_bleu(
        ["a red circle to the left of a blue square"], [["a red circle to the left of a blue square"]]
    )
    assert s.bleu == pytest.approx(1.0) and s.brevity_penalty == 1.0


def test_hand_computed_precisions_and_score():
    # candidate a b c d e vs reference a b c d f: p = 4/5, 3/4, 2/3, 1/2; same length, BP = 1
    s = corpus_bleu(["a b c d e"], [["a b c d f"]])
    assert s.precisions == pytest.approx((4 / 5, 3 / 4, 2 / 3, 1 / 2))
    assert s.bleu == pytest.approx((4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25)
    assert s.bleu == pytest.approx(0.66874, abs=1e-5)


def test_no_matching_four_gram_scores_zero_and_brevity_penalty():
    s = corpus_bleu(
        [["a", "red", "circle", "and", "a", "blue", "square"]],
        [[["a", "red", "circle", "to", "the", "left", "of", "a", "blue", "square"]]],
    )
    assert s.precisions == pytest.approx((6 / 7, 4 / 6, 2 / 5, 0.0))
    assert s.bleu == 0.0
    assert (s.candidate_length, s.reference_length) == (7, 10)
    assert s.brevity_penalty == pytest.approx(math.exp(1 - 10 / 7))


def test_clipping_uses_the_best_reference_and_closest_length():
    # 'a' appears at most twice in one reference: 3 'a's clip to 2; closest reference length is 3
    s = corpus_bleu(["a a a b"], [["a b", "a a c"]], max_n=1)
    assert s.precisions == pytest.approx((3 / 4,))
    assert s.reference_length == 3 and s.brevity_penalty == 1.0
    # on a tie in distance the shorter reference length counts: |2-3| == |4-3|
    assert corpus_bleu(["a b c"], [["a b", "a b c d"]], max_n=1).reference_length == 2


def test_corpus_level_sums_counts_over_candidates():
    s = corpus_bleu(["a b c d e", "a b c d"], [["a b c d f"], ["a b c d"]])
    p = ((4 + 4) / (5 + 4), (3 + 3) / (4 + 3), (2 + 2) / (3 + 2), (1 + 1) / (2 + 1))
    assert s.precisions == pytest.approx(p)
    assert s.bleu == pytest.approx(math.prod(p) ** 0.25)


def test_bleu_bad_input():
    with pytest.raises(ShapeError, match="reference lists"):
        corpus_bleu(["a"], [])
    with pytest.raises(ShapeError, match="at least one reference"):
        corpus_bleu(["a"], [[]])
    assert corpus_bleu([""], [["a b"]]).bleu == 0.0


def test_caption_words_and_references():
    idx_to_word, word_to_idx = build_vocab()
    caps = np.stack(
        [encode_caption(c, word_to_idx) for c in ("a red circle", "one red circle", "a blue star")]
    )
    assert caption_words(caps[0], idx_to_word) == ["a", "red", "circle"]
    refs = references_by_image(caps, np.array([4, 4, 7]), idx_to_word)
    assert refs == {4: [["a", "red", "circle"], ["one", "red", "circle"]], 7: [["a", "blue", "star"]]}


def test_scene_accuracy_on_hand_made_captions():
    left_right = Scene(
        objects=(
            SceneObject("circle", "red", "small", 0.2, 0.5),
            SceneObject("square", "blue", "large", 0.8, 0.5),
        )
    )
    single = Scene(objects=(SceneObject("star", "yellow", "large", 0.5, 0.5),))
    scenes = [left_right, left_right, left_right, single, single]
    captions = [
        "a red circle to the left of a blue square",  # right
        "a red circle to the right of a blue square",  # false relation
        "a red circle",  # misses the blue square
        "a big yellow star",  # right
        ["there", "is", "a", "yellow", "cross"],  # wrong shape
    ]
    assert scene_accuracy(captions, scenes) == pytest.approx(2 / 5)
    assert scene_accuracy(["a small yellow star"], [single]) == 0.0  # the star is large
    with pytest.raises(ShapeError):
        scene_accuracy(["a"], [])
