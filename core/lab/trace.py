"""Per-timestep records of one caption's forward and backward pass, for the explainer pages.

`trace_example` runs the model's own loss (N = 1) and reads every number the pages show from what the
layers recorded: the step caches of rnn_forward or lstm_forward and the gradients rnn_backward or
lstm_backward walked back through time. No page recomputes anything.

The vanilla cell gives a ForwardTrace and a BackwardTrace; the LSTM an LSTMForwardTrace (a ForwardTrace
with the gates, c_{t-1}, c_t and tanh(c_t)) and an LSTMBackwardTrace (the gradient through h beside the one
carried along the cell state). Both kinds say which they are with `cell_type`. Every ExampleTrace also has
a GradientReach: how much of the last word's loss gradient reaches each earlier step, the same measure for
both cells, for comparing them on the same example.
"""

from dataclasses import dataclass

import numpy as np

from core.engine.activations import derivative, tanh_derivative
from core.engine.rnn_layers import log_softmax, lstm_backward, rnn_backward
from core.engine.validation import require_ndim, require_number
from core.errors import HyperparameterError

# The largest shift of the forget gate's bias a trace accepts: σ(±20) is 0 or 1 to 9 digits.
MAX_FORGET_BIAS_SHIFT = 20.0


@dataclass
class ForwardTrace:
    """Forward pass over one caption, T steps. Step t reads ids_in[t] and is scored on ids_target[t].

    x: (T, W) word vectors; h_prev: (T, H) the state each step receives (h_prev[0] = h0 from the image);
    wx_x: (T, H) = x_t Wx; wh_h: (T, H) = h_{t-1} Wh; b: (H,); a: (T, H) pre-activations; h: (T, H);
    probs: (T, V) next-word distributions (zeros where mask is False: the model scores no <NULL> target);
    step_loss: (T,) -log p(target), 0 where mask is False;
    mask: (T,) False at <NULL> targets; loss = step_loss.sum(); running_loss: (T,) cumulative sum.
    """

    activation: str
    feature: np.ndarray
    ids_in: np.ndarray
    ids_target: np.ndarray
    mask: np.ndarray
    h0: np.ndarray
    x: np.ndarray
    h_prev: np.ndarray
    wx_x: np.ndarray
    wh_h: np.ndarray
    b: np.ndarray
    a: np.ndarray
    h: np.ndarray
    probs: np.ndarray
    step_loss: np.ndarray
    running_loss: np.ndarray
    loss: float

    @property
    def num_steps(self):
        return self.ids_in.shape[0]

    @property
    def cell_type(self):
        return "rnn"


@dataclass
class LSTMForwardTrace(ForwardTrace):
    """The forward pass of an LSTM over one caption: a ForwardTrace whose wx_x, wh_h and a are (T, 4H) and b
    (4H,), the pre-activations of the gates side by side [i | f | o | g] (activation is "tanh", the LSTM's
    fixed nonlinearity of g and the cell), plus per step the gates i, f, o = σ(a_i, a_f, a_o) and
    g = tanh(a_g): (T, H) each; c_prev: (T, H) the cell state each step receives (c_prev[0] = c0 = 0);
    c: (T, H) c_t = f * c_{t-1} + i * g; tanh_c: (T, H); and h: (T, H) h_t = o * tanh(c_t).
    """

    i: np.ndarray
    f: np.ndarray
    o: np.ndarray
    g: np.ndarray
    c_prev: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray

    @property
    def cell_type(self):
        return "lstm"

    @property
    def kept(self):
        """(T, H) f * c_{t-1}: what the cell keeps of its previous state."""
        return self.f * self.c_prev

    @property
    def written(self):
        """(T, H) i * g: what the input gate writes of the candidate; c_t = kept + written."""
        return self.i * self.g


