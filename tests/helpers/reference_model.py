"""What CaptioningRNN must compute, written out here independently of core.engine.rnn: the course's loss as the
composition of the layer functions, and the straightforward greedy sampling loop, for both cells."""

import numpy as np

from core.engine.activations import activate
from core.engine.layers import affine_backward, affine_forward
from core.engine.rnn_layers import (
    lstm_backward,
    lstm_forward,
    rnn_backward,
    rnn_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)


def reference_loss(model, features, captions):
    """The course's CaptioningRNN.loss from the layer functions (every position scored, no mask skipping)."""
    p = model.params
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != model.word_to_idx["<NULL>"]
    h0, h0_cache = affine_forward(features, p["W_proj"], p["b_proj"])
    x, embedding_cache = word_embedding_forward(captions_in, p["W_embed"])
    if model.cell_type == "lstm":
        h, cell_cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    else:
        h, cell_cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], model.activation)
    scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
    backward = lstm_backward if model.cell_type == "lstm" else rnn_backward
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cell_cache)
    grads["W_embed"] = word_embedding_backward(dx, embedding_cache)
    _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, h0_cache)
    return loss, grads


def reference_greedy(model, features, max_length):
    """The straightforward greedy loop: feed back the argmax word, no early stop; the LSTM's step written out
    with its gates i, f, o, g = the four H-column blocks of x Wx + h Wh + b."""
    p = model.params
    h = features @ p["W_proj"] + p["b_proj"]
    c = np.zeros_like(h)
    word = np.full(features.shape[0], model.word_to_idx["<START>"])
    out = []
    for _ in range(max_length):
        a = p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"]
        if model.cell_type == "lstm":
            a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
            c = c / (1 + np.exp(-a_f)) + np.tanh(a_g) / (1 + np.exp(-a_i))
            h = np.tanh(c) / (1 + np.exp(-a_o))
        else:
            h = activate(a, model.activation)
        word = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
        out.append(word)
    return np.stack(out, axis=1)
