"""Short texts generated from the numbers of a trace (Markdown), so every sentence matches the figures."""

from __future__ import annotations

import numpy as np

from core.engine.activations import PEAK_DERIVATIVE
from core.lab.sizes import (
    captioning_parameter_counts,
    lstm_cell_parameter_count,
    lstm_memory_bytes,
    rnn_cell_parameter_count,
    rnn_memory_bytes,
)
from explainer.backward import last_scored_step, norms_by_step, share_text
from explainer.forward import probability_of_loss, probability_text, topk_rows, word
from explainer.lstm import gate_means
from explainer.wording import counted, every_step, times

# The notebook trains the captioning RNN with minibatches of this many captions.
NOTEBOOK_BATCH_SIZE = 25


def human_bytes(n: float) -> str:
    """Bytes as B, kB, MB or GB with three significant digits."""
    for unit in ("B", "kB", "MB"):
        if float(f"{n:.3g}") < 1000:  # as printed: 999.6 B is 1 kB, not "1000 B"
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} GB"


def stepper_code(text: str) -> str:
    """`text` as a code span of the stepper's texts (ui/stepper.js shows **bold** and `code`, everything else
    as text): a word from the vocabulary cannot end the span early or start markup (backticks become ').
    """
    return "`" + str(text).replace("`", "'") + "`"


def forward_step_summary(trace, idx_to_word, t: int) -> str:
    """What happens at timestep t of the forward pass, with this example's numbers, for the stepper (its
    **bold** and `code`; words from the vocabulary are code spans, shown as text). Vanilla cell or LSTM."""
    if t == 0:
        cell = " The cell state starts at c₀ = 0." if trace.cell_type == "lstm" else ""
        # z: a mean that rounds to zero is 0.000, never -0.000, as in the figure's hover (explainer.forward).
        return (
            f"**t = 0: the image.** The {trace.feature.shape[0]}-d image feature is projected to the first "
            f"hidden state h₀ (mean {trace.h0.mean():z.3f}, ‖h₀‖ = {np.linalg.norm(trace.h0):.3f}).{cell} "
            "No word has been read yet; move to t = 1 to feed in `<START>`."
        )
    s = t - 1
    reads = f"**t = {t}: reads {stepper_code(word(idx_to_word, trace.ids_in[s]))}.** "
    if trace.cell_type == "lstm":
        reads += _lstm_step_sentence(trace, t) + " "
    if not trace.mask[s]:
        return reads + (
            "Its target is `<NULL>` (padding): the step is **masked**, the model scores no next word here and "
            f"adds no loss (the total stays {trace.running_loss[s]:z.3f})."
        )
    rows = topk_rows(trace, idx_to_word, t, k=5)
    best, target = rows[0], next(r for r in rows if r["is_target"])
    p_target = probability_of_loss(target["probability"], trace.step_loss[s])
    return reads + (
        f"The most probable next word is {stepper_code(best['word'])} "
        f"(p = {probability_text(best['probability'])}). The ground truth is {stepper_code(target['word'])} "
        f"(rank {target['rank']}, p = {p_target}), so the loss here is −log {p_target} = "
        f"**{trace.step_loss[s]:z.3f}**; running total "
        f"{trace.running_loss[s]:z.3f} of {trace.loss:z.3f} for the caption."
    )


def _lstm_step_sentence(trace, t: int) -> str:
    """The LSTM's gates and cell at step t >= 1, from the trace's numbers."""
    s = t - 1
    means = gate_means(trace, t)
    kept, written = np.linalg.norm(trace.kept[s]), np.linalg.norm(trace.written[s])
    return (
        f"Its gates, averaged over the {trace.h.shape[1]} units: input i = {means['i']:.2f}, forget "
        f"f = {means['f']:.2f}, output o = {means['o']:.2f}. The cell keeps f ⊙ c{_sub(t - 1)} "
        f"(‖·‖ = {kept:.3f}) and writes i ⊙ g (‖·‖ = {written:.3f}): ‖c{_sub(t)}‖ = "
        f"{np.linalg.norm(trace.c[s]):.3f}, and h{_sub(t)} = o ⊙ tanh(c{_sub(t)}) has ‖h{_sub(t)}‖ = "
        f"{np.linalg.norm(trace.h[s]):.3f}."
    )


