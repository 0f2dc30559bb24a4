"""CaptioningRNN: the notebook's fixed-weights loss, whole-model gradient checks, sampling, bad input.

The tests of what both cells do alike (the composition of the layers, sampling) run for the LSTM too;
test_lstm_model.py has the LSTM's own."""

import subprocess
import sys

import numpy as np
import pytest

from core.engine.activations import ACTIVATIONS
from core.engine.gradient_check import eval_numerical_gradient, rel_error
from core.engine.rnn import PARAM_NAMES, CaptioningRNN
from core.errors import ActivationError, HyperparameterError, NonFiniteError, ShapeError, VocabularyError
from tests.helpers.reference_model import reference_greedy, reference_loss
from tests.helpers.vocab import make_vocab, random_captions

MODEL_TOLERANCE = 1e-6
SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")
# (cell_type, activation) of every cell the model builds: the vanilla cell with each activation, the LSTM.
CELLS = [("rnn", activation) for activation in ACTIVATIONS] + [("lstm", "tanh")]


def test_fixed_weights_loss_matches_notebook():
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V = len(word_to_idx)
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=np.float64)
    for name, value in model.params.items():
        model.params[name] = np.linspace(-1.4, 1.3, num=value.size).reshape(*value.shape)
    features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, grads = model.loss(features, captions)
    assert loss == pytest.approx(9.83235591003, abs=1e-9)
    assert set(grads) == set(PARAM_NAMES)
    assert all(grads[k].shape == model.params[k].shape for k in PARAM_NAMES)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_whole_model_gradients(activation):
    N, D, W, H, T = 2, 4, 5, 6, 3
    word_to_idx = make_vocab(10)
    rng = np.random.default_rng(11)
    captions = rng.integers(10, size=(N, T + 1))
    captions[0, -1] = 0  # one masked target, so the mask takes part in the check
    features = rng.standard_normal((N, D))
    model = CaptioningRNN(word_to_idx, D, W, H, activation=activation, dtype=np.float64, seed=3)
    # Biases start at zero and W_embed at randn / 100, which makes dWx so small that finite-difference
    # round-off dominates it; unit-scale values check the formulas, not the initialisation.
    for name in ("b_proj", "b", "b_vocab"):
        model.params[name] = 0.1 * rng.standard_normal(model.params[name].shape)
    model.params["W_embed"] *= 100
    loss, grads = model.loss(features, captions)
    assert np.isfinite(loss)
    for name in PARAM_NAMES:
        numeric = eval_numerical_gradient(
            lambda _: model.loss(features, captions)[0], model.params[name], verbose=False
        )
        assert rel_error(numeric, grads[name]) < MODEL_TOLERANCE, name


def test_float32_model_stays_float32():
    model = CaptioningRNN(make_vocab(12), 8, 6, 7, seed=0)
    rng = np.random.default_rng(0)
    loss, grads = model.loss(rng.standard_normal((3, 8)), random_captions(rng, 3, 9, 12))
    assert isinstance(loss, float)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())


def test_initialisation_follows_cs231n():
    D, W, H, V = 300, 200, 400, 500
    model = CaptioningRNN(make_vocab(V), D, W, H, seed=1)
    p = model.params
    assert p["W_proj"].shape == (D, H) and p["W_embed"].shape == (V, W) and p["Wx"].shape == (W, H)
    assert p["Wh"].shape == (H, H) and p["W_vocab"].shape == (H, V) and p["b_vocab"].shape == (V,)
    assert np.std(p["W_embed"]) == pytest.approx(0.01, rel=0.05)
    assert np.std(p["W_proj"]) == pytest.approx(1 / np.sqrt(D), rel=0.05)
    assert np.std(p["Wh"]) == pytest.approx(1 / np.sqrt(H), rel=0.05)
    assert not p["b"].any() and not p["b_proj"].any() and not p["b_vocab"].any()
    same = CaptioningRNN(make_vocab(V), D, W, H, seed=1)
    assert all(np.array_equal(p[k], same.params[k]) for k in PARAM_NAMES)


def test_loss_ignores_null_targets():
    """Changing what follows <END> (only <NULL>s are scored as masked) must not change the loss."""
    rng = np.random.default_rng(2)
    model = CaptioningRNN(make_vocab(20), 5, 4, 6, dtype=np.float64, seed=2)
    features = rng.standard_normal((2, 5))
    captions = np.asarray([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0]])
    loss, _ = model.loss(features, captions)
    shorter, _ = model.loss(features, captions[:, :4])
    # the first caption's <END> target sits at column 3, so cutting after it keeps every scored token
    row_two, _ = model.loss(features[1:], captions[1:, :3])
    row_one, _ = model.loss(features[:1], captions[:1, :4])
    assert loss == pytest.approx(shorter)
    assert loss == pytest.approx((row_one + row_two) / 2)


