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
    """Bytes the captioning forward pass keeps for backward, and the extra the backward pass allocates.

    Forward keeps x (N, T, W), pre-activations and hidden states (2 x N, T, H), scores/probabilities (N, T, V);
    backward holds dscores (N, T, V), dh, da and carried gradients (3 x N, T, H) and dx (N, T, W).
    """
    itemsize = np.dtype(dtype).itemsize
    N, T, W, H, V = batch_size, num_steps, wordvec_dim, hidden_dim, vocab_size
    forward = N * T * (W + 2 * H + V) * itemsize
    backward = N * T * (V + 3 * H + W) * itemsize
    return {"forward": forward, "backward": backward}