def _sub(number: int) -> str:
    """A step number as subscript digits: 12 -> ₁₂."""
    return str(number).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def sizes_markdown(model, num_steps: int) -> str:
    """The notebook's size questions answered for `model` (vanilla or LSTM): parameters per cell, in the
    model, and memory."""
    D, W, H, V = model.input_dim, model.wordvec_dim, model.hidden_dim, model.vocab_size
    lstm = model.cell_type == "lstm"
    cell = lstm_cell_parameter_count(W, H) if lstm else rnn_cell_parameter_count(W, H)
    total = sum(captioning_parameter_counts(D, W, H, V, cell_type=model.cell_type).values())
    memory = lstm_memory_bytes if lstm else rnn_memory_bytes
    one = memory(1, num_steps, W, H, V)
    batch = memory(NOTEBOOK_BATCH_SIZE, num_steps, W, H, V)
    cell_line = (
        f"- **Parameters of the LSTM cell**: Wx (W×4H) + Wh (H×4H) + b (4H) = 4H·(W + H + 1) = "
        f"4·{H}·({W} + {H} + 1) = **{cell:,}**, four times the vanilla cell's (one block per gate i, f, o, g), "
        f"shared by {every_step(num_steps)}."
        if lstm
        else f"- **Parameters of the RNN cell**: Wx (W×H) + Wh (H×H) + b (H) = H·(W + H + 1) = "
        f"{H}·({W} + {H} + 1) = **{cell:,}**, shared by {every_step(num_steps)}."
    )
    return "\n".join(
        [
            f"Sizes: D = {D} (image feature), W = {W} (word vector), H = {H} (hidden), V = {V} (words), "
            f"T = {num_steps} steps.",
            "",
            cell_line,
            f"- **Whole captioning model** (with projection, embedding and vocabulary layers): {total:,} parameters.",
            f"- **Forward pass keeps** (for backward): {human_bytes(one['forward'])} for one caption, "
            f"{human_bytes(batch['forward'])} for a minibatch of N = {NOTEBOOK_BATCH_SIZE}.",
            f"- **Backward pass allocates**: {human_bytes(one['backward'])} for one caption, "
            f"{human_bytes(batch['backward'])} for N = {NOTEBOOK_BATCH_SIZE}. Memory grows linearly with T: "
            "every step's inputs and states must be kept until backprop reaches it.",
        ]
    )


def model_note(
    model,
    recipe: dict | None,
    trained_on: bool | None,
    first_trained_on: int | None,
    activation: str | None = None,
) -> str:
    """What the traced model is: its sizes and how it was trained (`recipe`, a core.lab.trained_models
    config, or None for a fresh model). For a model trained on a subset of captions, `trained_on` says whether
    this example's caption was among them, `first_trained_on` names one that was (a caption number).
    `activation`: the one the page traces with, when a trained vanilla model's weights run with another."""
    cell = "LSTM" if model.cell_type == "lstm" else "vanilla RNN"
    sizes = f"{cell}, W = {model.wordvec_dim}, H = {model.hidden_dim}"
    if recipe is None:
        return f"Freshly initialised model ({sizes}, seed 0): random weights, before any training."
    training = (
        f"{recipe['num_iterations']} iterations of {recipe['batch_size']} captions, "
        f"learning rate {recipe['learning_rate']:g}"
    )
    if recipe["max_train"] is None:
        note = f"Trained model ({sizes}) on minibatches drawn from the whole training set: {training}."
    else:
        note = f"Trained model ({sizes}) on {recipe['max_train']} training captions, as in the notebook: {training}."
        # Which captions it was trained on, not what it makes of them: the loss shown says that (it is large
        # for a trained caption whose weights run with another activation or a scaled Wh, and small for a
        # caption not trained on that repeats one that was).
        if trained_on:
            note += " This caption is one of them."
        else:
            note += (
                f" This caption is not one of them; training caption #{first_trained_on} is: compare their "
                "losses."
            )
    if model.cell_type == "rnn" and activation not in (None, model.activation):
        note += (
            f" Its weights were learned with {model.activation}; here they run with {activation}, which they "
            "were not trained for."
        )
    return note


def spectral_markdown(radius: float, wh_scale: float, activation: str) -> str:
    """What the spectral radius of the scaled Wh means for gradients, with the activation's bound."""
    bound = PEAK_DERIVATIVE[activation]
    effective = round(radius, 3) * bound  # the printed ρ times the bound (1 or 0.25: exact in binary)
    if effective < 0.9:
        verdict = "carried gradients tend to **vanish** as they travel back"
    elif effective > 1.1:
        # ReLU's derivative is exactly 1 where a unit is on: only units switched off (a ≤ 0) hold it back.
        caveat = (
            "units switched off (a ≤ 0)" if activation == "relu" else "units that saturate (f'(a) near 0)"
        )
        verdict = f"carried gradients can **explode** as they travel back, held back only by {caveat}"
    else:
        verdict = "carried gradients roughly keep their size"
    return (
        f"Spectral radius ρ({wh_scale:g}·Wh) = **{radius:.3f}**. Each step back multiplies the gradient by "
        f"Whᵀ and by f'(a) ≤ {bound:g} for {activation}, so with ρ·max f' = {effective:.5g} {verdict}."
    )


