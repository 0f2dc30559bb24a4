"""Trained-model cache: train once with a (tiny) recipe, load from disk next time, score on val."""

import numpy as np
import pytest

from core import pretrained, scenes
from core.errors import HyperparameterError
from core.model import CaptioningRNN

TINY = {"wordvec_dim": 8, "hidden_dim": 16, "num_epochs": 2, "batch_size": 25}


@pytest.fixture
def embedded_data(tmp_path, monkeypatch):
    """A tiny embedded dataset (30 train + 10 val images) in a fresh data home, loaded like the app does."""
    monkeypatch.setenv("RNN_EXPLAINER_HOME", str(tmp_path))
    monkeypatch.delenv("COCO_DIR", raising=False)
    monkeypatch.setattr(scenes, "N_TRAIN", 30)
    monkeypatch.setattr(scenes, "N_VAL", 10)
    from core.data import load_coco_data

    data = load_coco_data()
    assert data["source"] == "embedded"
    return data


def test_trains_once_then_loads_from_disk(embedded_data, monkeypatch):
    messages = []
    model = pretrained.trained_model(embedded_data, "full", progress=lambda f, m: messages.append((f, m)), **TINY)
    assert isinstance(model, CaptioningRNN) and model.hidden_dim == 16
    assert messages[-1][0] == 1.0 and "Training" in messages[-1][1]
    path = pretrained.cache_path(embedded_data, "full", **TINY)
    assert path.is_file() and path.parent == pretrained.paths.model_cache_dir()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left

    def no_training(*args, **kwargs):
        raise AssertionError("should load from the cache, not train")

    monkeypatch.setattr(pretrained, "train_model", no_training)
    again = pretrained.trained_model(embedded_data, "full", **TINY)
    for name, value in model.params.items():
        assert np.array_equal(again.params[name], value)


def test_cache_key_depends_on_recipe_and_data(embedded_data):
    a = pretrained.cache_path(embedded_data, "full", **TINY)
    assert pretrained.cache_path(embedded_data, "full", **{**TINY, "hidden_dim": 17}) != a
    assert pretrained.cache_path(embedded_data, "overfit", **TINY) != a
    other = {**embedded_data, "train_features": embedded_data["train_features"] + 1}
    assert pretrained.cache_path(other, "full", **TINY) != a


def test_training_is_deterministic(embedded_data):
    a = pretrained.train_model(embedded_data, "overfit", **{**TINY, "num_epochs": 1})
    b = pretrained.train_model(embedded_data, "overfit", **{**TINY, "num_epochs": 1})
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_damaged_cache_is_retrained(embedded_data):
    path = pretrained.cache_path(embedded_data, "full", **TINY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an npz")
    model = pretrained.trained_model(embedded_data, "full", **TINY)
    assert isinstance(model, CaptioningRNN)
    assert isinstance(pretrained.load_cached_model(path), CaptioningRNN)


def test_overfit_recipe_uses_fifty_captions(embedded_data):
    config = pretrained.recipe_config("overfit")
    assert (config["max_train"], config["hidden_dim"], config["wordvec_dim"], config["batch_size"]) == (50, 512, 256, 25)
    train = pretrained.training_data(embedded_data, 50, 0)
    assert len(train["train_captions"]) == 50
    chosen = pretrained.training_caption_indices(embedded_data, 50, 0)
    np.testing.assert_array_equal(train["train_captions"], embedded_data["train_captions"][chosen])
    assert pretrained.training_caption_indices(embedded_data, None, 0) is None
    assert pretrained.training_data(embedded_data, None, 0) is embedded_data
    with pytest.raises(HyperparameterError, match="recipe"):
        pretrained.recipe_config("huge")
    with pytest.raises(HyperparameterError, match="dropout"):
        pretrained.recipe_config("full", dropout=0.5)


def test_val_score_reports_bleu_and_scene_accuracy(embedded_data):
    model = pretrained.trained_model(embedded_data, "full", **TINY)
    score = pretrained.val_score(model, embedded_data)
    assert score.n_images == 10
    assert 0.0 <= score.bleu4 <= 1.0
    assert score.scene_accuracy is not None and 0.0 <= score.scene_accuracy <= 1.0
    coco_like = {**embedded_data, "source": "coco"}
    assert pretrained.val_score(model, coco_like, max_images=4).scene_accuracy is None


def test_val_score_of_a_perfect_captioner(embedded_data, monkeypatch):
    """Feeding back a reference caption of each image scores scene accuracy 1 (checker and lookup agree)."""
    refs = {}
    for row, idx in zip(embedded_data["val_captions"], embedded_data["val_image_idxs"], strict=True):
        refs.setdefault(int(idx), row[1:])

    class Oracle:
        def sample(self, features, max_length=16):
            rows = [next(i for i in refs if np.array_equal(embedded_data["val_features"][i], f)) for f in features]
            return np.stack([refs[r] for r in rows])

    score = pretrained.val_score(Oracle(), embedded_data)
    assert score.scene_accuracy == 1.0 and score.bleu4 > 0.3
