"""The race's closing summary, written from the measured numbers of a `core.lab.race.RaceSummary`.

Every claim is chosen by the numbers it cites, compared as they are shown: a sentence never says "more" next
to a smaller number, and a ratio is the ratio of the numbers printed beside it. Captions are the data's words
and are shown as text (explainer.escape.plain).
"""

from __future__ import annotations

from core.engine.activations import ACTIVATIONS
from explainer.escape import MAX_SENTENCE, plain
from explainer.wording import counted, times

PEAK_DERIVATIVE_TEXT = {
    "tanh": "tanh′ is at most 1",
    "sigmoid": "sigmoid′ is at most 0.25, and sigmoid's output is not centred on zero",
    "relu": "ReLU′ is 0 or 1",
}
# Final losses within this factor of each other are a draw: minibatch losses are noisy.
CLOSE_RATIO = 1.1


def shown(value: float) -> str:
    """A number as the summary prints it: three significant digits, whole numbers from 1000 (999.6 too, which
    rounds to it) up to a million."""
    text = f"{value:.3g}"
    if 1000 <= abs(float(text)) < 1e6:
        return f"{value:.0f}"
    return text


def _ratio(high: float, low: float) -> float | None:
    """high / low of the numbers as shown, or None when the shown `low` is zero."""
    low_shown = float(shown(low))
    return float(shown(high)) / low_shown if low_shown > 0 else None


def _percent(share: float) -> int:
    return round(100 * share)


def _milestones(lane, thresholds) -> str:
    reached = [(t, lane.first_below[t]) for t in thresholds if lane.first_below.get(t) is not None]
    if not reached:
        return f"never below {thresholds[0]:g}"
    text = " and ".join(f"below {t:g} at iteration {i}" for t, i in reached)
    missing = [t for t in thresholds if lane.first_below.get(t) is None]
    return text + (f", never below {missing[0]:g}" if missing else "")


def _lane_sentence(lane, thresholds, others_went_on: bool) -> str:
    name = f"**{lane.activation}**"
    if lane.final_loss is None:
        if lane.diverged_at:
            return f"- {name} diverged at iteration {lane.diverged_at}, before any finite loss."
        return f"- {name} has not trained yet."
    direction = _direction(lane)
    if direction is None:
        change = f"had loss {shown(lane.final_loss)} on its only minibatch"
    else:
        if direction == "stayed":
            change = f"stayed at loss {shown(lane.final_loss)}"
        else:
            change = f"{direction} from loss {shown(lane.first_loss)} to {shown(lane.final_loss)}"
        change += f" (mean of its last {lane.final_minibatches} minibatches; best {shown(lane.best_loss)})"
    text = f"- {name} {change}; {_milestones(lane, thresholds)}."
    if lane.diverged_at:
        text += (
            f" It diverged at iteration {lane.diverged_at}: a loss, gradient or update was no longer finite (or "
            "too large to measure), "
            f"so it stopped with the weights of iteration {lane.diverged_at - 1}"
            + ("; the other lanes went on." if others_went_on else ".")
        )
    return text


def _start_sentence(summary) -> str:
    if not summary.same_start:
        return "The lanes did not start from the same weights, so more than the recurrent cell differs."
    if any(lane.activation not in ACTIVATIONS for lane in summary.lanes):
        return (
            "All lanes started from the same weights outside the recurrent cell (the vanilla lanes from the same "
            "weights altogether) and saw the same minibatches, so the cell is the only difference."
        )
    return (
        "All lanes started from the same initial weights and saw the same minibatches, so the activation is the "
        "only difference."
    )


def race_summary(summary, thresholds=(1.0, 0.1)) -> str:
    """Markdown: what each lane reached, which won and by how much, and why, from the measured numbers."""
    trained = [lane for lane in summary.lanes if lane.final_loss is not None]
    if not trained:
        return "Start the race to see a summary."
    iterations = max(lane.iterations for lane in summary.lanes)
    lines = [
        f"After **{counted(iterations, 'iteration')}** on {summary.num_train} training captions "
        f"(H = {summary.hidden_dim}). " + _start_sentence(summary),
        "",
    ]
    went_on = [lane for lane in summary.lanes if not lane.diverged_at and lane.final_loss is not None]
    lines += [
        _lane_sentence(lane, thresholds, any(other is not lane for other in went_on))
        for lane in summary.lanes
    ]
    finished = sorted(went_on, key=lambda lane: lane.final_loss)
    if len(finished) >= 2:
        lines += ["", _ranking(finished, some_diverged=len(finished) < len(trained))]
        if all(_direction(lane) == "rose" for lane in finished):
            lines += [
                "",
                f"Every lane that went on ends above its first loss ({_first_to_final(finished)}): by these "
                "numbers none has learned, so the ranking says which got worse least.",
            ]
        vanilla = [lane for lane in finished if lane.activation in ACTIVATIONS]
        if len(vanilla) >= 2 and (_ratio(vanilla[-1].final_loss, vanilla[0].final_loss) or 0) >= CLOSE_RATIO:
            lines += ["", _why(vanilla[0], vanilla[-1])]
    lstm = next((lane for lane in trained if lane.mean_forget_gate is not None), None)
    # A vanilla lane that diverged stopped with the weights of its first iterations: not one to compare with.
    vanilla_went_on = [lane for lane in went_on if lane.activation in ACTIVATIONS]
    if lstm is not None and vanilla_went_on:
        lines += ["", _lstm_sentence(lstm, vanilla_went_on)]
    captions = [
        f"{lane.activation} says “{plain(lane.caption, MAX_SENTENCE) if lane.caption else '(nothing)'}”"
        + (
            " (a ground-truth caption, word for word)"
            if lane.caption_matches
            else " (not a ground-truth caption)"
        )
        for lane in summary.lanes
        if lane.iterations
    ]
    if captions:
        lines += ["", "On the sample training image, " + "; ".join(captions) + "."]
    return "\n".join(lines)


