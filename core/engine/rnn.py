"""The captioning RNN of the course (cs231n/classifiers/rnn.py): image feature -> h0 -> one word per step.

The model is the composition of the layers: its loss calls them in the course's order and their backward
passes in reverse, and sampling calls rnn_step_forward (or lstm_step_forward) once per word. The recurrent
layer is the vanilla RNN (cell_type "rnn", with the activation of its cell) or the LSTM ("lstm").
"""

import numbers
from dataclasses import dataclass

import numpy as np

from core.engine.activations import check_activation
from core.engine.layers import affine_backward, affine_forward
from core.engine.rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    softmax,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from core.engine.seeding import generator
from core.engine.validation import (
    require_dim,
    require_finite,
    require_integer,
    require_ndim,
    require_number,
    require_seed,
    require_token_ids,
)
from core.errors import ActivationError, DataFileError, HyperparameterError, ShapeError, VocabularyError

PARAM_NAMES = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")
CELL_TYPES = ("rnn", "lstm")
# Columns of Wx, Wh and b per hidden unit: the LSTM's four gates i, f, o, g side by side.
GATES = {"rnn": 1, "lstm": 4}
# Upper bounds of the sizes, so that a typo cannot ask for terabytes: D up to VGG's 4096-d fc7 features,
# W and H up to 2048 (the course uses 256 and 512), a vocabulary of up to 100,000 words, captions of up to
# 100 words when sampling, temperatures up to 100. A temperature above 0 is at least MIN_TEMPERATURE: far below
# it, scores / temperature overflows float32 to inf and the probabilities are NaN (the draw is greedy anyway).
MAX_INPUT_DIM = 4096
MAX_HIDDEN_DIM = 2048
MAX_VOCAB_SIZE = 100_000
MAX_SAMPLE_LENGTH = 100
MAX_TEMPERATURE = 100.0
MIN_TEMPERATURE = 0.01


@dataclass
class Generation:
    """Result of CaptioningRNN.generate.

    ids: (N, L) generated word ids (first column = first generated word, <NULL> after <END>);
    distributions: (N, L, V) the softmax each word was drawn from, or None if not kept.
    """

    ids: np.ndarray
    distributions: np.ndarray | None


