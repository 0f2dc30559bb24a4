"""The captioning RNN of CS231n: image feature -> initial hidden state -> words."""

import threading
from dataclasses import dataclass

import numpy as np

from core.activations import activate, check_activation
from core.errors import HyperparameterError, ShapeError, VocabularyError
from core.layers import (
    RNNCache,
    affine_forward,
    backprop_through_time,
    rnn_backward,
    rnn_forward,
    rnn_weight_gradients,
    softmax_gradient_rows,
    two_cores,
    word_embedding_backward,
    word_embedding_forward,
)
from core.validation import require_dim, require_finite, require_ndim, require_token_ids

# Timestep chunks of the vocabulary work in the two-thread loss (see CaptioningRNN._loss_two_threads).
_CHUNKS = 4

PARAM_NAMES = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")


@dataclass
class Generation:
    """Result of CaptioningRNN.generate.

    ids: (N, L) generated word ids (first column = first generated word, <NULL> after <END>);
    distributions: (N, L, V) the softmax the model sampled each word from, or None if not kept.
    """

    ids: np.ndarray
    distributions: np.ndarray | None


class CaptioningRNN:
    """A vanilla-RNN image captioner.

    Sizes: V = len(word_to_idx) words, D = input_dim, W = wordvec_dim, H = hidden_dim.
    params: W_proj (D, H), b_proj (H,), W_embed (V, W), Wx (W, H), Wh (H, H), b (H,), W_vocab (H, V), b_vocab (V,).
    """

    def __init__(
        self,
        word_to_idx,
        input_dim=512,
        wordvec_dim=128,
        hidden_dim=128,
        cell_type="rnn",
        activation="tanh",
        dtype=np.float32,
        seed=None,
    ):
        if cell_type != "rnn":
            raise HyperparameterError(
                f"cell_type={cell_type!r} is not implemented; this explainer uses cell_type='rnn'."
            )
        if "<NULL>" not in word_to_idx:
            raise VocabularyError("word_to_idx must contain the padding token '<NULL>'.")
        for name, value in (
            ("input_dim", input_dim),
            ("wordvec_dim", wordvec_dim),
            ("hidden_dim", hidden_dim),
        ):
            if int(value) < 1:
                raise HyperparameterError(f"{name} must be a positive integer, got {value}.")
        self.cell_type = cell_type
        self.activation = check_activation(activation)
        self.dtype = dtype
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")
        self._end = word_to_idx.get("<END>")
        self.seed = seed

        V, D, W, H = len(word_to_idx), int(input_dim), int(wordvec_dim), int(hidden_dim)
        rng = np.random.default_rng(seed)
        self.params = {
            "W_proj": rng.standard_normal((D, H)) / np.sqrt(D),
            "b_proj": np.zeros(H),
            "W_embed": rng.standard_normal((V, W)) / 100,
            "Wx": rng.standard_normal((W, H)) / np.sqrt(W),
            "Wh": rng.standard_normal((H, H)) / np.sqrt(H),
            "b": np.zeros(H),
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
        """Constructor arguments that rebuild a model of the same shape and activation."""
        return {
            "input_dim": self.input_dim,
            "wordvec_dim": self.wordvec_dim,
            "hidden_dim": self.hidden_dim,
            "cell_type": self.cell_type,
            "activation": self.activation,
            "seed": self.seed,
        }

    def copy(self, activation=None):
        """An independent copy (same weights), optionally with another activation."""
        clone = CaptioningRNN.__new__(CaptioningRNN)
        clone.__dict__.update(self.__dict__)
        clone.word_to_idx = dict(self.word_to_idx)
        clone.params = {k: v.copy() for k, v in self.params.items()}
        if activation is not None:
            clone.activation = check_activation(activation)
        return clone

    # ------------------------------------------------------------------ checks

    def check_features(self, features, name="features"):
        """features: (N, D) finite, D = input_dim."""
        require_ndim(name, features, 2, "(N, D)")
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

    def loss(self, features, captions):
        """features: (N, D), captions: (N, T + 1) ids -> (loss, grads) with grads named like params.

        The RNN reads captions[:, :-1] and is scored on captions[:, 1:], ignoring <NULL> targets.
        """
        self.check_features(features)
        self.check_captions(captions, features.shape[0])
        N, T = captions.shape[0], captions.shape[1] - 1
        # Time-major token order (row t * N + n): every (T, N, ...) array then reshapes to (T N, ...)
        # without a copy, through the embedding, the recurrence and the vocabulary products alike.
        ids_tm = captions.T
        ids_in = np.ascontiguousarray(ids_tm[:-1])
        targets = ids_tm[1:].ravel()
        # <NULL> targets add nothing to the loss or the gradients, so the vocabulary products skip their rows.
        scored = np.flatnonzero(targets != self._null)
        features = features.astype(self.dtype, copy=False)
        with two_cores() as pool:
            if pool is None or T < 2:
                return self._loss_serial(features, ids_in, targets, scored, N, T)
            return self._loss_two_threads(features, ids_in, targets, scored, N, T, pool)

    def _loss_serial(self, features, ids_in, targets, scored, N, T):
        p, H = self.params, self.hidden_dim
        h0, _ = affine_forward(features, p["W_proj"], p["b_proj"])
        x_tm, embed_cache = word_embedding_forward(ids_in, p["W_embed"])
        _, rnn_cache = rnn_forward(x_tm.transpose(1, 0, 2), h0, p["Wx"], p["Wh"], p["b"], self.activation)
        h_flat = rnn_cache.h_tm.reshape(T * N, H)
        all_scored = scored.size == T * N
        h_scored = h_flat if all_scored else h_flat[scored]
        dscores = h_scored @ p["W_vocab"]
        dscores += p["b_vocab"]
        log_p = np.empty(scored.size, dtype=dscores.dtype)
        softmax_gradient_rows(dscores, targets[scored], N, log_p)
        loss = float(-log_p.sum(dtype=np.float64) / N)

        grads = {"W_vocab": h_scored.T @ dscores, "b_vocab": dscores.sum(axis=0)}
        dh_scored = dscores @ p["W_vocab"].T
        if all_scored:
            dh_tm = dh_scored.reshape(T, N, H)
        else:
            dh_tm = np.zeros((T, N, H), dtype=dh_scored.dtype)
            dh_tm.reshape(T * N, H)[scored] = dh_scored
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh_tm.transpose(1, 0, 2), rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx.transpose(1, 0, 2), embed_cache)
        # The image projection needs only its weight gradients, not d(features).
        grads["W_proj"] = features.T @ dh0
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads

    def _loss_two_threads(self, features, ids_in, targets, scored, N, T, pool):
        """loss() on this thread and the `pool` worker, each with one BLAS thread (see core.layers.two_cores).

        Forward: the worker forms the second half of x Wx, then scores, softmax and d h of the first time
        chunks as soon as the recurrence (on this thread) has passed them; this thread then takes the
        remaining chunks from the last one back. Backward: the worker forms dW_vocab and db_vocab during
        backpropagation through time, then dWh while this thread forms dWx, dx and the embedding gradient.
        Every row and product is computed as in _loss_serial, only grouped differently.
        """
        p, H, V = self.params, self.hidden_dim, self.vocab_size
        dtype = np.result_type(p["Wh"], p["W_vocab"])
        h0, _ = affine_forward(features, p["W_proj"], p["b_proj"])
        x_tm, embed_cache = word_embedding_forward(ids_in, p["W_embed"])
        W = x_tm.shape[2]
        x_flat = x_tm.reshape(T * N, W)
        a_tm = np.empty((T, N, H), dtype=np.result_type(x_tm, p["Wx"]))
        a_flat = a_tm.reshape(T * N, H)
        h_tm = np.empty_like(a_tm)
        h_flat = h_tm.reshape(T * N, H)

        def input_part(start, stop):
            np.matmul(x_flat[start:stop], p["Wx"], out=a_flat[start:stop])
            a_flat[start:stop] += p["b"]

        # Vocabulary work in chunks of timesteps; chunk c covers scored rows bounds[c]:bounds[c + 1].
        steps = np.linspace(0, T, min(_CHUNKS, T) + 1).astype(int)
        bounds = np.searchsorted(scored, steps * N)
        chunks = len(steps) - 1
        ready = [threading.Event() for _ in range(chunks)]
        claim = threading.Lock()
        claimed = {"front": 0, "back": chunks - 1, "abort": False}
        h_scored = np.empty((scored.size, H), dtype=h_tm.dtype)
        dscores = np.empty((scored.size, V), dtype=dtype)
        dh_scored = np.empty((scored.size, H), dtype=dtype)
        log_p = np.empty(scored.size, dtype=dtype)
        scored_targets = targets[scored]

        def vocab_chunk(c):
            lo, hi = bounds[c], bounds[c + 1]
            if lo == hi:
                return
            np.take(h_flat, scored[lo:hi], axis=0, out=h_scored[lo:hi])
            np.matmul(h_scored[lo:hi], p["W_vocab"], out=dscores[lo:hi])
            dscores[lo:hi] += p["b_vocab"]
            softmax_gradient_rows(dscores[lo:hi], scored_targets[lo:hi], N, log_p[lo:hi])
            np.matmul(dscores[lo:hi], p["W_vocab"].T, out=dh_scored[lo:hi])

        def take(end):
            with claim:
                if claimed["abort"] or claimed["front"] > claimed["back"]:
                    return None
                c = claimed[end]
                claimed[end] += 1 if end == "front" else -1
                return c

        inputs_ready = threading.Event()

        def worker_forward(half):
            try:
                input_part(half, T * N)
            finally:
                inputs_ready.set()
            while (c := take("front")) is not None:
                ready[c].wait()
                if claimed["abort"]:
                    return
                vocab_chunk(c)

        half = (T // 2) * N
        pending = pool.submit(worker_forward, half)
        try:
            input_part(0, half)
            recurrent = np.empty((N, H), dtype=np.result_type(h0, p["Wh"]))
            prev_h, chunk = h0, 0
            for t in range(T):
                if t == T // 2:
                    inputs_ready.wait()
                np.matmul(prev_h, p["Wh"], out=recurrent)
                a_tm[t] += recurrent
                activate(a_tm[t], self.activation, out=h_tm[t])
                prev_h = h_tm[t]
                while chunk < chunks and steps[chunk + 1] == t + 1:
                    ready[chunk].set()
                    chunk += 1
            while (c := take("back")) is not None:
                vocab_chunk(c)
        except BaseException:
            # Release the worker before leaving: it may be waiting for a chunk this thread will not finish.
            with claim:
                claimed["abort"] = True
            inputs_ready.set()
            for event in ready:
                event.set()
            raise
        finally:
            pending.result()
        loss = float(-log_p.sum(dtype=np.float64) / N)

        def vocab_weights():
            return {"W_vocab": h_scored.T @ dscores, "b_vocab": dscores.sum(axis=0)}

        pending = pool.submit(vocab_weights)
        try:
            if scored.size == T * N:
                dh_tm = dh_scored.reshape(T, N, H)
            else:
                dh_tm = np.zeros((T, N, H), dtype=dtype)
                dh_tm.reshape(T * N, H)[scored] = dh_scored
            rnn_cache = RNNCache(x_tm, h0, h_tm, a_tm, p["Wx"], p["Wh"], self.activation)
            record = backprop_through_time(dh_tm.transpose(1, 0, 2), rnn_cache)
        finally:
            grads = pending.result()
        dx_tm, grads["Wx"], grads["Wh"], grads["b"] = rnn_weight_gradients(record.da, rnn_cache, pool)
        grads["W_embed"] = word_embedding_backward(dx_tm, embed_cache)
        grads["W_proj"] = features.T @ record.dh0
        grads["b_proj"] = record.dh0.sum(axis=0)
        return loss, grads

    def hidden_states(self, features, captions):
        """Hidden states while reading captions[:, :-1]: (N, T, H). For activation histograms."""
        self.check_features(features)
        self.check_captions(captions, features.shape[0])
        p = self.params
        h0, _ = affine_forward(features.astype(self.dtype, copy=False), p["W_proj"], p["b_proj"])
        x, _ = word_embedding_forward(captions[:, :-1], p["W_embed"])
        h, _ = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], self.activation)
        return h

    # ------------------------------------------------------------------ inference

    def generate(self, features, max_length=30, temperature=0.0, rng=None, keep_distributions=False):
        """Caption each feature row word by word, feeding each word back in.

        features: (N, D) -> Generation with ids (N, max_length). temperature 0 is greedy (argmax);
        otherwise words are drawn from softmax(scores / temperature) with `rng` (np.random.Generator).
        """
        self.check_features(features)
        if self._start is None or self._end is None:
            raise VocabularyError("Sampling needs '<START>' and '<END>' in word_to_idx.")
        if temperature < 0:
            raise HyperparameterError(f"temperature must be >= 0, got {temperature}.")
        if int(max_length) < 1:
            raise HyperparameterError(f"max_length must be at least 1, got {max_length}.")
        rng = rng if rng is not None else np.random.default_rng()
        p = self.params
        N, L, V = features.shape[0], int(max_length), self.vocab_size
        h = features.astype(self.dtype, copy=False) @ p["W_proj"] + p["b_proj"]
        word = np.full(N, self._start)
        ids = np.full((N, L), self._null, dtype=np.int64)
        distributions = np.zeros((N, L, V), dtype=self.dtype) if keep_distributions else None
        finished = np.zeros(N, dtype=bool)
        for t in range(L):
            h = activate(p["W_embed"][word] @ p["Wx"] + h @ p["Wh"] + p["b"], self.activation)
            scores = h @ p["W_vocab"] + p["b_vocab"]
            if temperature == 0 and not keep_distributions:
                word = scores.argmax(axis=1)
            else:
                probs = _softmax(scores / temperature if temperature > 0 else scores)
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
        model = cls(state["word_to_idx"], dtype=dtype, **state["config"])
        for name in PARAM_NAMES:
            require_dim(f"params[{name!r}]", state["params"][name].shape, model.params[name].shape, "shape")
            model.params[name] = np.asarray(state["params"][name], dtype=dtype)
        return model


def _softmax(scores):
    """scores: (N, V) -> probabilities (N, V)."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _draw(probs, rng):
    """One index per row of probs (N, V), drawn with rng."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < u).sum(axis=1), probs.shape[1] - 1)
