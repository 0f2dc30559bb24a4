"""Bad input to the engine's layers, model and solver: each raises its CaptioningError subclass naming the
argument and its value, at once, and leaves the model's weights as they were."""

import numpy as np
import pytest

from core.engine import rnn_layers as layers
from core.engine.captioning_solver import CaptioningSolver
from core.engine.rnn import CaptioningRNN
from core.errors import (
    ActivationError,
    DataFileError,
    HyperparameterError,
    NonFiniteError,
    ShapeError,
    VocabularyError,
)
from tests.helpers.faults import raises_within
from tests.helpers.vocab import make_vocab, random_captions

N, T, D, W, H, V = 2, 4, 3, 5, 6, 12
RNG = np.random.default_rng(0)
X = RNG.standard_normal((N, T, D))
H0 = RNG.standard_normal((N, H))
WX = RNG.standard_normal((D, H))
WH = RNG.standard_normal((H, H))
B = np.zeros(H)
VOCAB = make_vocab(V)
FEATURES = RNG.standard_normal((N, D)).astype(np.float32)
CAPTIONS = random_captions(RNG, N, T + 1, V)


def model():
    return CaptioningRNN(VOCAB, input_dim=D, wordvec_dim=W, hidden_dim=H, seed=0)


# --------------------------------------------------------------------------- layers

LAYER_FAULTS = {
    "step bias of the wrong size": (
        lambda: layers.rnn_step_forward(X[:, 0], H0, WX, WH, np.zeros(H + 1)),
        ShapeError,
        ["b", "(6,)", "(7,)"],
    ),
    "step non-square Wh": (
        lambda: layers.rnn_step_forward(X[:, 0], H0, WX, np.zeros((H, H + 1)), B),
        ShapeError,
        ["Wh", "(H, H)", "(6, 7)"],
    ),
    "step batch sizes differ": (
        lambda: layers.rnn_step_forward(X[:, 0], H0[:1], WX, WH, B),
        ShapeError,
        ["prev_h", "batch size N", "got 1"],
    ),
    "sequence bias of the wrong size": (
        lambda: layers.rnn_forward(X, H0, WX, WH, np.zeros((1, H))),
        ShapeError,
        ["b", "(1, 6)"],
    ),
    "sequence batch sizes differ": (
        lambda: layers.rnn_forward(X, H0[:1], WX, WH, B),
        ShapeError,
        ["h0", "got 1"],
    ),
    "sequence non-square Wh": (
        lambda: layers.rnn_forward(X, H0, WX, np.zeros((H + 1, H)), B),
        ShapeError,
        ["Wh", "(7, 6)"],
    ),
    "sequence without timesteps": (
        lambda: layers.rnn_forward(X[:, :0], H0, WX, WH, B),
        ShapeError,
        ["x", "timestep", "(2, 0, 3)"],
    ),
    "a list instead of an array": (
        lambda: layers.rnn_forward(X.tolist(), H0, WX, WH, B),
        ShapeError,
        ["x", "list"],
    ),
    "an array of strings": (
        lambda: layers.rnn_step_forward(X[:, 0].astype(str), H0, WX, WH, B),
        ShapeError,
        ["x", "numbers", "<U"],
    ),
    "unknown activation": (
        lambda: layers.rnn_forward(X, H0, WX, WH, B, activation="swish"),
        ActivationError,
        ["'swish'", "'tanh'"],
    ),
    "step upstream gradient of the wrong shape": (
        lambda: layers.rnn_step_backward(
            np.zeros((N, H + 1)), layers.rnn_step_forward(X[:, 0], H0, WX, WH, B)[1]
        ),
        ShapeError,
        ["dnext_h", "(2, 7)"],
    ),
    "sequence upstream gradient of the wrong shape": (
        lambda: layers.rnn_backward(np.zeros((N, T + 1, H)), layers.rnn_forward(X, H0, WX, WH, B)[1]),
        ShapeError,
        ["dh", "(2, 5, 6)"],
    ),
    "word ids outside the vocabulary": (
        lambda: layers.word_embedding_forward(np.full((N, T), V), np.zeros((V, W))),
        VocabularyError,
        ["x", f"token id {V}", f"0..{V - 1}"],
    ),
    "word ids that are not integers": (
        lambda: layers.word_embedding_forward(np.zeros((N, T)), np.zeros((V, W))),
        VocabularyError,
        ["x", "float64"],
    ),
    "affine upstream gradient of the wrong shape": (
        lambda: layers.temporal_affine_backward(
            np.zeros((N, T, 2)), layers.temporal_affine_forward(X, WX, B)[1]
        ),
        ShapeError,
        ["dout", "(2, 4, 2)"],
    ),
}


