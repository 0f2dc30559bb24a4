"""The store of trained models: train once with a (tiny) recipe, read it from disk next time, score on val."""

import numpy as np
import pytest

from core.data.paths import model_cache_dir
from core.engine.rnn import CaptioningRNN
from core.errors import DataFileError, HyperparameterError
from core.lab import metrics
from core.lab import trained_models as store
from tests.helpers.embedded import use_tiny_embedded_dataset

TINY = {"wordvec_dim": 8, "hidden_dim": 16, "num_iterations": 12, "batch_size": 25}


@pytest.fixture
def embedded_data(tmp_path, monkeypatch):
    """A tiny embedded dataset (30 train + 10 val images) in a fresh data home, loaded like the app does."""
    use_tiny_embedded_dataset(monkeypatch, tmp_path)
    from core.data.coco_utils import load_coco_data

    data = load_coco_data()
    assert data["source"] == "embedded"
    return data


def test_trains_once_then_loads_from_disk(embedded_data, monkeypatch):
    messages = []
    model = store.trained_model(embedded_data, "full", progress=lambda f, m: messages.append((f, m)), **TINY)
    assert isinstance(model, CaptioningRNN) and model.hidden_dim == 16
    assert messages[-1][0] == 1.0 and "Training" in messages[-1][1]
    path = store.cache_path(embedded_data, "full", **TINY)
    assert path.is_file() and path.parent == model_cache_dir()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left

    def no_training(*args, **kwargs):
        raise AssertionError("should load from the cache, not train")

    monkeypatch.setattr(store, "train_model", no_training)
    again = store.trained_model(embedded_data, "full", **TINY)
    for name, value in model.params.items():
        assert np.array_equal(again.params[name], value)


def test_cache_key_depends_on_recipe_and_data(embedded_data):
    a = store.cache_path(embedded_data, "full", **TINY)
    assert store.cache_path(embedded_data, "full", **{**TINY, "hidden_dim": 17}) != a
    assert store.cache_path(embedded_data, "overfit", **TINY) != a
    other = {**embedded_data, "train_features": embedded_data["train_features"] + 1}
    assert store.cache_path(other, "full", **TINY) != a


