"""CaptioningRNN with cell_type="lstm": the notebook's fixed-weights loss, whole-model float64 gradient checks,
the record, persistence, and the activation that does not apply. (test_rnn.py runs the composition of the
layers and the sampling tests for both cells.)"""

import json
from pathlib import Path

import numpy as np
import pytest

from core.engine.gradient_check import eval_numerical_gradient, rel_error
from core.engine.rnn import PARAM_NAMES, CaptioningRNN
from core.engine.rnn_layers import LSTMCache
from core.errors import ActivationError
from tests.helpers.vocab import make_vocab, random_captions

NOTEBOOK = json.loads((Path(__file__).parent / "notebook_lstm_values.json").read_text())
MODEL_TOLERANCE = 1e-6


def lstm_model(V=20, D=6, W=5, H=8, dtype=np.float64, seed=3):
    return CaptioningRNN(make_vocab(V), D, W, H, cell_type="lstm", dtype=dtype, seed=seed)


def test_fixed_weights_loss_matches_notebook():
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    model = CaptioningRNN(word_to_idx, D, W, H, cell_type="lstm", dtype=np.float64)
    for name, value in model.params.items():
        model.params[name] = np.linspace(-1.4, 1.3, num=value.size).reshape(*value.shape)
    features = np.linspace(-0.5, 1.7, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    # the notebook asks for a difference below 1e-10 (it printed 2.26e-12)
    assert loss == pytest.approx(NOTEBOOK["captioning_lstm_loss"]["expected_loss"], abs=1e-10)
    assert set(grads) == set(PARAM_NAMES)
    assert all(grads[k].shape == model.params[k].shape for k in PARAM_NAMES)


def model_and_batch(seed):
    """A float64 LSTM captioner (N=2, T=3, D=4, W=5, H=6, V=10) with unit-scale random parameters (0.5 randn:
    the course's initialisation makes the cell's gradients so small that round-off dominates them) and a
    minibatch with one masked target, so that the mask takes part in the check."""
    N, D, T = 2, 4, 3
    rng = np.random.default_rng(seed)
    captions = rng.integers(10, size=(N, T + 1))
    captions[0, -1] = 0
    features = rng.standard_normal((N, D))
    model = lstm_model(V=10, D=D, W=5, H=6)
    for name in PARAM_NAMES:
        model.params[name] = 0.5 * rng.standard_normal(model.params[name].shape)
    return model, features, captions


def numeric_gradients(model, features, captions):
    return {
        name: eval_numerical_gradient(
            lambda _: model.loss(features, captions)[0], model.params[name], verbose=False
        )
        for name in PARAM_NAMES
    }


def test_whole_model_gradients():
    """Every entry within the vanilla model's tolerance. Centred differences (h = 1e-5) resolve a gradient
    entry to about 1e-11 here, so this holds for entries above 1e-5, as every nonzero entry of this input is
    (the rows of W_embed of words the batch does not use are exactly 0, numerically too)."""
    model, features, captions = model_and_batch(seed=1)
    loss, grads = model.loss(features, captions)
    assert np.isfinite(loss)
    assert min(np.abs(g[g != 0]).min() for g in grads.values()) > 1e-5
    for name, numeric in numeric_gradients(model, features, captions).items():
        assert rel_error(numeric, grads[name]) < MODEL_TOLERANCE, name


@pytest.mark.parametrize("seed", [0, 3, 6])
def test_whole_model_gradients_of_any_input(seed):
    """For any input the error relative to the gradient's size (||a - n|| / (||a|| + ||n||)) is round-off,
    even where an entry is near zero and its own relative error is not."""
    model, features, captions = model_and_batch(seed)
    _, grads = model.loss(features, captions)
    for name, numeric in numeric_gradients(model, features, captions).items():
        difference = np.linalg.norm(grads[name] - numeric)
        assert difference / (np.linalg.norm(grads[name]) + np.linalg.norm(numeric)) < 1e-8, name


def test_initialisation_follows_cs231n():
    D, W, H, V = 300, 200, 400, 500
    model = CaptioningRNN(make_vocab(V), D, W, H, cell_type="lstm", seed=1)
    p = model.params
    assert p["Wx"].shape == (W, 4 * H) and p["Wh"].shape == (H, 4 * H) and p["b"].shape == (4 * H,)
    assert p["W_proj"].shape == (D, H) and p["W_vocab"].shape == (H, V)
    assert model.hidden_dim == H
    assert np.std(p["Wx"]) == pytest.approx(1 / np.sqrt(W), rel=0.05)
    assert np.std(p["Wh"]) == pytest.approx(1 / np.sqrt(H), rel=0.05)
    assert not p["b"].any()
    assert all(v.dtype == np.float32 for v in p.values())


def test_record_holds_the_lstm_cache_and_backward_record():
    rng = np.random.default_rng(5)
    model = lstm_model()
    features, captions = rng.standard_normal((3, 6)), random_captions(rng, 3, 9, 20)
    record = {}
    loss, _ = model.loss(features, captions, record)
    cache = record["lstm_cache"]
    assert isinstance(cache, LSTMCache) and "rnn_cache" not in record
    T, H = captions.shape[1] - 1, 8
    assert cache.gates.shape == record["da"].shape == (T, 3, 4 * H)
    assert cache.c.shape == cache.tanh_c.shape == record["dc"].shape == (T, 3, H)
    assert record["dprev_c"].shape == record["dprev_h"].shape == (T + 1, 3, H)
    np.testing.assert_allclose(record["h"], cache.h.transpose(1, 0, 2))
    np.testing.assert_allclose(record["dprev_h"][0], record["dh0"])
    np.testing.assert_allclose(model.recurrent_forward(features, captions)[0], record["h"])
    h, same = model.recurrent_forward(features, captions)
    np.testing.assert_allclose(same.c, cache.c)
    assert loss == model.loss(features, captions)[0]


def test_float32_lstm_stays_float32():
    model = lstm_model(V=12, D=8, W=6, H=7, dtype=np.float32, seed=0)
    rng = np.random.default_rng(0)
    loss, grads = model.loss(rng.standard_normal((3, 8)), random_captions(rng, 3, 9, 12))
    assert isinstance(loss, float)
    assert all(g.dtype == np.float32 for g in grads.values())


# --------------------------------------------------------------------------- persistence and the activation


def test_copy_and_state_keep_the_cell():
    model = lstm_model(V=12, D=4, W=3, H=5, dtype=np.float32, seed=9)
    assert model.config()["cell_type"] == "lstm"
    clone = model.copy()
    clone.params["Wh"] += 1
    assert clone.cell_type == "lstm" and not np.array_equal(clone.params["Wh"], model.params["Wh"])
    rebuilt = CaptioningRNN.from_state(model.state())
    assert rebuilt.cell_type == "lstm" and rebuilt.params["Wh"].shape == (5, 20)
    assert all(np.array_equal(rebuilt.params[k], model.params[k]) for k in PARAM_NAMES)


def test_activation_does_not_apply_to_the_lstm():
    assert lstm_model().activation == "tanh"
    with pytest.raises(ActivationError, match="^activation='relu' does not apply to cell_type='lstm'"):
        CaptioningRNN(make_vocab(10), cell_type="lstm", activation="relu")
    with pytest.raises(ActivationError, match="'sigmoid' does not apply"):
        lstm_model().copy(activation="sigmoid")
    assert lstm_model().copy(activation="tanh").cell_type == "lstm"
    with pytest.raises(ActivationError, match="'swish'"):
        CaptioningRNN(make_vocab(10), cell_type="lstm", activation="swish")
