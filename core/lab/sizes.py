"""Closed-form sizes the pages quote: parameter counts and the memory a pass holds, for both cells."""

import numpy as np

from core.engine.rnn import GATES


def rnn_cell_parameter_count(input_dim, hidden_dim):
    """Parameters of one vanilla RNN cell: Wx (D, H) + Wh (H, H) + b (H,) = H (D + H + 1)."""
    return hidden_dim * (input_dim + hidden_dim + 1)


def lstm_cell_parameter_count(input_dim, hidden_dim):
    """Parameters of one LSTM cell: Wx (D, 4H) + Wh (H, 4H) + b (4H,) = 4H (D + H + 1), four times the
    vanilla cell's: one set of weights per gate i, f, o, g."""
    return 4 * rnn_cell_parameter_count(input_dim, hidden_dim)


def captioning_parameter_counts(input_dim, wordvec_dim, hidden_dim, vocab_size, cell_type="rnn"):
    """Parameter count of every CaptioningRNN parameter of the cell type ("rnn" or "lstm"), by name."""
    D, W, H, V = input_dim, wordvec_dim, hidden_dim, vocab_size
    G = GATES[cell_type] * H
    return {
        "W_proj": D * H,
        "b_proj": H,
        "W_embed": V * W,
        "Wx": W * G,
        "Wh": H * G,
        "b": G,
        "W_vocab": H * V,
        "b_vocab": V,
    }


def rnn_memory_bytes(batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size, dtype=np.float32):
    """Bytes the captioning loss keeps from its forward pass for the backward pass, and the bytes the
    backward pass allocates, for N captions of T steps whose targets are all words.

    Forward (the caches): the inputs x (N, T, W) and, per step, x Wx, h Wh, a and h (4 x N, T, H), and the
    hidden states the vocabulary layer reads (N, T, H); the scores (N, T, V) are made and consumed by the
    loss. Backward: dscores (N, T, V) and its rows gathered for the vocabulary layer's products (another
    N, T, V: every target is a word), dh, da (2 x N, T, H), what each step sends back (N, T + 1, H) and
    dx (N, T, W).
    """
    N, T, W, H, V = batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size
    forward = N * T * (W + 5 * H)
    backward = N * T * (2 * V + 2 * H + W) + N * (T + 1) * H
    return _bytes(forward, backward, dtype)


def lstm_memory_bytes(batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size, dtype=np.float32):
    """As rnn_memory_bytes, for the LSTM captioner.

    Forward (the caches): the inputs x (N, T, W); per step x Wx, h Wh, the gates' pre-activations a and the
    gates i, f, o, g (4 x N, T, 4H); c_t, tanh(c_t) and h_t (3 x N, T, H); and the hidden states the
    vocabulary layer reads (N, T, H). Backward: dscores (N, T, V) and its gathered rows (N, T, V), dh and dc
    (2 x N, T, H), da (N, T, 4H), what each step sends back through h and along the cell (2 x N, T + 1, H),
    dx (N, T, W).
    """
    N, T, W, H, V = batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size
    forward = N * T * (W + 4 * 4 * H + 4 * H)
    backward = N * T * (2 * V + 2 * H + 4 * H + W) + 2 * N * (T + 1) * H
    return _bytes(forward, backward, dtype)


def _bytes(forward_values, backward_values, dtype):
    itemsize = np.dtype(dtype).itemsize
    return {"forward": forward_values * itemsize, "backward": backward_values * itemsize}
