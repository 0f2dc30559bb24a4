"""Closed-form sizes quoted by the pages: parameter counts and memory."""

import numpy as np
import pytest

from core.model import CaptioningRNN
from core.sizes import captioning_parameter_counts, rnn_cell_parameter_count, rnn_memory_bytes
from tests.test_model import make_vocab


@pytest.mark.parametrize(("D", "H", "expected"), [(256, 512, 393_728), (128, 128, 32_896), (1, 1, 3)])
def test_rnn_cell_parameter_count_is_h_times_d_plus_h_plus_one(D, H, expected):
    assert rnn_cell_parameter_count(D, H) == expected == H * (D + H + 1)


def test_cell_count_matches_the_model_arrays():
    model = CaptioningRNN(make_vocab(30), input_dim=7, wordvec_dim=5, hidden_dim=9, seed=0)
    cell = sum(model.params[name].size for name in ("Wx", "Wh", "b"))
    assert rnn_cell_parameter_count(5, 9) == cell


def test_captioning_parameter_counts_match_the_model():
    D, W, H, V = 512, 256, 512, 1004
    model = CaptioningRNN(make_vocab(V), input_dim=D, wordvec_dim=W, hidden_dim=H, seed=0)
    counts = captioning_parameter_counts(D, W, H, V)
    assert counts == {name: value.size for name, value in model.params.items()}
    assert sum(counts.values()) == 1_428_460


def test_memory_bytes():
    sizes = rnn_memory_bytes(25, 16, 256, 512, 1004)
    assert sizes == {
        "forward": 25 * 16 * (256 + 1024 + 1004) * 4,
        "backward": 25 * 16 * (1004 + 1536 + 256) * 4,
    }
    assert rnn_memory_bytes(25, 16, 256, 512, 1004, dtype=np.float64)["forward"] == 2 * sizes["forward"]
