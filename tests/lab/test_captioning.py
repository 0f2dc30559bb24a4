"""core.lab.captioning: generation with top-k, teacher forcing vs free sampling, ablation, gallery, scenes."""

import numpy as np
import pytest

from core.data.coco_utils import decode_captions
from core.data.scenes.spec import Scene, SceneObject
from core.engine.captioning_solver import CaptioningSolver
from core.engine.rnn import CaptioningRNN
from core.errors import CaptioningError, HyperparameterError, ShapeError
from core.lab.captioning import (
    caption_scene,
    gallery_items,
    generate_caption,
    image_ablation,
    recipe_caption_indices,
    scenes_by_row,
    teacher_forcing_vs_free,
)
from tests.helpers.race_fixtures import synthetic_data


@pytest.fixture(scope="module")
def data():
    return synthetic_data(n_images=4, caps=1, D=16, V=14, T=8, seed=2)


@pytest.fixture(scope="module")
def memorised(data):
    """A small model that has memorised the four training captions (loss near zero)."""
    model = CaptioningRNN(data["word_to_idx"], 16, 16, 48, seed=0)
    solver = CaptioningSolver(
        model, data, "adam", {"learning_rate": 1e-2}, batch_size=4, num_iterations=300, verbose=False, seed=0
    )
    solver.train()
    assert solver.loss_history[-1] < 0.05
    return model


def test_greedy_caption_reproduces_a_memorised_caption_with_top_k(data, memorised):
    feature = data["train_features"][1]
    caption = generate_caption(memorised, feature, k=3, max_length=8)
    truth = data["train_captions"][1]
    assert caption.text == decode_captions(truth, data["idx_to_word"])
    assert caption.words[-1] == "<END>"
    L = len(caption.words)
    assert caption.topk_ids.shape == caption.topk_probs.shape == (L, 3)
    # Greedy: the chosen word is the most probable, probabilities sorted and within [0, 1].
    np.testing.assert_array_equal(caption.topk_ids[:, 0], caption.ids)
    np.testing.assert_allclose(caption.topk_probs[:, 0], caption.chosen_probs)
    assert np.all(np.diff(caption.topk_probs, axis=1) <= 0)
    assert np.all(caption.chosen_probs > 0.5)


def test_temperature_sampling_is_reproducible_with_a_seed(data):
    model = CaptioningRNN(data["word_to_idx"], 16, 8, 8, seed=1)
    feature = data["val_features"][0]
    a = generate_caption(model, feature, temperature=1.5, seed=7)
    b = generate_caption(model, feature, temperature=1.5, seed=7)
    np.testing.assert_array_equal(a.ids, b.ids)
    others = {tuple(generate_caption(model, feature, temperature=1.5, seed=s).ids) for s in range(8)}
    assert len(others) > 1
    # The chosen word's probability is read from the tempered distribution it was drawn from.
    for t, word in enumerate(a.ids):
        if word in a.topk_ids[t]:
            assert a.chosen_probs[t] == pytest.approx(a.topk_probs[t][list(a.topk_ids[t]).index(word)])


def test_teacher_forcing_agrees_with_free_sampling_on_a_memorised_caption(data, memorised):
    div = teacher_forcing_vs_free(memorised, data["train_features"][2], data["train_captions"][2])
    assert div.first_difference is None
    assert div.forced_accuracy == 1.0
    assert div.truth_words[-1] == "<END>"
    np.testing.assert_array_equal(div.forced_best, div.truth)
    assert np.all(div.forced_truth_prob > 0.5)


def test_divergence_point_on_a_caption_the_model_never_saw(data, memorised):
    caption = data["train_captions"][0].copy()
    caption[2] = caption[2] + 1 if caption[2] + 1 < len(data["idx_to_word"]) else 4
    div = teacher_forcing_vs_free(memorised, data["train_features"][0], caption)
    assert div.first_difference == 1
    assert div.truth_words[1] == data["idx_to_word"][caption[2]]
    assert div.free.words[1] != div.truth_words[1]
    assert not div.forced_correct[1]
    assert div.forced_truth_prob[1] < 0.5


def test_image_ablation_zeroes_the_feature(data, memorised):
    feature = data["train_features"][3]
    ablation = image_ablation(memorised, feature)
    assert ablation.with_image.text == decode_captions(data["train_captions"][3], data["idx_to_word"])
    L = len(ablation.with_image.words)
    assert ablation.word_probs_with.shape == ablation.word_probs_without.shape == (L,)
    np.testing.assert_allclose(ablation.word_probs_with, ablation.with_image.chosen_probs, rtol=1e-4)
    expected = generate_caption(memorised, np.zeros_like(feature))
    np.testing.assert_array_equal(ablation.without_image.ids, expected.ids)
    dependence = ablation.image_dependence
    assert dependence.shape == (L,) and np.all(np.isfinite(dependence))
    # The memorised caption is far more likely with its image than with none, at some word.
    assert dependence.max() > 0.3