class CaptioningRNN:
    """An image captioner with a vanilla RNN (cell_type="rnn") or an LSTM (cell_type="lstm").

    Sizes: V = len(word_to_idx) words (at most MAX_VOCAB_SIZE), D = input_dim (1..MAX_INPUT_DIM),
    W = wordvec_dim and H = hidden_dim (1..MAX_HIDDEN_DIM).
    params: W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, G), Wh (H, G), b (G,), W_vocab (H, V),
    b_vocab (V,) with G = H for the RNN and G = 4H for the LSTM (its gates i, f, o, g side by side),
    initialised at the course's scales from core.engine.seeding.generator(seed) (seed None: from NumPy's global
    random state, so np.random.seed makes it repeatable).

    The arguments up to dtype are the course's, in its order; activation and seed come after them.
    activation: the vanilla cell's f in h_t = f(a_t) ("tanh", "sigmoid" or "relu"). The LSTM's gates fix
    their nonlinearities (σ for i, f, o; tanh for g and the cell), so an LSTM takes only "tanh", the
    default; anything else raises ActivationError.
    """

    def __init__(
        self,
        word_to_idx,
        input_dim=512,
        wordvec_dim=128,
        hidden_dim=128,
        cell_type="rnn",
        dtype=np.float32,
        activation="tanh",
        seed=None,
    ):
        if cell_type not in CELL_TYPES:
            raise HyperparameterError(
                f"cell_type={cell_type!r} is not supported; choose one of {', '.join(map(repr, CELL_TYPES))}."
            )
        self.cell_type = cell_type
        self.activation = _checked_activation(activation, cell_type)
        self.dtype = _checked_dtype(dtype)
        self.word_to_idx = _checked_vocabulary(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self._null = self.word_to_idx["<NULL>"]
        self._start = self.word_to_idx.get("<START>")
        self._end = self.word_to_idx.get("<END>")
        self.seed = require_seed("seed", seed)

        V = len(self.word_to_idx)
        D = require_integer("input_dim", input_dim, 1, MAX_INPUT_DIM)
        W = require_integer("wordvec_dim", wordvec_dim, 1, MAX_HIDDEN_DIM)
        H = require_integer("hidden_dim", hidden_dim, 1, MAX_HIDDEN_DIM)
        G = GATES[cell_type] * H
        rng = generator(seed)
        self.params = {
            "W_proj": rng.standard_normal((D, H)) / np.sqrt(D),
            "b_proj": np.zeros(H),
            "W_embed": rng.standard_normal((V, W)) / 100,
            "Wx": rng.standard_normal((W, G)) / np.sqrt(W),
            "Wh": rng.standard_normal((H, G)) / np.sqrt(H),
            "b": np.zeros(G),
            "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H),
            "b_vocab": np.zeros(V),
        }
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    # ------------------------------------------------------------------ sizes

    @property
    def vocab_size(self):
        return self.params["W_embed"].shape[0]

    @property
    def input_dim(self):
        return self.params["W_proj"].shape[0]

    @property
    def wordvec_dim(self):
        return self.params["W_embed"].shape[1]

    @property
    def hidden_dim(self):
        return self.params["Wh"].shape[0]

    def config(self):
        """Constructor arguments that rebuild a model of the same cell, shape and activation."""
        return {
            "input_dim": self.input_dim,
            "wordvec_dim": self.wordvec_dim,
            "hidden_dim": self.hidden_dim,
            "cell_type": self.cell_type,
            "activation": self.activation,
            "seed": self.seed,
        }

    def copy(self, activation=None):
        """An independent copy (same weights), optionally with another activation (vanilla cell only)."""
        clone = CaptioningRNN.__new__(CaptioningRNN)
        clone.__dict__.update(self.__dict__)
        clone.word_to_idx = dict(self.word_to_idx)
        clone.params = {k: v.copy() for k, v in self.params.items()}
        if activation is not None:
            clone.activation = _checked_activation(activation, self.cell_type)
        return clone

    # ------------------------------------------------------------------ checks

    def check_features(self, features, name="features"):
        """features: (N, D) finite, N >= 1, D = input_dim."""
        require_ndim(name, features, 2, "(N, D)")
        if features.shape[0] < 1:
            raise ShapeError(f"{name} is an empty batch (shape {features.shape}); pass at least one row.")
        require_dim(name, features.shape[1], self.input_dim, "feature size D")
        require_finite(name, features)

    def check_captions(self, captions, batch_size, name="captions"):
        """captions: (N, T + 1) integer ids inside the vocabulary."""
        require_ndim(name, captions, 2, "(N, T + 1)")
        require_dim(name, captions.shape[0], batch_size, "number of rows (one caption per feature row) N")
        if captions.shape[1] < 2:
            raise ShapeError(
                f"{name} needs at least 2 tokens per caption (<START> and one target), got shape {captions.shape}."
            )
        require_token_ids(name, captions, self.vocab_size)

    # ------------------------------------------------------------------ training

    def loss(self, features, captions, record=None):
        """features: (N, D), captions: (N, T + 1) ids -> (loss, grads) with grads named like params.

        The RNN reads captions[:, :-1] and is scored on captions[:, 1:], ignoring <NULL> targets.
        record: an optional dict; it receives the forward pass's values and caches and the gradients
        flowing back (h0, x, h, vocab_cache, scores, mask, dscores, dh, dx, dh0; the recurrent layer's cache
        as rnn_cache (an RNNCache) or lstm_cache (an LSTMCache); and what rnn_backward or lstm_backward
        record: da and dprev_h, and for the LSTM dc and dprev_c), which the explainer's traces read.
        """
        self.check_features(features)
        self.check_captions(captions, features.shape[0])
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        features = features.astype(self.dtype, copy=False)

        h0, h0_cache = affine_forward(features, p["W_proj"], p["b_proj"])
        x, embedding_cache = word_embedding_forward(captions_in, p["W_embed"])
        if self.cell_type == "lstm":
            h, cell_cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
            cell_backward = lstm_backward
        else:
            h, cell_cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], self.activation)
            cell_backward = rnn_backward
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"], mask)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = cell_backward(dh, cell_cache, record)
        grads["W_embed"] = word_embedding_backward(dx, embedding_cache)
        _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, h0_cache)
        if record is not None:
            record.update(
                h0=h0,
                x=x,
                h=h,
                vocab_cache=vocab_cache,
                scores=scores,
                mask=mask,
                dscores=dscores,
                dh=dh,
                dx=dx,
                dh0=dh0,
            )
            record[f"{self.cell_type}_cache"] = cell_cache
        return loss, grads

    def recurrent_forward(self, features, captions):
        """The forward pass up to the recurrent layer while reading captions[:, :-1] (no scores, no loss).

        features: (N, D), captions: (N, T + 1) -> h: (N, T, H) and the layer's cache: an RNNCache, or for
        the LSTM an LSTMCache (with its gates, c_t and tanh(c_t)).
        """
        self.check_features(features)
        self.check_captions(captions, features.shape[0])
        p = self.params
        h0, _ = affine_forward(features.astype(self.dtype, copy=False), p["W_proj"], p["b_proj"])
        x, _ = word_embedding_forward(captions[:, :-1], p["W_embed"])
        if self.cell_type == "lstm":
            return lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
        return rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], self.activation)

    # ------------------------------------------------------------------ inference

    def generate(self, features, max_length=30, temperature=0.0, rng=None, keep_distributions=False):
        """Caption each feature row word by word, feeding each word back in.

        features: (N, D) -> Generation with ids (N, max_length), max_length in 1..MAX_SAMPLE_LENGTH.
        temperature 0 is greedy (argmax); from MIN_TEMPERATURE to MAX_TEMPERATURE, each word is drawn from
        softmax(scores / temperature) with `rng` (np.random.Generator).
        """
        self.check_features(features)
        if self._start is None or self._end is None:
            raise VocabularyError("Sampling needs '<START>' and '<END>' in word_to_idx.")
        temperature = require_number("temperature", temperature, 0.0, MAX_TEMPERATURE)
        if 0 < temperature < MIN_TEMPERATURE:
            raise HyperparameterError(
                f"temperature must be 0 (greedy) or from {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}, got "
                f"{temperature:g}: below {MIN_TEMPERATURE:g} the scores divided by it can overflow. For "
                "greedy captions pass 0."
            )
        max_length = require_integer("max_length", max_length, 1, MAX_SAMPLE_LENGTH)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise HyperparameterError(f"rng must be a np.random.Generator or None, got {type(rng).__name__}.")
        rng = rng if rng is not None else np.random.default_rng()
        p = self.params
        N, V = features.shape[0], self.vocab_size
        ids = np.full((N, max_length), self._null, dtype=np.int64)
        distributions = np.zeros((N, max_length, V), dtype=self.dtype) if keep_distributions else None
        finished = np.zeros(N, dtype=bool)

        h, _ = affine_forward(features.astype(self.dtype, copy=False), p["W_proj"], p["b_proj"])
        c = np.zeros_like(h)  # the LSTM's cell state
        word = np.full(N, self._start)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"], self.activation)
            scores, _ = affine_forward(h, p["W_vocab"], p["b_vocab"])
            probs = softmax(scores / temperature if temperature > 0 else scores)
            if keep_distributions:
                distributions[:, t] = probs
            word = probs.argmax(axis=1) if temperature == 0 else _draw(probs, rng)
            word = np.where(finished, self._null, word)
            ids[:, t] = word
            finished |= word == self._end
            if finished.all():
                break
        return Generation(ids, distributions)

    def sample(self, features, max_length=30, temperature=0.0, rng=None):
        """features: (N, D) -> int ids (N, max_length); greedy at temperature 0. See generate()."""
        return self.generate(features, max_length, temperature, rng).ids

    # ------------------------------------------------------------------ persistence

    def state(self):
        """A dict of plain arrays and values from which `from_state` rebuilds this model."""
        return {"config": self.config(), "word_to_idx": dict(self.word_to_idx), "params": dict(self.params)}

    @classmethod
    def from_state(cls, state, dtype=np.float32):
        """The model of a `state()` dict; DataFileError naming what is missing, ShapeError for a weight of
        the wrong shape."""
        missing = [key for key in ("config", "word_to_idx", "params") if key not in state]
        missing += [f"params[{name!r}]" for name in PARAM_NAMES if name not in state.get("params", {})]
        if missing:
            raise DataFileError(
                f"The model state has no {', '.join(missing)}; pass a dict of CaptioningRNN.state()."
            )
        model = cls(state["word_to_idx"], dtype=dtype, **state["config"])
        for name in PARAM_NAMES:
            require_dim(f"params[{name!r}]", state["params"][name].shape, model.params[name].shape, "shape")
            model.params[name] = np.asarray(state["params"][name], dtype=dtype)
        return model