def backward_step_summary(backward, mask, t: int) -> str:
    """What reaches h_t at step t of backprop, and how much of it continues to t - 1."""
    norms = norms_by_step(backward)
    if t == 0:
        last = last_scored_step(mask)
        losses = "the loss at t = 1" if last == 1 else f"the losses at t = 1 … {last}"
        if norms["total"][0] == 0:  # e.g. every unit of h_1 saturated: f'(a_1) = 0 stops it all
            return (
                "**t = 0: the image projection.** ‖dL/dh₀‖ = 0: nothing of what "
                f"{losses} sent back gets past step 1, so this caption gives W_proj no gradient."
            )
        return (
            f"**t = 0: the image projection.** ‖dL/dh₀‖ = {norms['total'][0]:.3e}, all of it carried back "
            f"from t = 1: no loss scores h₀, so it is what {losses} sent back through the steps in between "
            "(a later loss through more of them); this is what trains W_proj."
        )
    if t > last_scored_step(mask):
        return (
            f"**t = {t}: masked.** The target here is `<NULL>` (padding) and the caption has ended, so no "
            f"gradient reaches h_{t}: backprop starts at t = {last_scored_step(mask)}, the last scored step."
        )
    if norms["total"][t] == 0:
        senders = (
            "the loss at this step, the last," if t == len(mask) else f"the loss at this step or step {t + 1}"
        )
        return (
            f"**t = {t}:** ‖dL/dh_{t}‖ = 0: {senders} sends no gradient to h_{t}, so nothing goes on to "
            f"h_{t - 1}."
        )
    share = backward.survival()[t - 1]
    if backward.cell_type == "lstm":
        return _lstm_backward_sentence(backward, norms, t, share, mask)
    into_h = _into_h(
        backward,
        norms,
        t,
        mask,
        f"carried back from t = {t + 1}",
        f"dL/da_{t + 1} = f'(a_{t + 1}) ⊙ dL/dh_{t + 1}",
    )
    return (
        f"**t = {t}:** ‖dL/dh_{t}‖ = {norms['total'][t]:.3e}, {into_h}. Multiplying by f'(a_{t}) and "
        f"Whᵀ, **{share_text(share)}×** of it reaches h_{t - 1}."
    )


def _made_of(here: tuple, later: tuple, nothing: str) -> str:
    """What a gradient's length is made of: the part from this step (`here`: its norm and where it comes from)
    and the part from the step after (`later`), two vectors that add; or all of the first when the second is
    zero (`nothing` says why)."""
    (here_norm, here_from), (later_norm, later_from) = here, later
    if later_norm == 0:
        return f"all of it {here_from} ({nothing})"
    return (
        f"the length of the sum of two vectors: {here_norm:.3e} {here_from} and {later_norm:.3e} {later_from}"
    )


def _nothing_later(t: int, mask, sent, sent_name: str, otherwise: str) -> str:
    """Why step t + 1 sends nothing back to step t (a gradient found to be 0): there is no step t + 1, or no
    loss after t, or the gradient it sends back through (`sent`: (T, ·), read at step t + 1; `sent_name`) is 0
    in every unit, e.g. every ReLU of h_{t + 1} off; else `otherwise`."""
    if t == len(mask):
        return "it is the last step"
    if t >= last_scored_step(mask):
        return "no later step is scored"
    if not np.any(sent[t]):
        return f"{sent_name} is 0 in every unit"
    return otherwise


def _into_h(backward, norms: dict, t: int, mask, carried_from: str, da_name: str) -> str:
    """What the gradient reaching h_t (t >= 1) is made of: the loss at t and what step t + 1 carries back
    through Whᵀ from dL/da_{t+1} (named `da_name`), or why nothing is."""
    return _made_of(
        (norms["from_loss"][t], "from the loss at this step"),
        (norms["carried"][t], carried_from),
        "nothing is carried back: "
        + _nothing_later(t, mask, backward.da, da_name, f"Whᵀ maps dL/da_{t + 1} to 0"),
    )