@pytest.mark.parametrize("case", LAYER_FAULTS, ids=list(LAYER_FAULTS))
def test_layer_faults(case):
    call, error, names = LAYER_FAULTS[case]
    weights = [WX.copy(), WH.copy(), B.copy()]
    with raises_within(error, *names, seconds=1):
        call()
    for before, after in zip(weights, (WX, WH, B), strict=True):
        np.testing.assert_array_equal(before, after)


# --------------------------------------------------------------------------- the model

CONSTRUCTOR_FAULTS = {
    "hidden_dim 'abc'": ({"hidden_dim": "abc"}, HyperparameterError, ["hidden_dim", "'abc'", "1 to 2048"]),
    "hidden_dim None": ({"hidden_dim": None}, HyperparameterError, ["hidden_dim", "None", "1 to 2048"]),
    # 10**6 would ask for a 7 TiB Wh: refused before any allocation.
    "hidden_dim 10**6": ({"hidden_dim": 10**6}, HyperparameterError, ["hidden_dim", "1000000", "1 to 2048"]),
    "hidden_dim 2.5": ({"hidden_dim": 2.5}, HyperparameterError, ["hidden_dim", "2.5"]),
    "hidden_dim True": ({"hidden_dim": True}, HyperparameterError, ["hidden_dim", "True"]),
    "input_dim 10**6": ({"input_dim": 10**6}, HyperparameterError, ["input_dim", "1 to 4096"]),
    "wordvec_dim 0": ({"wordvec_dim": 0}, HyperparameterError, ["wordvec_dim", "got 0"]),
    "dtype not a float type": ({"dtype": np.int32}, HyperparameterError, ["dtype", "floating-point"]),
    "dtype nonsense": ({"dtype": "banana"}, HyperparameterError, ["dtype", "'banana'"]),
    "seed a word": ({"seed": "x"}, HyperparameterError, ["seed", "'x'"]),
    "seed negative": ({"seed": -1}, HyperparameterError, ["seed", "-1"]),
    "<START> id beyond V": (
        {"word_to_idx": {**VOCAB, "<START>": V + 3}},
        VocabularyError,
        ["<START>", str(V + 3), f"0..{V - 1}"],
    ),
    "<END> id negative": ({"word_to_idx": {**VOCAB, "<END>": -1}}, VocabularyError, ["<END>", "-1"]),
    "a word id that is not a number": (
        {"word_to_idx": {**VOCAB, "w0": "4"}},
        VocabularyError,
        ["'w0'", "'4'", "whole numbers"],
    ),
    "a word that is not a string": ({"word_to_idx": {**VOCAB, 7: 11}}, VocabularyError, ["key 7", "strings"]),
    "vocabulary as a list": ({"word_to_idx": list(VOCAB)}, VocabularyError, ["word_to_idx", "list"]),
    "vocabulary too large": (
        {"word_to_idx": {f"w{i}": i for i in range(100_001)}},
        VocabularyError,
        ["100000", "100001"],
    ),
}


@pytest.mark.parametrize("case", CONSTRUCTOR_FAULTS, ids=list(CONSTRUCTOR_FAULTS))
def test_constructor_faults(case):
    changes, error, names = CONSTRUCTOR_FAULTS[case]
    args = {"word_to_idx": VOCAB, "input_dim": D, "wordvec_dim": W, "hidden_dim": H, **changes}
    with raises_within(error, *names, seconds=1):
        CaptioningRNN(**args)


