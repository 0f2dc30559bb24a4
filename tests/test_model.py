"""CaptioningRNN: the notebook's fixed-weights loss, whole-model gradient checks, sampling, bad input."""

import os

import numpy as np
import pytest

from core.activations import ACTIVATIONS, activate
from core.errors import ActivationError, HyperparameterError, NonFiniteError, ShapeError, VocabularyError
from core.gradient_check import eval_numerical_gradient, rel_error
from core.model import PARAM_NAMES, CaptioningRNN

MODEL_TOLERANCE = 1e-6
SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")


def make_vocab(size):
    """word_to_idx with the CS231n special tokens at 0..3 and `size` words in total."""
    words = list(SPECIAL) + [f"w{i}" for i in range(size - len(SPECIAL))]
    return {w: i for i, w in enumerate(words)}


def random_captions(rng, n, length, vocab_size):
    """(n, length) captions: <START>, random words, <END>, then <NULL> padding."""
    captions = np.zeros((n, length), dtype=np.int32)
    captions[:, 0] = 1
    for row in captions:
        words = rng.integers(3, length - 1)
        row[1 : 1 + words] = rng.integers(len(SPECIAL), vocab_size, size=words)
        row[1 + words] = 2
    return captions


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
    h = model.hidden_states(rng.standard_normal((2, 5)), captions)
    assert h.shape == (2, 6, 6)
    assert np.all((h > 0) & (h < 1))


# --------------------------------------------------------------------------- sampling


