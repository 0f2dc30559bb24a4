"""Deliberate bugs for the gradient-check lab, made from the engine's own source.

A bug names a line of an engine function and the wrong line it puts in its place. `engine_with_bug`
compiles the engine's functions again with those lines swapped, so the code the lab shows (the function's
source and the swapped line) is exactly the code the lab runs, and every caller of a broken function
(rnn_backward or lstm_backward inside CaptioningRNN.loss, for example) runs the broken version. Nothing is patched in the
imported modules: other users of the engine are never affected.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass

from core.engine import layers, rnn, rnn_layers
from core.errors import HyperparameterError
from core.lab.source import function_source

# The modules whose functions a bug may break, callers last.
_MODULES = (layers, rnn_layers, rnn)


@dataclass(frozen=True)
class Edit:
    """In `function`, the source line `right` (stripped of its indentation) becomes `wrong`."""

    function: Callable
    right: str
    wrong: str


@dataclass(frozen=True)
class Bug:
    """A deliberate mistake: its edits of engine functions and the lab checks that run the broken code and can
    show it (`checks`), and those that run it but never can (`hidden_in`, with the reason `hidden_because`)."""

    key: str
    title: str
    explanation: str
    edits: tuple
    checks: tuple
    # When a check that runs the broken code cannot show it: the input for which it changes no gradient.
    unexercised: str = ""
    hidden_in: tuple = ()
    hidden_because: str = ""


BUGS = {
    "none": Bug(
        "none",
        "No bug: the engine's own backward passes",
        "The gradients come from core.engine unchanged.",
        (),
        (),
    ),
    "drop_local_derivative": Bug(
        "drop_local_derivative",
        "Drop the local derivative f'(a) (the 1 - h² factor for tanh)",
        "The backward pass sends the gradient reaching h_t straight to the pre-activation: da = dnext_h "
        "instead of dnext_h * f'(a). Every gradient of the RNN cell is then wrong wherever f'(a) is not 1: "
        "for tanh wherever the unit is not at zero, for sigmoid (f' at most 1/4) everywhere, for ReLU where the "
        "unit is off.",
        (
            Edit(
                rnn_layers.rnn_step_backward,
                "da = dnext_h * derivative(cache.next_h, cache.activation)",
                "da = dnext_h",
            ),
            Edit(
                rnn_layers.rnn_backward,
                "da[t] = (dh[t] + dprev_h[t + 1]) * derivative(cache.h[t], cache.activation)",
                "da[t] = dh[t] + dprev_h[t + 1]",
            ),
        ),
        ("rnn_step", "rnn_sequence", "model"),
        "It changes no gradient where f'(a) = 1 everywhere: a ReLU cell whose units are all on.",
    ),
    "no_carried_gradient": Bug(
        "no_carried_gradient",
        "Forget the gradient carried back from step t+1",
        "The sequence backward only uses the gradient from the loss at each step and drops the part "
        "flowing back through Wh from later steps (backprop through one step only). A single-step check "
        "cannot see this; the sequence and model checks do.",
        (
            Edit(
                rnn_layers.rnn_backward,
                "da[t] = (dh[t] + dprev_h[t + 1]) * derivative(cache.h[t], cache.activation)",
                "da[t] = dh[t] * derivative(cache.h[t], cache.activation)",
            ),
        ),
        ("rnn_sequence", "model"),
        "It changes no gradient when T = 1: no later step carries gradient back.",
    ),
    "embedding_assign": Bug(
        "embedding_assign",
        "Assign instead of accumulate in the embedding backward",
        "dW[ids] = rows overwrites the row of a word that appears more than once, keeping only its last "
        "gradient. The check catches it only if some word id repeats in the test input.",
        (
            Edit(
                rnn_layers.word_embedding_backward,
                "dW[words] = np.add.reduceat(rows[order], starts, axis=0)",
                "dW[ids] = rows  # a word used twice keeps only its last row",
            ),
        ),
        ("word_embedding", "model", "lstm_model"),
        "It changes no gradient when no word id repeats in the input (the option “Repeat a word id” of the "
        "test input makes one repeat, where the input has more than one word).",
    ),
    "softmax_ignore_mask": Bug(
        "softmax_ignore_mask",
        "Ignore the <NULL> mask in the softmax backward",
        "The loss skips <NULL> targets, but the buggy backward still sends gradient from those positions. "
        "The softmax check catches it; the whole model does not, because its vocabulary layer never scores "
        "the <NULL> positions (temporal_affine_forward's mask), so that gradient goes nowhere.",
        (
            Edit(
                rnn_layers.temporal_softmax_loss,
                "dx_flat[~mask_flat] = 0",
                "pass  # the <NULL> positions keep their gradient",
            ),
        ),
        ("temporal_softmax",),
        "It changes no gradient when no target is <NULL>.",
        hidden_in=("model", "lstm_model"),
        hidden_because="its vocabulary layer never scores the <NULL> positions, so the gradient the bug sends "
        "from them goes nowhere",
    ),
    "affine_bias_mean": Bug(
        "affine_bias_mean",
        "Average instead of sum the bias gradient of the temporal affine layer",
        "db = the mean of dout over the positions instead of their sum: off by their number.",
        (
            Edit(
                rnn_layers.temporal_affine_backward,
                "db = dout_rows.sum(axis=0)",
                "db = dout_rows.sum(axis=0) / dout_rows.shape[0]  # the mean instead of the sum",
            ),
        ),
        ("temporal_affine", "model", "lstm_model"),
        "It changes no gradient when there is one position only (N · T = 1): the mean of one row is its sum.",
    ),
    "forget_gate_without_c_prev": Bug(
        "forget_gate_without_c_prev",
        "Drop c_{t-1} from the LSTM forget gate's gradient",
        "c_t = f * c_{t-1} + i * g, so the forget gate's gradient is dc * c_{t-1} (times σ' of its "
        "pre-activation); the buggy backward forgets the c_{t-1} factor, as if the gate scaled a cell of ones. "
        "Only the LSTM's checks run this code; the vanilla cell's never do.",
        (
            Edit(
                rnn_layers.lstm_step_backward,
                "da_f = dc * cache.prev_c * sigmoid_derivative(f)",
                "da_f = dc * sigmoid_derivative(f)",
            ),
            Edit(
                rnn_layers.lstm_backward,
                "da_f[t] = dc[t] * prev_c[t] * sigmoid_derivative(f[t])",
                "da_f[t] = dc[t] * sigmoid_derivative(f[t])",
            ),
        ),
        ("lstm_step", "lstm_sequence", "lstm_model"),
    ),
}


def check_bug(key):
    """The Bug named `key`, else HyperparameterError listing the bugs."""
    if key not in BUGS:
        raise HyperparameterError(f"bug={key!r} is unknown; choose one of {', '.join(BUGS)}.")
    return BUGS[key]


def broken_source(edit):
    """The source of edit.function (as function_source shows it) with edit.right replaced by edit.wrong.

    Raises ValueError if edit.right is not exactly one line of the function: a bug must name real code.
    """
    lines = function_source(edit.function).splitlines(keepends=True)
    matches = [i for i, line in enumerate(lines) if line.strip() == edit.right]
    if len(matches) != 1:
        raise ValueError(
            f"{edit.function.__qualname__} has {len(matches)} lines reading {edit.right!r}; a bug needs exactly one."
        )
    line = lines[matches[0]]
    indent = line[: len(line) - len(line.lstrip())]
    lines[matches[0]] = f"{indent}{edit.wrong}\n"
    return "".join(lines)


def engine_with_bug(bug):
    """A namespace of the engine's functions with `bug` (a Bug or its key) compiled in.

    Attributes: every function of core.engine.layers, rnn_layers and rnn by name, and `model_loss`,
    CaptioningRNN.loss as an ordinary function loss(model, features, captions). With the bug "none" they
    are the engine's own objects.
    """
    bug = check_bug(bug) if isinstance(bug, str) else bug
    if not bug.edits:
        functions = {
            name: value for module in _MODULES for name, value in vars(module).items() if callable(value)
        }
        return types.SimpleNamespace(**functions, model_loss=rnn.CaptioningRNN.loss)
    copies = {module.__name__: dict(vars(module)) for module in _MODULES}
    for namespace in copies.values():
        for name, value in namespace.items():
            if isinstance(value, types.FunctionType) and value.__module__ in copies:
                namespace[name] = _rebound(value, copies[value.__module__])
    for edit in bug.edits:
        home = copies[edit.function.__module__]
        exec(compile(broken_source(edit), f"<{bug.key}: {edit.function.__name__}>", "exec"), home)
        broken = home[edit.function.__name__]
        for namespace in copies.values():
            if namespace.get(edit.function.__name__) is not None and namespace is not home:
                namespace[edit.function.__name__] = broken
    functions = {
        name: value for namespace in copies.values() for name, value in namespace.items() if callable(value)
    }
    model_loss = _rebound(rnn.CaptioningRNN.loss, copies[rnn.__name__])
    return types.SimpleNamespace(**functions, model_loss=model_loss)


def _rebound(function, namespace):
    """`function` with its global names looked up in `namespace` instead of its module."""
    rebound = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    return rebound