MODEL_FAULTS = {
    "loss on an empty batch": (
        lambda m: m.loss(FEATURES[:0], CAPTIONS[:0]),
        ShapeError,
        ["features", "empty batch", "(0, 3)"],
    ),
    "loss with NaN features": (lambda m: m.loss(FEATURES * np.nan, CAPTIONS), NonFiniteError, ["features"]),
    "loss with features of the wrong size": (
        lambda m: m.loss(FEATURES[:, :2], CAPTIONS),
        ShapeError,
        ["features", "feature size D = 3", "got 2"],
    ),
    "loss with features as text": (
        lambda m: m.loss(FEATURES.astype(str), CAPTIONS),
        ShapeError,
        ["features", "numbers"],
    ),
    "loss with one caption too few": (
        lambda m: m.loss(FEATURES, CAPTIONS[:1]),
        ShapeError,
        ["captions", "N", "got 1"],
    ),
    "loss with a caption id beyond V": (
        lambda m: m.loss(FEATURES, CAPTIONS + V),
        VocabularyError,
        ["captions", "token id", f"size {V}"],
    ),
    "sample for 10**9 words": (
        lambda m: m.sample(FEATURES, max_length=10**9),
        HyperparameterError,
        ["max_length", "1000000000", "1 to 100"],
    ),
    "sample at temperature NaN": (
        lambda m: m.sample(FEATURES, temperature=float("nan")),
        HyperparameterError,
        ["temperature", "nan", "0 to 100"],
    ),
    "sample at a negative temperature": (
        lambda m: m.sample(FEATURES, temperature=-0.5),
        HyperparameterError,
        ["temperature", "-0.5"],
    ),
    "sample at a temperature that overflows the scores": (
        lambda m: m.sample(FEATURES, temperature=1e-300),
        HyperparameterError,
        ["temperature", "1e-300", "0 (greedy)", "from 0.01 to 100", "overflow", "pass 0"],
    ),
    "sample with a random generator of the wrong type": (
        lambda m: m.sample(FEATURES, temperature=1.0, rng=42),
        HyperparameterError,
        ["rng", "int"],
    ),
    "sample without <START>": (
        lambda m: CaptioningRNN({"<NULL>": 0, "<END>": 1}, input_dim=D).sample(FEATURES),
        VocabularyError,
        ["<START>"],
    ),
    "rebuild from a state without weights": (
        lambda m: CaptioningRNN.from_state({**m.state(), "params": {}}),
        DataFileError,
        ["params['W_proj']", "params['b_vocab']"],
    ),
}


@pytest.mark.parametrize("case", MODEL_FAULTS, ids=list(MODEL_FAULTS))
def test_model_faults(case):
    call, error, names = MODEL_FAULTS[case]
    m = model()
    before = {name: value.copy() for name, value in m.params.items()}
    with raises_within(error, *names, seconds=1):
        call(m)
    for name, value in m.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


# --------------------------------------------------------------------------- the solver


def data(**changes):
    return {
        "train_captions": CAPTIONS,
        "train_image_idxs": np.arange(N),
        "train_features": FEATURES,
        **changes,
    }


