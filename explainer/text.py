"""Short texts generated from the numbers of a trace (Markdown), so every sentence matches the figures."""

from __future__ import annotations

import numpy as np

from core.engine.activations import PEAK_DERIVATIVE
from core.lab.sizes import captioning_parameter_counts, rnn_cell_parameter_count, rnn_memory_bytes
from explainer.backward import contributions, last_scored_step, norms_by_step
from explainer.forward import probability_text, topk_rows, word

# The notebook trains the captioning RNN with minibatches of this many captions.
NOTEBOOK_BATCH_SIZE = 25


def human_bytes(n: float) -> str:
    """Bytes as B, kB, MB or GB with three significant digits."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
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
    **bold** and `code`; words from the vocabulary are code spans, shown as text)."""
    if t == 0:
        return (
            f"**t = 0: the image.** The {trace.feature.shape[0]}-d image feature is projected to the first "
            f"hidden state h₀ (mean {trace.h0.mean():+.3f}, ‖h₀‖ = {np.linalg.norm(trace.h0):.3f}). "
            "No word has been read yet; move to t = 1 to feed in `<START>`."
        )
    s = t - 1
    fed = stepper_code(word(idx_to_word, trace.ids_in[s]))
    if not trace.mask[s]:
        return (
            f"**t = {t}: reads {fed}.** Its target is `<NULL>` (padding): the step is **masked**, the model "
            f"scores no next word here and adds no loss (the total stays {trace.running_loss[s]:.3f})."
        )
    rows = topk_rows(trace, idx_to_word, t, k=5)
    best, target = rows[0], next(r for r in rows if r["is_target"])
    return (
        f"**t = {t}: reads {fed}.** The most probable next word is {stepper_code(best['word'])} "
        f"(p = {probability_text(best['probability'])}). The ground truth is {stepper_code(target['word'])} "
        f"(rank {target['rank']}, p = {probability_text(target['probability'])}), so the loss here is "
        f"−log {probability_text(target['probability'])} = **{trace.step_loss[s]:.3f}**; running total "
        f"{trace.running_loss[s]:.3f} of {trace.loss:.3f} for the caption."
    )


def sizes_markdown(model, num_steps: int) -> str:
    """The notebook's size questions answered for `model`: parameters per cell, in the model, and memory."""
    D, W, H, V = model.input_dim, model.wordvec_dim, model.hidden_dim, model.vocab_size
    cell = rnn_cell_parameter_count(W, H)
    total = sum(captioning_parameter_counts(D, W, H, V).values())
    one = rnn_memory_bytes(1, num_steps, W, H, V)
    batch = rnn_memory_bytes(NOTEBOOK_BATCH_SIZE, num_steps, W, H, V)
    return "\n".join(
        [
            f"Sizes: D = {D} (image feature), W = {W} (word vector), H = {H} (hidden), V = {V} (words), "
            f"T = {num_steps} steps.",
            "",
            f"- **Parameters of the RNN cell**: Wx (W×H) + Wh (H×H) + b (H) = H·(W + H + 1) = "
            f"{H}·({W} + {H} + 1) = **{cell:,}**, shared by all {num_steps} steps.",
            f"- **Whole captioning model** (with projection, embedding and vocabulary layers): {total:,} parameters.",
            f"- **Forward pass keeps** (for backward): {human_bytes(one['forward'])} for this caption, "
            f"{human_bytes(batch['forward'])} for a minibatch of N = {NOTEBOOK_BATCH_SIZE}.",
            f"- **Backward pass allocates**: {human_bytes(one['backward'])} for this caption, "
            f"{human_bytes(batch['backward'])} for N = {NOTEBOOK_BATCH_SIZE}. Memory grows linearly with T: "
            "every step's inputs and states must be kept until backprop reaches it.",
        ]
    )


def model_note(model, recipe: dict | None, memorised: bool | None, first_memorised: int | None) -> str:
    """What the traced model is: its sizes and how it was trained (`recipe`, a core.lab.trained_models
    config, or None for a fresh model). For a model trained on a subset of captions, `memorised` says whether
    this example's caption was among them, `first_memorised` names one that was (a caption number)."""
    sizes = f"W = {model.wordvec_dim}, H = {model.hidden_dim}"
    if recipe is None:
        return f"Freshly initialised model ({sizes}, seed 0): random weights, before any training."
    training = (
        f"{recipe['num_iterations']} iterations of {recipe['batch_size']} captions, "
        f"learning rate {recipe['learning_rate']:g}"
    )
    if recipe["max_train"] is None:
        return f"Trained model ({sizes}) on every training caption: {training}."
    note = (
        f"Trained model ({sizes}) on {recipe['max_train']} training captions, as in the notebook: {training}."
    )
    if memorised:
        return f"{note} This caption is one of them: the model has memorised it."
    return (
        f"{note} This caption is not one of them, so expect a large loss; training caption "
        f"#{first_memorised} is one it has memorised."
    )


def spectral_markdown(radius: float, wh_scale: float, activation: str) -> str:
    """What the spectral radius of the scaled Wh means for gradients, with the activation's bound."""
    bound = PEAK_DERIVATIVE[activation]
    effective = radius * bound
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
        f"Whᵀ and by f'(a) ≤ {bound:g} for {activation}, so with ρ·max f' = {effective:.2f} {verdict}."
    )


def backward_step_summary(backward, mask, t: int) -> str:
    """What reaches h_t at step t of backprop, and how much of it continues to t - 1."""
    norms = norms_by_step(backward)
    T = len(norms["total"]) - 1
    if t == 0:
        return (
            f"**t = 0: the image projection.** ‖dL/dh₀‖ = {norms['total'][0]:.3e}, all of it carried back "
            f"through {T} steps; this is what trains W_proj."
        )
    if norms["total"][t] == 0:
        return (
            f"**t = {t}: masked.** The target here is `<NULL>` (padding) and the caption has ended, so no "
            f"gradient reaches h_{t}: backprop starts at t = {last_scored_step(mask)}, the last scored step."
        )
    share = backward.survival()[t - 1]
    if t == T:
        carried = "nothing carried back (it is the last step)"
    elif norms["carried"][t] == 0:
        carried = "nothing carried back (no later step is scored)"
    else:
        carried = f"{norms['carried'][t]:.3e} carried back from t = {t + 1}"
    return (
        f"**t = {t}:** ‖dL/dh_{t}‖ = {norms['total'][t]:.3e}: {norms['from_loss'][t]:.3e} from the loss at this "
        f"step plus {carried}. Multiplying by f'(a_{t}) and Whᵀ, **{share:.2f}×** of it reaches h_{t - 1}."
    )


def contribution_check(backward, param: str) -> float:
    """Largest |Σ_t d`param`_t − d`param`| over the entries: ~1e-7 in float32 when the shares add up."""
    parts = contributions(backward, 1, param)
    return float(np.max(np.abs(parts["so_far"] - parts["total"])))


def contribution_markdown(backward, param: str, t: int) -> str:
    """How many steps are summed so far when stepping backward, and the check that all of them give the total."""
    T = backward.dWh_steps.shape[0]
    added = T - max(t, 1) + 1
    return (
        f"Steps {T} … {max(t, 1)} added so far: {added} of {T}. Summing all {T} steps gives d{param} "
        f"to within {contribution_check(backward, param):.1e} (float32 rounding)."
    )