def test_hidden_states_match_loss_forward():
    rng = np.random.default_rng(3)
    model = CaptioningRNN(make_vocab(15), 5, 4, 6, activation="sigmoid", seed=4)
    captions = random_captions(rng, 2, 7, 15)
    h = model.recurrent_forward(rng.standard_normal((2, 5)), captions)[0]
    assert h.shape == (2, 6, 6)
    assert np.all((h > 0) & (h < 1))


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_greedy_sampling_first_column_is_first_word_and_null_after_end(cell_type):
    V = 8
    rng = np.random.default_rng(5)
    model = CaptioningRNN(make_vocab(V), 6, 5, 16, cell_type=cell_type, dtype=np.float64, seed=5)
    # Scale the output layer so the argmax changes from step to step and some rows reach <END>.
    model.params["W_vocab"] *= 8
    features = rng.standard_normal((40, 6))
    ids = model.sample(features, max_length=12)
    reference = reference_greedy(model, features, 12)
    assert ids.shape == (40, 12)
    np.testing.assert_array_equal(ids[:, 0], reference[:, 0])
    end, null = model.word_to_idx["<END>"], model.word_to_idx["<NULL>"]
    ended_rows = 0
    for got, want in zip(ids, reference, strict=True):
        stop = np.flatnonzero(want == end)
        if stop.size:
            ended_rows += 1
            first_end = stop[0]
            np.testing.assert_array_equal(got[: first_end + 1], want[: first_end + 1])
            assert np.all(got[first_end + 1 :] == null)
        else:
            np.testing.assert_array_equal(got, want)
    assert 0 < ended_rows < 40
    np.testing.assert_array_equal(ids, model.sample(features, max_length=12))