def _lstm_backward_sentence(backward, norms: dict, t: int, share: float, mask) -> str:
    """Step t >= 1 of the LSTM's backprop: what reaches h_t and c_t, and how much goes on to step t - 1."""
    s = t - 1
    into_h = _into_h(
        backward,
        norms,
        t,
        mask,
        f"carried back from t = {t + 1} through Wh",
        f"dL/da_{t + 1}, the gradient of step {t + 1}'s gates,",
    )
    into_c = _made_of(
        (np.linalg.norm(backward.dc_from_h[s]), f"through h_{t} = o ⊙ tanh(c_{t})"),
        (norms["cell"][t], f"from c_{t + 1} (through the forget gate f_{t + 1})"),
        f"nothing comes from c_{t + 1}: "
        + _nothing_later(
            t, mask, backward.dc, f"dL/dc_{t + 1}", f"f_{t + 1} is 0 wherever dL/dc_{t + 1} is not"
        ),
    )
    return (
        f"**t = {t}:** ‖dL/dh_{t}‖ = {norms['total'][t]:.3e}, {into_h}. Along the cell, "
        f"‖dL/dc_{t}‖ = {np.linalg.norm(backward.dc[s]):.3e}, {into_c}. Of what step {t} receives, "
        f"**{share_text(share)}×** reaches step {t - 1} (through h and along the cell together)."
    )


def forget_markdown(forward, forget_shift: float) -> str:
    """What the forget gates of this trace are, from their numbers, and what they do to the gradient."""
    f = forward.f[forward.mask] if forward.mask.any() else forward.f
    shift = f" (its bias shifted by {forget_shift:+g})" if forget_shift else ""
    return (
        f"Forget gate{shift}: mean f = **{f.mean():.2f}** over the scored steps (min {f.min():.2f}, max "
        f"{f.max():.2f}). Backprop multiplies the gradient carried along the cell by f at every step: near 1 "
        "it goes on almost whole, near 0 it stops."
    )


def reach_markdown(lstm_reach, rnn_reach) -> str:
    """How much of the last word's gradient reaches the first step in each cell, and which keeps more."""
    silent = [
        name
        for name, reach in (("LSTM", lstm_reach), ("vanilla RNN", rnn_reach))
        if np.isnan(reach.first_step)
    ]
    if silent:  # core.lab.trace.GradientReach: no share where the word's loss sends nothing back
        return (
            f"The last scored word's loss sends no gradient back in the {' or the '.join(silent)} traced on this "
            "example: its target has probability 1 to the last bit, so its loss is 0 and there is no share to "
            "compare."
        )
    # Compared and divided as printed (.2e), so that the ratio is the ratio of the two numbers beside it.
    lstm, rnn = (float(f"{reach.first_step:.2e}") for reach in (lstm_reach, rnn_reach))
    if lstm == rnn == 0:
        verdict = "neither carries any back"
    elif lstm == rnn:
        verdict = "both carry the same share back"
    elif min(lstm, rnn) > 0 and times(max(lstm, rnn) / min(lstm, rnn)) == "1.0×":
        verdict = "both carry about the same share back (within 5%)"
    elif min(lstm, rnn) == 0:
        verdict = f"only the {'LSTM' if lstm > rnn else 'vanilla cell'} carries any back"
    elif lstm > rnn:
        verdict = f"the LSTM carries {times(lstm / rnn)} as much back"
    else:
        verdict = f"the vanilla cell carries {times(rnn / lstm)} as much back"
    return (
        f"Of the gradient of the last scored word's loss, **{lstm:.2e}** reaches step 1 in the LSTM and "
        f"**{rnn:.2e}** in the vanilla RNN traced on the same example: {verdict}."
    )


def contribution_check(backward, param: str) -> float:
    """Largest |Σ_t d`param`_t − d`param`| over the entries: ~1e-7 in float32 when the shares add up.

    The shares are summed by einsum's own loop over t, not by the matrix product the engine computed the total
    with (nor the one the "so far" heatmap shows), so that the check compares two ways of adding them."""
    left, da = backward.contribution_factors(param)
    total = backward.dWh if param == "Wh" else backward.dWx
    return float(np.max(np.abs(np.einsum("tk,tg->kg", left, da) - total)))


def contribution_markdown(backward, mask, param: str, t: int) -> str:
    """How many steps are summed so far when stepping backward (from the last scored step: the later ones add
    nothing), and the check that all of them give the total."""
    T = backward.da.shape[0]
    last = last_scored_step(mask)
    check = (
        f"Summing {every_step(T)} gives d{param} to within {contribution_check(backward, param):.1e} (float32 "
        "rounding)."
    )
    if t > last:
        return f"Step {t} is after the caption's end: it adds nothing, backprop starts at t = {last}. {check}"
    added = last - max(t, 1) + 1
    steps = f"Step {last}" if added == 1 else f"Steps {last} … {max(t, 1)}"
    after = ""
    if last == T - 1:
        after = f"; step {T} adds nothing"
    elif last < T - 1:
        after = f"; steps {last + 1} … {T} add nothing"
    return f"{steps} added so far: {added} of {counted(last, 'scored step')}{after}. {check}"