@dataclass
class GradientThroughTime:
    """What both backward traces hold (their docstrings say what each field is in that cell).

    Step t's contributions to dWx and dWh are the outer products x_tᵀ da_t and h_{t-1}ᵀ da_t. The trace keeps
    their factors, x (T, W) and h_prev (T, H) beside da, and forms a contribution where it is read
    (dWx_steps, dWh_steps, contribution_factors()): kept whole, a notebook-size LSTM trace held 96 MiB of them.
    """

    dh_from_loss: np.ndarray
    dh_carried: np.ndarray
    dh_total: np.ndarray
    da: np.ndarray
    x: np.ndarray
    h_prev: np.ndarray
    db_steps: np.ndarray
    dWx: np.ndarray
    dWh: np.ndarray
    db: np.ndarray
    dh0: np.ndarray

    def contribution_factors(self, param):
        """The factors of each step's contribution to d`param` ("Wh" or "Wx"): (left (T, H or W), da (T, G)),
        with step t's contribution np.outer(left[t], da[t])."""
        return (self.h_prev if param == "Wh" else self.x), self.da

    @property
    def dWx_steps(self):
        """(T, W, G) each step's contribution to dWx (formed now from x and da; summing over t gives dWx)."""
        return np.einsum("tw,tg->twg", self.x, self.da)

    @property
    def dWh_steps(self):
        """(T, H, G) each step's contribution to dWh (formed now from h_prev and da; summing over t gives dWh)."""
        return np.einsum("tk,tg->tkg", self.h_prev, self.da)

    def norms(self):
        """Per-step L2 norms of the gradient at h_t: dict of (T,) arrays for from_loss, carried and total."""
        return {
            "from_loss": np.linalg.norm(self.dh_from_loss, axis=1),
            "carried": np.linalg.norm(self.dh_carried, axis=1),
            "total": np.linalg.norm(self.dh_total, axis=1),
        }

    def _sent_to_h_prev(self):
        """(T,) norm of what step t sends back to h_{t-1} (the first entry: dh0, what reaches h0)."""
        return np.concatenate([[np.linalg.norm(self.dh0)], np.linalg.norm(self.dh_carried[:-1], axis=1)])


@dataclass
class BackwardTrace(GradientThroughTime):
    """Backprop through time over the same caption.

    dh_from_loss: (T, H) gradient reaching h_t from the loss at t; dh_carried: (T, H) gradient reaching h_t
    from step t+1 (0 at the last step); dh_total = their sum; local_derivative: (T, H) f'(a_t);
    da: (T, H) = dh_total * f'(a_t); x: (T, W) and h_prev: (T, H) the inputs and the states each step received;
    dWx_steps: (T, W, H), dWh_steps: (T, H, H), db_steps: (T, H) each step's contribution (summing over t gives
    dWx, dWh, db; the first two formed when read); dh0: (H,) gradient reaching the image projection.
    """

    local_derivative: np.ndarray

    def survival(self):
        """(T,) share of gradient norm that crosses from step t back to t-1: ||da_t Wh^T|| / ||dh_total_t||.

        Entry t is the carried gradient arriving at h_{t-1} divided by the total at h_t (the first entry uses
        dh0); NaN where no gradient reaches h_t at all (after the caption's end), where there is no ratio.
        """
        return _share(self._sent_to_h_prev(), np.linalg.norm(self.dh_total, axis=1), nothing=np.nan)

    @property
    def cell_type(self):
        return "rnn"


@dataclass
class LSTMBackwardTrace(GradientThroughTime):
    """Backprop through time over the same caption, for the LSTM.

    Through h: dh_from_loss (T, H), the gradient reaching h_t from the loss at t; dh_carried (T, H), from step
    t+1 through Wh (0 at the last step); dh_total = their sum.
    Along the cell state: dc_carried (T, H), the gradient reaching c_t from step t+1 through its forget gate,
    dc_{t+1} * f_{t+1} (0 at the last step); dc_from_h (T, H) = dh_total * o_t * (1 - tanh²(c_t)), the part
    that comes through h_t; dc = their sum, the whole gradient of c_t.
    da: (T, 4H) the gradients of the gates' pre-activations [i | f | o | g] (by gate: gate_gradients()); x: (T, W)
    and h_prev: (T, H) the inputs and the states each step received; dWx_steps: (T, W, 4H), dWh_steps: (T, H, 4H),
    db_steps: (T, 4H) each step's contribution (summing over t gives dWx, dWh, db; the first two formed when read);
    dh0: (H,) gradient reaching the image projection.
    """

    dc_carried: np.ndarray
    dc_from_h: np.ndarray
    dc: np.ndarray

    @property
    def cell_type(self):
        return "lstm"

    def gate_gradients(self):
        """{"i", "f", "o", "g"} -> (T, H): the gradient of each gate's pre-activation (da's four blocks)."""
        return dict(zip("ifog", np.split(self.da, 4, axis=1), strict=True))

    def norms(self):
        """Per-step L2 norms, dict of (T,) arrays: through h (from_loss, carried, total, as BackwardTrace.norms)
        and along the cell (cell_carried, cell_from_h, cell)."""
        return {
            **super().norms(),
            "cell_carried": np.linalg.norm(self.dc_carried, axis=1),
            "cell_from_h": np.linalg.norm(self.dc_from_h, axis=1),
            "cell": np.linalg.norm(self.dc, axis=1),
        }

    def survival(self):
        """(T,) share of gradient norm that crosses from step t back to t-1, counting both paths: the norm of
        (what reaches h_{t-1}, what reaches c_{t-1}) over the norm of (dh_total_t, dc_carried_t), what step t
        receives. The first entry uses dh0 (c0 is a constant: nothing is sent to it). NaN where step t receives
        no gradient at all: there is no ratio."""
        receives = np.hypot(np.linalg.norm(self.dh_total, axis=1), np.linalg.norm(self.dc_carried, axis=1))
        sent_to_c_prev = np.concatenate([[0.0], np.linalg.norm(self.dc_carried[:-1], axis=1)])
        return _share(np.hypot(self._sent_to_h_prev(), sent_to_c_prev), receives, nothing=np.nan)