def test_training_is_deterministic(embedded_data):
    a = store.train_model(embedded_data, "overfit", **{**TINY, "num_iterations": 4})
    b = store.train_model(embedded_data, "overfit", **{**TINY, "num_iterations": 4})
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_damaged_cache_is_retrained(embedded_data):
    path = store.cache_path(embedded_data, "full", **TINY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an npz")
    with pytest.raises(DataFileError, match=str(path)):
        store.load_model(path)
    messages = []
    model = store.trained_model(embedded_data, "full", progress=lambda f, m: messages.append(m), **TINY)
    assert isinstance(model, CaptioningRNN)
    assert any(str(path) in m and "Training it again" in m for m in messages)
    assert isinstance(store.load_model(path), CaptioningRNN)


def test_every_recipe_is_stored_in_the_same_format(embedded_data):
    """One store: the readable model is one more recipe, written and read like the others."""
    for recipe in store.RECIPES:
        path = store.cache_path(embedded_data, recipe, num_iterations=2)
        assert path.name.startswith(f"{recipe}-") and path.suffix == ".npz"
    model = store.trained_model(embedded_data, "readable", num_iterations=2)
    assert (model.wordvec_dim, model.hidden_dim) == (8, 8)
    loaded = store.load_model(store.cache_path(embedded_data, "readable", num_iterations=2))
    assert all(np.array_equal(loaded.params[k], v) for k, v in model.params.items())


# The overfit cells of RNN_Captioning and LSTM_Captioning: CaptioningSolver(update_rule="adam", num_epochs=50,
# batch_size=25, optim_config={"learning_rate": 5e-3}, lr_decay=...) on 50 captions, W = 256, H = 512.
NOTEBOOK_OVERFIT = {"learning_rate": 5e-3, "batch_size": 25, "num_iterations": 50 * 2, "max_train": 50}


@pytest.mark.parametrize(
    ("recipe", "cell_type", "lr_decay"), [("overfit", "rnn", 0.95), ("lstm_overfit", "lstm", 0.995)]
)
def test_the_overfit_recipes_are_the_notebooks_runs(recipe, cell_type, lr_decay):
    config = store.recipe_config(recipe)
    assert {key: config[key] for key in NOTEBOOK_OVERFIT} == NOTEBOOK_OVERFIT
    assert (config["wordvec_dim"], config["hidden_dim"]) == (256, 512)
    assert config["lr_decay"] == lr_decay and store.recipe_cell_type(recipe) == cell_type


def test_overfit_recipe_uses_fifty_captions(embedded_data):
    config = store.recipe_config("overfit")
    assert (config["max_train"], config["hidden_dim"], config["wordvec_dim"], config["batch_size"]) == (
        50,
        512,
        256,
        25,
    )
    train = store.training_data(embedded_data, 50, 0)
    assert len(train["train_captions"]) == 50
    chosen = store.training_caption_indices(embedded_data, 50, 0)
    np.testing.assert_array_equal(train["train_captions"], embedded_data["train_captions"][chosen])
    assert store.training_caption_indices(embedded_data, None, 0) is None
    assert store.training_data(embedded_data, None, 0) is embedded_data
    with pytest.raises(HyperparameterError, match="recipe"):
        store.recipe_config("huge")
    with pytest.raises(HyperparameterError, match="dropout"):
        store.recipe_config("full", dropout=0.5)


def test_val_score_reports_bleu_and_scene_accuracy(embedded_data):
    model = store.trained_model(embedded_data, "full", **TINY)
    score = metrics.val_score(model, embedded_data)
    assert score.n_images == 10
    assert 0.0 <= score.bleu4 <= 1.0
    assert score.scene_accuracy is not None and 0.0 <= score.scene_accuracy <= 1.0
    coco_like = {**embedded_data, "source": "coco"}
    assert metrics.val_score(model, coco_like, max_images=4).scene_accuracy is None


def test_val_score_of_a_perfect_captioner(embedded_data, monkeypatch):
    """Feeding back a reference caption of each image scores scene accuracy 1 (checker and lookup agree)."""
    refs = {}
    for row, idx in zip(embedded_data["val_captions"], embedded_data["val_image_idxs"], strict=True):
        refs.setdefault(int(idx), row[1:])

    class Oracle:
        def sample(self, features, max_length=16):
            rows = [
                next(i for i in refs if np.array_equal(embedded_data["val_features"][i], f)) for f in features
            ]
            return np.stack([refs[r] for r in rows])

    score = metrics.val_score(Oracle(), embedded_data)
    assert score.scene_accuracy == 1.0 and score.bleu4 > 0.3


def test_lstm_recipes_train_store_and_load_an_lstm(embedded_data):
    assert store.recipe_cell_type("lstm") == store.recipe_cell_type("lstm_readable") == "lstm"
    assert store.recipe_cell_type("full") == store.recipe_cell_type("readable") == "rnn"
    model = store.trained_model(embedded_data, "lstm", **TINY)
    assert model.cell_type == "lstm" and model.params["Wh"].shape == (16, 64)
    loaded = store.load_model(store.cache_path(embedded_data, "lstm", **TINY))
    assert loaded.cell_type == "lstm"
    assert all(np.array_equal(loaded.params[k], v) for k, v in model.params.items())
    assert store.cache_path(embedded_data, "lstm", **TINY) != store.cache_path(embedded_data, "full", **TINY)
    score = metrics.val_score(loaded, embedded_data)
    assert 0.0 <= score.bleu4 <= 1.0
    readable = store.trained_model(embedded_data, "lstm_readable", num_iterations=2)
    assert (readable.cell_type, readable.wordvec_dim, readable.hidden_dim) == ("lstm", 8, 8)
