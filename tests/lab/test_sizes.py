"""Closed-form sizes quoted by the pages: parameter counts and memory, of the vanilla cell and the LSTM."""

import numpy as np
import pytest

from core.engine.rnn import CaptioningRNN
from core.lab.sizes import (
    captioning_parameter_counts,
    lstm_cell_parameter_count,
    lstm_memory_bytes,
    rnn_cell_parameter_count,
    rnn_memory_bytes,
)
from tests.helpers.vocab import make_vocab


@pytest.mark.parametrize(("W", "H"), [(256, 512), (5, 9), (1, 1)])
def test_cell_count_matches_the_model_arrays(W, H):
    model = CaptioningRNN(make_vocab(30), input_dim=7, wordvec_dim=W, hidden_dim=H, seed=0)
    cell = sum(model.params[name].size for name in ("Wx", "Wh", "b"))
    assert rnn_cell_parameter_count(W, H) == cell


def test_captioning_parameter_counts_match_the_model():
    D, W, H, V = 512, 256, 512, 1004
    model = CaptioningRNN(make_vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, seed=0)
    counts = captioning_parameter_counts(D, W, H, V)
    assert counts == {name: value.size for name, value in model.params.items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memory_bytes_are_the_arrays_the_engine_keeps(dtype):
    """Counted from the arrays a real loss keeps in its caches and allocates going back."""
    N, T, D, W, H, V = 3, 6, 7, 5, 9, 30
    model = CaptioningRNN(make_vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, dtype=dtype, seed=0)
    rng = np.random.default_rng(0)
    captions = rng.integers(4, V, size=(N, T + 1))  # every target a word: no <NULL> padding
    record = {}
    model.loss(rng.standard_normal((N, D)), captions, record)
    cache = record["rnn_cache"]
    kept = [cache.x, cache.input_term, cache.carried_term, cache.a, cache.h, record["vocab_cache"].x_rows]
    made = [record["dscores"], record["dh"], record["da"], record["dprev_h"], record["dx"]]
    # temporal_affine_backward gathers the rows of dscores with a word for its products: a copy
    made.append(record["dscores"].reshape(N * T, -1)[record["vocab_cache"].rows])
    sizes = rnn_memory_bytes(N, T, W, H, V, dtype=dtype)
    assert sizes["forward"] == sum(a.nbytes for a in kept)
    assert sizes["backward"] == sum(a.nbytes for a in made)


# --------------------------------------------------------------------------- the LSTM


@pytest.mark.parametrize(("W", "H"), [(256, 512), (5, 9), (1, 1)])
def test_lstm_cell_count_matches_the_model_arrays_and_is_four_vanilla_cells(W, H):
    model = CaptioningRNN(make_vocab(30), input_dim=7, wordvec_dim=W, hidden_dim=H, cell_type="lstm", seed=0)
    cell = sum(model.params[name].size for name in ("Wx", "Wh", "b"))
    assert lstm_cell_parameter_count(W, H) == cell == 4 * rnn_cell_parameter_count(W, H)


def test_lstm_captioning_parameter_counts_match_the_model():
    D, W, H, V = 512, 256, 512, 1004
    model = CaptioningRNN(make_vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="lstm", seed=0)
    counts = captioning_parameter_counts(D, W, H, V, cell_type="lstm")
    assert counts == {name: value.size for name, value in model.params.items()}
    vanilla = captioning_parameter_counts(D, W, H, V)
    assert {k for k in counts if counts[k] != vanilla[k]} == {"Wx", "Wh", "b"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_memory_bytes_are_the_arrays_the_engine_keeps(dtype):
    N, T, D, W, H, V = 3, 6, 7, 5, 9, 30
    model = CaptioningRNN(
        make_vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type="lstm", dtype=dtype, seed=0
    )
    rng = np.random.default_rng(0)
    captions = rng.integers(4, V, size=(N, T + 1))  # every target a word: no <NULL> padding
    record = {}
    model.loss(rng.standard_normal((N, D)), captions, record)
    cache = record["lstm_cache"]
    kept = [
        cache.x,
        cache.input_term,
        cache.carried_term,
        cache.a,
        cache.gates,
        cache.c,
        cache.tanh_c,
        cache.h,
    ]
    kept.append(record["vocab_cache"].x_rows)
    made = [record[k] for k in ("dscores", "dh", "dc", "da", "dprev_h", "dprev_c", "dx")]
    made.append(record["dscores"].reshape(N * T, -1)[record["vocab_cache"].rows])  # gathered rows: a copy
    sizes = lstm_memory_bytes(N, T, W, H, V, dtype=dtype)
    assert sizes["forward"] == sum(a.nbytes for a in kept)
    assert sizes["backward"] == sum(a.nbytes for a in made)
    vanilla = rnn_memory_bytes(N, T, W, H, V, dtype=dtype)
    assert sizes["forward"] > 3 * vanilla["forward"]