@dataclass
class GradientReach:
    """How far back one loss term's gradient reaches: the gradient of the loss of the last scored word (at
    step `source`) with respect to the state every step t hands on, computed by the cell's own backward pass
    from the caches of the traced loss.

    h: (T,) ||∂L_source/∂h_t||; c: (T,) ||∂L_source/∂c_t|| along the cell state (what step t hands to step
    t+1), or None for the vanilla cell; state: (T,) the norm of the gradient of the whole state, sqrt(h² + c²);
    relative: (T,) state / state[source], 1 at the source, the share that reaches each earlier step, 0 after
    the source; NaN throughout if the source sends no gradient at all (its loss is 0). The same measure for
    both cells, so an LSTM and a vanilla trace of one example compare.
    """

    source: int
    h: np.ndarray
    c: np.ndarray | None
    state: np.ndarray
    relative: np.ndarray

    @property
    def first_step(self):
        """relative[0]: the share of the last word's gradient that reaches the first step."""
        return float(self.relative[0])


@dataclass
class ExampleTrace:
    """forward: ForwardTrace or LSTMForwardTrace; backward: BackwardTrace or LSTMBackwardTrace; wh_scale and
    forget_bias_shift: how Wh and the forget gate's bias were changed for this trace; spectral_radius: of
    the scaled Wh (H, H), None for the LSTM, whose Wh (H, 4H) is not square; reach: a GradientReach."""

    forward: ForwardTrace
    backward: BackwardTrace | LSTMBackwardTrace
    wh_scale: float
    spectral_radius: float | None
    forget_bias_shift: float = 0.0
    reach: GradientReach | None = None

    @property
    def cell_type(self):
        return self.forward.cell_type