def test_gallery_items_group_every_caption_of_an_image():
    data = synthetic_data(n_images=10, caps=3)
    items = gallery_items(data, "train", 4, seed=1)
    assert len(items) == 4 and len({item.row for item in items}) == 4
    for item in items:
        assert item.captions.shape == (3, 13)
        assert item.source == f"https://example.invalid/train/{item.row}.jpg"
        np.testing.assert_array_equal(item.feature, data["train_features"][item.row])
        assert item.truths == [decode_captions(c, data["idx_to_word"]) for c in item.captions]
    chosen = gallery_items(data, "train", 24, caption_indices=[0, 1, 2, 5])
    assert sorted(item.row for item in chosen) == sorted({0, 1})
    again = gallery_items(data, "train", 4, seed=1)
    assert [i.row for i in again] == [i.row for i in items]
    with pytest.raises(HyperparameterError):
        gallery_items(data, "test", 4)
    with pytest.raises(HyperparameterError):
        gallery_items(data, "val", 0)


def test_caption_scene_renders_extracts_and_checks():
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "circle", "blue", "square", "and"]
    model = CaptioningRNN({w: i for i, w in enumerate(words)}, 512, 8, 16, seed=0)
    scene = Scene(
        (SceneObject("circle", "red", "large", 0.3, 0.5), SceneObject("square", "blue", "small", 0.7, 0.5))
    )
    composed = caption_scene(model, scene)
    assert composed.image.shape == (128, 128, 3) and composed.image.dtype == np.uint8
    assert composed.feature.shape == (512,)
    assert isinstance(composed.check.ok, bool)
    if not composed.check.ok:
        assert composed.check.problems
    with pytest.raises(CaptioningError):
        Scene((SceneObject("circle", "red", "huge", 0.3, 0.5),))


def test_bad_input_is_named(data, memorised):
    with pytest.raises(ShapeError):
        generate_caption(memorised, data["train_features"][:2])
    with pytest.raises(ShapeError):
        generate_caption(memorised, np.zeros(5))
    with pytest.raises(HyperparameterError, match="k="):
        generate_caption(memorised, data["train_features"][0], k=50)
    with pytest.raises(ShapeError, match="no words"):
        teacher_forcing_vs_free(memorised, data["train_features"][0], np.array([1, 0, 0]))


def test_recipe_caption_indices_are_the_captions_the_recipe_trains_on():
    import core.lab.trained_models

    data = synthetic_data(n_images=40, caps=2)
    indices = recipe_caption_indices(data, "overfit")
    config = core.lab.trained_models.recipe_config("overfit")
    assert len(indices) == config["max_train"] and np.all(np.diff(indices) > 0)
    # The guard against drift: core.lab.trained_models's own selection gives the same captions.
    trained = core.lab.trained_models.training_data(data, config["max_train"], config["seed"])
    np.testing.assert_array_equal(trained["train_captions"], data["train_captions"][indices])
    assert recipe_caption_indices(data, "full") is None


def test_scenes_by_row_only_for_the_embedded_dataset():
    assert scenes_by_row(synthetic_data(), "train") is None


def test_ablation_gives_a_drawn_null_word_the_probability_it_was_drawn_with(data, memorised):
    # A model that draws <NULL> often: the loss never scores a <NULL> target, but a sampled caption can
    # hold one, and the ablation must show the probability it was drawn with, not 0.
    model = memorised.copy()
    model.params["b_vocab"][model.word_to_idx["<NULL>"]] += 8.0
    feature = data["train_features"][0]
    drawn = [image_ablation(model, feature, temperature=1.0, seed=seed) for seed in range(20)]
    with_null = [a for a in drawn if "<NULL>" in a.with_image.words]
    assert with_null, "no caption drew <NULL>: raise its bias"
    for ablation in with_null:
        position = ablation.with_image.words.index("<NULL>")
        assert ablation.word_probs_with[position] > 0 and ablation.word_probs_without[position] > 0
        # At temperature 1 the words are drawn from the very probabilities the ablation shows.
        np.testing.assert_allclose(ablation.word_probs_with, ablation.with_image.chosen_probs, rtol=1e-4)


def test_free_sampling_and_ablation_follow_the_temperature_and_seed(data, memorised):
    feature, caption = data["train_features"][0], data["train_captions"][0]
    div = teacher_forcing_vs_free(memorised, feature, caption, temperature=1.5, seed=3)
    sampled = generate_caption(memorised, feature, 1.5, 3, max_length=caption.shape[0] - 1)
    np.testing.assert_array_equal(div.free.ids, sampled.ids)
    assert div.free.temperature == 1.5
    ablation = image_ablation(memorised, feature, temperature=1.5, seed=3)
    np.testing.assert_array_equal(ablation.with_image.ids, generate_caption(memorised, feature, 1.5, 3).ids)
    zero = np.zeros_like(feature)
    np.testing.assert_array_equal(ablation.without_image.ids, generate_caption(memorised, zero, 1.5, 3).ids)