def reference_greedy(model, features, max_length):
    """The straightforward greedy loop: feed back the argmax word, no early stop."""
    p = model.params
    h = features @ p["W_proj"] + p["b_proj"]
    word = np.full(features.shape[0], model.word_to_idx["<START>"])
    out = []
    for _ in range(max_length):
        h = activate(p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"], model.activation)
        word = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
        out.append(word)
    return np.stack(out, axis=1)


def test_greedy_sampling_first_column_is_first_word_and_null_after_end():
    V = 8
    rng = np.random.default_rng(5)
    model = CaptioningRNN(make_vocab(V), 6, 5, 16, dtype=np.float64, seed=5)
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


def test_temperature_sampling_is_reproducible_with_a_seeded_rng():
    model = CaptioningRNN(make_vocab(50), 6, 5, 8, seed=7)
    features = np.random.default_rng(7).standard_normal((10, 6)).astype(np.float32)
    first = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(42))
    again = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(42))
    other = model.sample(features, 15, temperature=1.5, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 0 and first.max() < 50
    # Near zero temperature the draw is the argmax, once the top two scores are not near-ties.
    sharp = model.copy()
    sharp.params["W_vocab"] *= 100
    cold = sharp.sample(features, 15, temperature=1e-3, rng=np.random.default_rng(1))
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
    with pytest.raises(HyperparameterError, match="cell_type='lstm'"):
        CaptioningRNN(make_vocab(10), cell_type="lstm")
    with pytest.raises(HyperparameterError, match="^hidden_dim must be a positive integer, got 0"):
        CaptioningRNN(make_vocab(10), hidden_dim=0)
    with pytest.raises(VocabularyError, match="<NULL>"):
        CaptioningRNN({"cat": 0, "dog": 1})


def test_bad_sampling_arguments(small_model):
    features = np.zeros((1, 4))
    with pytest.raises(HyperparameterError, match="^temperature must be >= 0"):
        small_model.sample(features, temperature=-1)
    with pytest.raises(HyperparameterError, match="^max_length must be at least 1"):
        small_model.sample(features, max_length=0)
    no_start = CaptioningRNN({"<NULL>": 0, "a": 1}, 4, 3, 5)
    with pytest.raises(VocabularyError, match="<START>"):
        no_start.sample(features)


def test_all_null_targets_give_zero_loss_and_gradients():
    model = CaptioningRNN(make_vocab(10), 4, 3, 5, seed=1)
    loss, grads = model.loss(np.ones((2, 4), np.float32), np.asarray([[1, 0, 0], [1, 0, 0]]))
    assert loss == 0.0
    assert all(not g.any() for g in grads.values())


# --------------------------------------------------------------------------- the two-thread loss


@pytest.fixture
def two_threads(monkeypatch):
    """Force the two-thread paths of core (tests run with one BLAS thread, where they are off)."""
    import core.layers

    monkeypatch.setattr(core.layers, "PARALLEL", "always")


def serial_and_two_thread_losses(monkeypatch, model, features, captions):
    import core.layers

    monkeypatch.setattr(core.layers, "PARALLEL", "never")
    serial = model.loss(features, captions)
    monkeypatch.setattr(core.layers, "PARALLEL", "always")
    return serial, model.loss(features, captions)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_thread_loss_matches_the_serial_loss(monkeypatch, activation, dtype):
    """Same rows, same products, grouped differently: equal to float rounding (bitwise with OpenBLAS)."""
    rng = np.random.default_rng(4)
    N, T, V = 7, 11, 30
    model = CaptioningRNN(make_vocab(V), 12, 9, 16, activation=activation, dtype=dtype, seed=2)
    features = rng.standard_normal((N, 12))
    for captions in (random_captions(rng, N, T + 1, V), rng.integers(4, V, size=(N, T + 1))):  # padded, full
        (loss_1, grads_1), (loss_2, grads_2) = serial_and_two_thread_losses(
            monkeypatch, model, features, captions
        )
        assert loss_2 == pytest.approx(loss_1, rel=1e-6)
        for name in PARAM_NAMES:
            assert grads_2[name].dtype == grads_1[name].dtype == dtype
            scale = np.abs(grads_1[name]).max() + 1e-30
            np.testing.assert_allclose(grads_2[name], grads_1[name], rtol=0, atol=1e-5 * scale, err_msg=name)


def test_two_thread_loss_is_deterministic_and_handles_edge_batches(monkeypatch, two_threads):
    rng = np.random.default_rng(8)
    model = CaptioningRNN(make_vocab(20), 6, 5, 8, seed=1)
    features = rng.standard_normal((5, 6)).astype(np.float32)
    captions = random_captions(rng, 5, 9, 20)
    first = model.loss(features, captions)
    for _ in range(5):
        again = model.loss(features, captions)
        assert again[0] == first[0]
        assert all(np.array_equal(again[1][k], first[1][k]) for k in PARAM_NAMES)
    # One timestep, and a batch whose targets are all <NULL>.
    loss, grads = model.loss(features, captions[:, :2])
    assert np.isfinite(loss)
    loss, grads = model.loss(np.ones((2, 6), np.float32), np.asarray([[1, 0, 0], [1, 0, 0]]))
    assert loss == 0.0 and all(not g.any() for g in grads.values())


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_two_thread_whole_model_gradients(two_threads, activation):
    test_whole_model_gradients(activation)


def test_two_threads_only_when_blas_allows_more_than_one_thread(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import core.layers

    monkeypatch.setattr(core.layers, "PARALLEL", "auto")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with core.layers.two_cores() as pool:
            assert pool is None  # the Streamlit server's and the tests' setting: serial, limits untouched
    if not core.layers._blas_controllers() or (os.cpu_count() or 1) < 2:
        return
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with core.layers.two_cores() as pool:
            assert pool is not None
            inside = {
                lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"
            }
            assert inside == {1}  # one BLAS thread per Python thread inside the region
            with core.layers.two_cores() as nested:
                assert nested is None  # one region at a time; others run serially
        after = {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}
        assert after == {2}  # restored on exit


def test_concurrent_losses_from_several_threads_are_correct(monkeypatch, two_threads):
    """Callers on several threads: one gets the two-thread region, the others run serially, all agree."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    model = CaptioningRNN(make_vocab(40), 16, 8, 24, seed=4)
    features = rng.standard_normal((6, 16)).astype(np.float32)
    captions = random_captions(rng, 6, 10, 40)
    expected_loss, expected = model.loss(features, captions)
    with ThreadPoolExecutor(max_workers=4) as callers:
        results = list(callers.map(lambda _: model.loss(features, captions), range(24)))
    for loss, grads in results:
        assert loss == pytest.approx(expected_loss, rel=1e-6)
        for name in PARAM_NAMES:
            np.testing.assert_allclose(grads[name], expected[name], rtol=1e-5, atol=1e-7)