def spectral_radius(matrix):
    """Largest absolute eigenvalue of a square matrix (H, H)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def trace_example(model, feature, caption, wh_scale=1.0, activation=None, forget_bias_shift=0.0):
    """Trace one example through `model` with Wh scaled by `wh_scale`, an optional activation override (the
    vanilla cell's; an LSTM takes only "tanh") and, for an LSTM, the forget gate's bias b_f (b[H:2H])
    shifted by `forget_bias_shift` (up to ±MAX_FORGET_BIAS_SHIFT; a shift above 0 keeps more of c_{t-1}).

    feature: (D,), caption: (T + 1,) ids starting with <START> -> ExampleTrace. The model is not changed.
    """
    require_ndim("caption", caption, 1, "(T + 1,)")
    require_ndim("feature", feature, 1, "(D,)")
    shift = require_number(
        "forget_bias_shift", forget_bias_shift, -MAX_FORGET_BIAS_SHIFT, MAX_FORGET_BIAS_SHIFT
    )
    if shift and model.cell_type != "lstm":
        raise HyperparameterError(
            f"forget_bias_shift={forget_bias_shift!r}: only the LSTM has a forget gate; leave it at 0 for "
            f"cell_type={model.cell_type!r}."
        )
    features = np.asarray(feature, dtype=model.dtype)[None]
    captions = np.asarray(caption)[None]
    model.check_features(features, name="feature")
    model.check_captions(captions, 1, name="caption")
    traced = model.copy(activation=activation)
    traced.params["Wh"] = (traced.params["Wh"] * wh_scale).astype(model.dtype)
    if shift:
        H = traced.hidden_dim
        traced.params["b"][H : 2 * H] += model.dtype(shift)
    record = {}
    loss, grads = traced.loss(features, captions, record)

    if traced.cell_type == "lstm":
        forward = _lstm_forward_trace(traced, feature, captions, record, loss)
        backward = _lstm_backward_trace(forward, record, grads)
        radius = None
    else:
        forward = _forward_trace(traced, feature, captions, record, loss)
        backward = _backward_trace(forward, record, grads)
        radius = spectral_radius(traced.params["Wh"])
    reach = _gradient_reach(record, traced.cell_type)
    return ExampleTrace(forward, backward, float(wh_scale), radius, shift, reach)


def _scored(record, captions):
    """The forward trace's fields every cell shares, read from the loss's record (N = 1)."""
    mask = record["mask"][0]
    ids_target = captions[0, 1:]
    # The model scores only the steps whose target is a word; the others have no distribution (zeros).
    log_probs = log_softmax(record["scores"][0][mask])
    probs = np.zeros(record["scores"][0].shape, dtype=log_probs.dtype)
    probs[mask] = np.exp(log_probs)
    step_loss = np.zeros(mask.shape, dtype=np.float64)
    step_loss[mask] = -log_probs[np.arange(log_probs.shape[0]), ids_target[mask]]
    return {
        "ids_in": captions[0, :-1],
        "ids_target": ids_target,
        "mask": mask,
        "h0": record["h0"][0],
        "probs": probs,
        "step_loss": step_loss,
        "running_loss": np.cumsum(step_loss),
    }


def _cell_fields(traced, feature, cache):
    """The fields of the recurrent step both cells share, from its time-major cache ([t, 0] is step t)."""
    return {
        "activation": traced.activation,
        "feature": np.asarray(feature),
        "x": cache.x[:, 0],
        "h_prev": np.concatenate([cache.h0, cache.h[:-1, 0]]),
        "wx_x": cache.input_term[:, 0],
        "wh_h": cache.carried_term[:, 0],
        "b": traced.params["b"],
        "a": cache.a[:, 0],
        "h": cache.h[:, 0],
    }


def _forward_trace(traced, feature, captions, record, loss):
    fields = _cell_fields(traced, feature, record["rnn_cache"])
    return ForwardTrace(**fields, **_scored(record, captions), loss=loss)


def _lstm_forward_trace(traced, feature, captions, record, loss):
    cache = record["lstm_cache"]
    return LSTMForwardTrace(
        **_cell_fields(traced, feature, cache),
        **_scored(record, captions),
        loss=loss,
        i=cache.i[:, 0],
        f=cache.f[:, 0],
        o=cache.o[:, 0],
        g=cache.g[:, 0],
        c_prev=cache.prev_c[:, 0],
        c=cache.c[:, 0],
        tanh_c=cache.tanh_c[:, 0],
    )


def _step_contributions(forward, da, grads):
    """The factors of each step's share of dWx and dWh, its share of db (they sum to the model's gradients) and
    the gradients themselves."""
    return {
        "x": forward.x,
        "h_prev": forward.h_prev,
        "db_steps": da.copy(),
        "dWx": grads["Wx"],
        "dWh": grads["Wh"],
        "db": grads["b"],
    }


def _backward_trace(forward, record, grads):
    dh_from_loss = record["dh"][0]
    dh_carried = record["dprev_h"][1:, 0]
    da = record["da"][:, 0]
    return BackwardTrace(
        dh_from_loss=dh_from_loss,
        dh_carried=dh_carried,
        dh_total=dh_from_loss + dh_carried,
        local_derivative=derivative(forward.h, forward.activation),
        da=da,
        **_step_contributions(forward, da, grads),
        dh0=record["dh0"][0],
    )


def _lstm_backward_trace(forward, record, grads):
    dh_from_loss = record["dh"][0]
    dh_total = dh_from_loss + record["dprev_h"][1:, 0]
    dc_carried = record["dprev_c"][1:, 0]
    da = record["da"][:, 0]
    return LSTMBackwardTrace(
        dh_from_loss=dh_from_loss,
        dh_carried=record["dprev_h"][1:, 0],
        dh_total=dh_total,
        dc_carried=dc_carried,
        dc_from_h=dh_total * forward.o * tanh_derivative(forward.tanh_c),
        dc=record["dc"][:, 0],
        da=da,
        **_step_contributions(forward, da, grads),
        dh0=record["dh0"][0],
    )


def _gradient_reach(record, cell_type):
    """GradientReach of the last scored word's loss, from the cell's backward pass on the recorded cache."""
    dh = record["dh"]  # (1, T, H)
    scored = np.flatnonzero(record["mask"][0])
    source = int(scored[-1]) if scored.size else dh.shape[1] - 1
    dh_source = np.zeros_like(dh)
    dh_source[0, source] = dh[0, source]
    reached = {}
    if cell_type == "lstm":
        lstm_backward(dh_source, record["lstm_cache"], reached)
        c = np.linalg.norm(reached["dprev_c"][1:, 0], axis=1)
    else:
        rnn_backward(dh_source, record["rnn_cache"], reached)
        c = None
    h = np.linalg.norm(dh_source[0] + reached["dprev_h"][1:, 0], axis=1)
    state = h if c is None else np.hypot(h, c)
    # NaN if the source sends nothing back (its target has probability 1 to the last bit): no share to give.
    relative = _share(state, np.full_like(state, state[source]), nothing=np.nan)
    return GradientReach(source, h, c, state, relative)


def _share(part, whole, nothing=0.0):
    """part / whole elementwise, `nothing` where whole is 0 (no gradient at all: not 0/0)."""
    return np.divide(part, whole, out=np.full(whole.shape, nothing), where=whole > 0)
