"""Closed-form sizes the pages quote: parameter counts and the memory a pass holds."""

import numpy as np


def rnn_cell_parameter_count(input_dim, hidden_dim):
    """Parameters of one vanilla RNN cell: Wx (D, H) + Wh (H, H) + b (H,) = H (D + H + 1)."""
    return hidden_dim * (input_dim + hidden_dim + 1)


def captioning_parameter_counts(input_dim, wordvec_dim, hidden_dim, vocab_size):
    """Parameter count of every CaptioningRNN parameter, by name."""
    D, W, H, V = input_dim, wordvec_dim, hidden_dim, vocab_size
    return {
        "W_proj": D * H,
        "b_proj": H,
        "W_embed": V * W,
        "Wx": W * H,
        "Wh": H * H,
        "b": H,
        "W_vocab": H * V,
        "b_vocab": V,
    }


def rnn_memory_bytes(batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size, dtype=np.float32):
    """Bytes the captioning loss keeps from its forward pass for the backward pass, and the bytes the
    backward pass allocates, for N captions of T steps whose targets are all words.

    Forward (the caches): the inputs x (N, T, W) and, per step, x Wx, h Wh, a and h (4 x N, T, H), and the
    hidden states the vocabulary layer reads (N, T, H); the scores (N, T, V) are made and consumed by the
    loss. Backward: dscores (N, T, V), dh, da (2 x N, T, H) and what each step sends back (N, T + 1, H),
    dx (N, T, W).
    """
    itemsize = np.dtype(dtype).itemsize
    N, T, W, H, V = batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size
    forward = N * T * (W + 5 * H) * itemsize
    backward = (N * T * (V + 2 * H + W) + N * (T + 1) * H) * itemsize
    return {"forward": forward, "backward": backward}