def _checked_activation(activation, cell_type):
    """`activation` if the cell takes it: any of the vanilla cell's activations, only "tanh" for the LSTM."""
    check_activation(activation)
    if cell_type == "lstm" and activation != "tanh":
        raise ActivationError(
            f"activation={activation!r} does not apply to cell_type='lstm': its gates fix their "
            "nonlinearities (sigmoid for i, f, o; tanh for g and the cell). Leave activation='tanh' (the "
            "default) for the LSTM, or choose cell_type='rnn'."
        )
    return activation


def _checked_vocabulary(word_to_idx):
    """A copy of word_to_idx if it is a dict of 1 to MAX_VOCAB_SIZE words (strings) holding '<NULL>', whose
    ids are whole numbers and whose special tokens have ids inside the vocabulary [0, V); else
    VocabularyError naming the word at fault."""
    size = len(word_to_idx) if isinstance(word_to_idx, dict) else None
    if size is None or not 1 <= size <= MAX_VOCAB_SIZE:
        raise VocabularyError(
            f"word_to_idx must be a dict of 1 to {MAX_VOCAB_SIZE} words, got {type(word_to_idx).__name__}"
            + (f" of {size} words." if size is not None else ".")
        )
    if "<NULL>" not in word_to_idx:
        raise VocabularyError("word_to_idx must contain the padding token '<NULL>'.")
    for word, index in word_to_idx.items():
        if not isinstance(word, str):
            raise VocabularyError(f"word_to_idx has the key {word!r}; words must be strings.")
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise VocabularyError(f"word_to_idx[{word!r}] = {index!r}; word ids must be whole numbers.")
    # Only the special tokens' ids are read by the model (the course's own test vocabulary has a gap).
    for token in ("<NULL>", "<START>", "<END>"):
        if token in word_to_idx and not 0 <= word_to_idx[token] < size:
            raise VocabularyError(
                f"word_to_idx[{token!r}] = {word_to_idx[token]} is outside the vocabulary of {size} words "
                f"(ids 0..{size - 1})."
            )
    return dict(word_to_idx)


def _checked_dtype(dtype):
    """`dtype` as a NumPy floating-point type, else HyperparameterError."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if checked is None or checked.kind != "f":
        raise HyperparameterError(f"dtype must be a floating-point type such as np.float32, got {dtype!r}.")
    return checked.type


def _draw(probs, rng):
    """One index per row of probs (N, V), drawn with rng."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < u).sum(axis=1), probs.shape[1] - 1)