def _direction(lane) -> str | None:
    """How a trained lane's final loss compares with its first, both as printed: "fell", "rose" or "stayed";
    None when its final loss is that of its only minibatch, the first itself."""
    if lane.final_minibatches == 1:
        return None
    first, final = float(shown(lane.first_loss)), float(shown(lane.final_loss))
    if final == first:
        return "stayed"
    return "fell" if final < first else "rose"


def _first_to_final(lanes) -> str:
    return ", ".join(
        f"{lane.activation} {shown(lane.first_loss)} to {shown(lane.final_loss)}" for lane in lanes
    )


def _ranking(finished, some_diverged: bool) -> str:
    """Which lane ends lowest and by how much, or that they end too close to call (finished: the lanes that did
    not diverge, by final loss; some_diverged: whether a lane that trained is left out for having diverged)."""
    best, worst = finished[0], finished[-1]
    ratio = _ratio(worst.final_loss, best.final_loss)
    among = "Of the lanes that did not diverge, " if some_diverged else ""
    if shown(worst.final_loss) == shown(best.final_loss) or (ratio is not None and ratio < CLOSE_RATIO):
        return (
            f"{among}{'the' if among else 'The'} lanes end within {100 * (CLOSE_RATIO - 1):.0f}% of each other "
            f"({shown(best.final_loss)} to {shown(worst.final_loss)}): no lane wins this race."
        )
    by = f"{times(ratio)} below" if ratio is not None else "far below"
    text = (
        f"{among}**{best.activation}** ends lowest ({shown(best.final_loss)}), {by} **{worst.activation}** "
        f"({shown(worst.final_loss)})"
    )
    between = [f"{lane.activation} ({shown(lane.final_loss)})" for lane in finished[1:-1]]
    return text + (f", with {' and '.join(between)} in between." if between else ".")


def _why(best, worst) -> str:
    """Why two vanilla lanes differ, as far as their mean local derivatives and saturated shares say."""
    text = (
        "Backprop through time multiplies the gradient by f′(a) at every step it travels back. On the training "
        f"captions the hidden units pass on average f′(a) = {shown(best.mean_derivative)} for {best.activation} "
        f"and {shown(worst.mean_derivative)} for {worst.activation}"
    )
    factor = _ratio(best.mean_derivative, worst.mean_derivative)
    if factor is not None and 1 < factor < 1.05:  # "1.0× less" would show no difference while saying less
        text += ": within 5% of each other, so the derivative alone does not explain the gap."
    elif float(shown(worst.mean_derivative)) < float(shown(best.mean_derivative)):
        # factor None: the worse lane's mean is 0, every one of its f′ is 0 (all of ReLU's units off)
        keeps = (
            f"lets none of {worst.activation}'s gradient through"
            if factor is None
            else f"keeps {times(factor)} less of {worst.activation}'s gradient than of {best.activation}'s"
        )
        text += f", so at each step back f′(a) alone {keeps} ({PEAK_DERIVATIVE_TEXT[worst.activation]})."
    else:
        text += f": {worst.activation}'s units pass as much or more, so the derivative alone does not explain the gap."
    worst_saturated, best_saturated = _percent(worst.saturated), _percent(best.saturated)
    if worst_saturated > best_saturated:
        text += (
            f" {worst_saturated}% of {worst.activation}'s values are saturated (f′ below a tenth of its own peak) "
            f"against {best_saturated}% for {best.activation}: more of its units pass almost no gradient."
        )
    elif worst_saturated < best_saturated:
        text += (
            f" Saturation does not explain it: {worst_saturated}% of {worst.activation}'s values are saturated "
            f"(f′ below a tenth of its own peak) against {best_saturated}% for {best.activation}, fewer."
        )
    else:
        text += (
            f" Both have {worst_saturated}% saturated values (f′ below a tenth of its own peak): saturation does "
            "not explain the gap."
        )
    return text


def _lstm_sentence(lstm, vanilla) -> str:
    """What the LSTM's cell path keeps per step (its mean forget gate) against the vanilla lane whose units
    pass the most (its mean f′(a)); vanilla: the vanilla lanes that trained and did not diverge."""
    top = max(vanilla, key=lambda lane: lane.mean_derivative)
    forget, derivative = shown(lstm.mean_forget_gate), shown(top.mean_derivative)
    if float(forget) > float(derivative):
        claim = "more than"
    elif float(forget) < float(derivative):
        claim = "less than"
    else:
        claim = "as much as"
    return (
        "Along its cell state the LSTM's gradient is multiplied at each step back by the forget gate f alone, "
        f"with no Wh and no f′(a) in the way: here f averages {forget}, {claim} the {derivative} that "
        f"{top.activation}'s units pass through f′(a)"
        + (", the most of the vanilla lanes." if len(vanilla) > 1 else ".")
    )