SOLVER_FAULTS = {
    "data without train_features": (
        {"data": {"train_captions": CAPTIONS, "train_image_idxs": np.arange(N)}},
        HyperparameterError,
        ["train_features", "load_coco_data"],
    ),
    "data that is a list": ({"data": [CAPTIONS]}, HyperparameterError, ["data", "list"]),
    "features of another size than the model's": (
        {"data": data(train_features=np.zeros((N, D + 1), np.float32))},
        ShapeError,
        ["data['train_features']", "feature size D = 3", "got 4"],
    ),
    "caption ids beyond the model's vocabulary": (
        {"data": data(train_captions=CAPTIONS + V)},
        VocabularyError,
        ["data['train_captions']", f"size {V}"],
    ),
    "image indices that are floats": (
        {"data": data(train_image_idxs=np.arange(N, dtype=float))},
        ShapeError,
        ["data['train_image_idxs']", "float64"],
    ),
    "image indices beyond the features": (
        {"data": data(train_image_idxs=np.array([0, N]))},
        ShapeError,
        ["data['train_image_idxs']", "rows of data['train_features']"],
    ),
    "captions as a list": (
        {"data": data(train_captions=CAPTIONS.tolist())},
        ShapeError,
        ["data['train_captions']", "list"],
    ),
    "optim_config that is a number": ({"optim_config": 0.01}, HyperparameterError, ["optim_config", "0.01"]),
    "learning rate as text": (
        {"optim_config": {"learning_rate": "fast"}},
        HyperparameterError,
        ["learning_rate", "'fast'"],
    ),
    "Adam's beta1 as text": (
        {"optim_config": {"learning_rate": 1e-3, "beta1": "x"}},
        HyperparameterError,
        ["beta1", "'x'", "[0, 1)"],
    ),
    "a misspelled setting": (
        {"optim_config": {"learning_rate": 1e-3, "beta_1": 0.9}},
        HyperparameterError,
        ["'beta_1'", "adam", "beta1"],
    ),
    "momentum of 5": (
        {"update_rule": "sgd_momentum", "optim_config": {"momentum": 5}},
        HyperparameterError,
        ["momentum", "5", "[0, 1)"],
    ),
    "unknown update rule": ({"update_rule": 3}, HyperparameterError, ["update_rule=3", "adam"]),
    "batch size of 10**9": (
        {"batch_size": 10**9},
        HyperparameterError,
        ["batch_size", "1000000000", "10000"],
    ),
    "print_every as text": ({"print_every": "often"}, HyperparameterError, ["print_every", "'often'"]),
    "seed as text": ({"seed": "x"}, HyperparameterError, ["seed", "'x'"]),
    "num_epochs as text": ({"num_epochs": "ten"}, HyperparameterError, ["num_epochs", "'ten'"]),
    "a model that is not a model": ({"model": "rnn"}, HyperparameterError, ["model", "CaptioningRNN", "str"]),
}


@pytest.mark.parametrize("case", SOLVER_FAULTS, ids=list(SOLVER_FAULTS))
def test_solver_option_faults(case):
    changes, error, names = SOLVER_FAULTS[case]
    m = model()
    before = {name: value.copy() for name, value in m.params.items()}
    args = {"model": m, "data": data(), "update_rule": "adam", "verbose": False, **changes}
    with raises_within(error, *names, seconds=1):
        CaptioningSolver(**args)
    for name, value in m.params.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_step_count_as_text_is_refused_and_nothing_runs():
    solver = CaptioningSolver(model(), data(), verbose=False, num_iterations=5)
    with raises_within(HyperparameterError, "num_iterations", "'x'"):
        solver.step("x")
    assert solver.iteration == 0


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
def test_divergence_keeps_the_last_finite_weights_and_names_the_iteration():
    """Adam, ReLU and lr 1e4: the first step whose gradients or new weights are not finite is not taken."""
    m = CaptioningRNN(VOCAB, input_dim=D, wordvec_dim=W, hidden_dim=H, activation="relu", seed=0)
    solver = CaptioningSolver(
        m,
        data(),
        update_rule="adam",
        optim_config={"learning_rate": 1e4},
        batch_size=2,
        verbose=False,
        seed=0,
    )
    kept = {}
    with raises_within(
        NonFiniteError, "Training diverged at iteration", "lower the learning rate", seconds=5
    ) as info:
        while True:
            kept = {name: value.copy() for name, value in m.params.items()}
            solver.step(1)
    assert f"iteration {solver.iteration + 1}:" in str(info.value)
    assert f"weights of iteration {solver.iteration} are kept" in str(info.value)
    for name, value in m.params.items():
        assert np.isfinite(value).all(), name
        np.testing.assert_array_equal(value, kept[name], err_msg=name)
    assert len(solver.loss_history) == solver.iteration and np.isfinite(solver.loss_history).all()