def test_sampling_stops_at_end_when_end_always_wins():
    model = CaptioningRNN(make_vocab(9), 4, 3, 5, seed=6)
    model.params["b_vocab"][model.word_to_idx["<END>"]] = 100.0
    ids = model.sample(np.ones((3, 4), np.float32), max_length=5)
    np.testing.assert_array_equal(ids, [[2, 0, 0, 0, 0]] * 3)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_temperature_sampling_is_reproducible_with_a_seeded_rng(cell_type):
    model = CaptioningRNN(make_vocab(50), 6, 5, 8, cell_type=cell_type, seed=7)
    features = np.random.default_rng(7).standard_normal((10, 6)).astype(np.float32)
    first = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(42))
    again = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(42))
    other = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 0 and first.max() < 50
    # Near zero temperature the draw is the argmax, once the top two scores are not near-ties.
    sharp = model.copy()
    sharp.params["W_vocab"] *= 1000
    cold = sharp.sample(features, 15, temperature=0.01, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(cold, sharp.sample(features, 15))


def test_generate_keeps_normalised_distributions():
    model = CaptioningRNN(make_vocab(12), 4, 3, 5, seed=8)
    features = np.random.default_rng(8).standard_normal((2, 4)).astype(np.float32)
    gen = model.generate(features, max_length=4, keep_distributions=True)
    assert gen.distributions.shape == (2, 4, 12)
    np.testing.assert_allclose(gen.distributions[:, 0].sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(gen.ids[:, 0], gen.distributions[:, 0].argmax(axis=1))


# --------------------------------------------------------------------------- persistence


def test_copy_and_state_round_trip():
    model = CaptioningRNN(make_vocab(12), 4, 3, 5, activation="relu", seed=9)
    clone = model.copy(activation="sigmoid")
    clone.params["Wh"] += 1
    assert clone.activation == "sigmoid" and model.activation == "relu"
    assert not np.array_equal(clone.params["Wh"], model.params["Wh"])
    rebuilt = CaptioningRNN.from_state(model.state())
    assert rebuilt.activation == "relu"
    assert all(np.array_equal(rebuilt.params[k], model.params[k]) for k in PARAM_NAMES)


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def small_model():
    return CaptioningRNN(make_vocab(10), 4, 3, 5, seed=0)


def test_features_with_wrong_shape_or_nan_are_refused(small_model):
    captions = np.ones((2, 4), dtype=np.int64)
    with pytest.raises(ShapeError, match=r"^features must have shape \(N, D\)"):
        small_model.loss(np.zeros(4), captions)
    with pytest.raises(ShapeError, match="^features: expected feature size D = 4, got 7"):
        small_model.loss(np.zeros((2, 7)), captions)
    bad = np.zeros((2, 4))
    bad[1, 2] = np.nan
    with pytest.raises(NonFiniteError, match="^features contains NaN"):
        small_model.loss(bad, captions)
    with pytest.raises(NonFiniteError, match="^features"):
        small_model.sample(np.full((1, 4), np.inf))


def test_captions_with_wrong_shape_or_ids_are_refused(small_model):
    features = np.zeros((2, 4))
    with pytest.raises(ShapeError, match="^captions: expected number of rows"):
        small_model.loss(features, np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ShapeError, match="^captions needs at least 2 tokens"):
        small_model.loss(features, np.ones((2, 1), dtype=np.int64))
    with pytest.raises(
        VocabularyError, match="^captions contains token id 10, outside the vocabulary of size 10"
    ):
        small_model.loss(features, np.asarray([[1, 10], [1, 2]]))
    with pytest.raises(VocabularyError, match="^captions must hold integer token ids"):
        small_model.loss(features, np.ones((2, 3)))


def test_bad_constructor_arguments():
    with pytest.raises(ActivationError, match="'swish'"):
        CaptioningRNN(make_vocab(10), activation="swish")
    with pytest.raises(
        HyperparameterError, match="cell_type='gru' is not supported; choose one of 'rnn', 'lstm'"
    ):
        CaptioningRNN(make_vocab(10), cell_type="gru")
    with pytest.raises(HyperparameterError, match="^hidden_dim must be a whole number from 1 to 2048, got 0"):
        CaptioningRNN(make_vocab(10), hidden_dim=0)
    with pytest.raises(VocabularyError, match="<NULL>"):
        CaptioningRNN({"cat": 0, "dog": 1})


def test_bad_sampling_arguments(small_model):
    features = np.zeros((1, 4))
    with pytest.raises(HyperparameterError, match="^temperature must be a number from 0 to 100, got -1"):
        small_model.sample(features, temperature=-1)
    with pytest.raises(HyperparameterError, match="^max_length must be a whole number from 1 to 100, got 0"):
        small_model.sample(features, max_length=0)
    no_start = CaptioningRNN({"<NULL>": 0, "a": 1}, 4, 3, 5)
    with pytest.raises(VocabularyError, match="<START>"):
        no_start.sample(features)


def test_all_null_targets_give_zero_loss_and_gradients():
    model = CaptioningRNN(make_vocab(10), 4, 3, 5, seed=1)
    loss, grads = model.loss(np.ones((2, 4), np.float32), np.asarray([[1, 0, 0], [1, 0, 0]]))
    assert loss == 0.0
    assert all(not g.any() for g in grads.values())


# --------------------------------------------------------------------------- the composition of the layers


@pytest.mark.parametrize(("cell_type", "activation"), CELLS)
def test_loss_is_the_composition_of_the_layers(cell_type, activation):
    rng = np.random.default_rng(4)
    model = CaptioningRNN(
        make_vocab(30), 12, 9, 16, cell_type=cell_type, activation=activation, dtype=np.float64, seed=2
    )
    features = rng.standard_normal((7, 12))
    captions = random_captions(rng, 7, 12, 30)
    loss, grads = model.loss(features, captions)
    expected_loss, expected = reference_loss(model, features, captions)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_record_holds_the_layers_caches_and_gradients():
    rng = np.random.default_rng(5)
    model = CaptioningRNN(make_vocab(20), 6, 5, 8, dtype=np.float64, seed=3)
    features, captions = rng.standard_normal((3, 6)), random_captions(rng, 3, 9, 20)
    record = {}
    loss, grads = model.loss(features, captions, record)
    cache = record["rnn_cache"]
    T = captions.shape[1] - 1
    assert cache.h.shape == record["da"].shape == (T, 3, 8)
    np.testing.assert_allclose(record["h"], cache.h.transpose(1, 0, 2))
    np.testing.assert_allclose(cache.a, cache.input_term + cache.carried_term + model.params["b"])
    np.testing.assert_allclose(record["dprev_h"][0], record["dh0"])
    np.testing.assert_array_equal(record["mask"], captions[:, 1:] != 0)
    assert loss == model.loss(features, captions)[0]


def test_importing_the_layers_loads_no_data_or_thread_libraries():
    code = (
        "import sys, core.engine.rnn_layers, core.engine.rnn\n"
        "print(sorted({'h5py', 'PIL', 'requests', 'threadpoolctl', 'streamlit'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_concurrent_losses_from_several_threads_agree():
    """The server computes for many sessions on threads at once: the engine shares no mutable state."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    model = CaptioningRNN(make_vocab(40), 16, 8, 24, seed=4)
    features = rng.standard_normal((6, 16)).astype(np.float32)
    captions = random_captions(rng, 6, 10, 40)
    expected_loss, expected = model.loss(features, captions)
    with ThreadPoolExecutor(max_workers=4) as callers:
        results = list(callers.map(lambda _: model.loss(features, captions), range(24)))
    for loss, grads in results:
        assert loss == expected_loss
        for name in PARAM_NAMES:
            np.testing.assert_array_equal(grads[name], expected[name])
