"""The race's closing summary, written from the measured numbers of a `core.lab.race.RaceSummary`."""

from __future__ import annotations

PEAK_DERIVATIVE_TEXT = {
    "tanh": "tanh′ is at most 1",
    "sigmoid": "sigmoid′ is at most 0.25",
    "relu": "ReLU′ is 0 or 1",
}


def _milestones(lane, thresholds) -> str:
    reached = [(t, lane.first_below[t]) for t in thresholds if lane.first_below.get(t) is not None]
    if not reached:
        return f"never went below {thresholds[0]:g}"
    parts = [f"below {t:g} at iteration {i}" for t, i in reached]
    missing = [t for t in thresholds if lane.first_below.get(t) is None]
    text = " and ".join(parts)
    return text + (f", never below {missing[0]:g}" if missing else "")


def _lane_sentence(lane, thresholds) -> str:
    if lane.final_loss is None:
        return f"- **{lane.activation}** has not trained yet."
    text = (
        f"- **{lane.activation}** went from loss {lane.first_loss:.2f} to {lane.final_loss:.3f} "
        f"(mean of the last minibatches; best {lane.best_loss:.3f}); {_milestones(lane, thresholds)}."
    )
    if lane.error:
        text += f" It stopped early: {lane.error}"
    return text


def race_summary(summary, thresholds=(1.0, 0.1)) -> str:
    """Markdown: what each lane reached, which won and by how much, and why, from the measured numbers."""
    lanes = [lane for lane in summary.lanes if lane.final_loss is not None]
    if not lanes:
        return "Start the race to see a summary."
    iterations = max(lane.iterations for lane in lanes)
    start = (
        "All lanes started from the same initial weights and saw the same minibatches"
        if summary.same_start
        else "The lanes did not start from the same weights"
    )
    lines = [
        f"After **{iterations} iterations** on {summary.num_train} training captions (H = {summary.hidden_dim}). "
        f"{start}, so the activation is the only difference.",
        "",
    ]
    lines += [_lane_sentence(lane, thresholds) for lane in summary.lanes]
    if len(lanes) >= 2:
        ranked = sorted(lanes, key=lambda lane: lane.final_loss)
        best, worst = ranked[0], ranked[-1]
        ratio = worst.final_loss / max(best.final_loss, 1e-12)
        lines += ["", f"**{best.activation}** ends lowest: {ratio:.1f}× below **{worst.activation}**."]
        lines.append("")
        lines.append(_why(best, worst))
    captions = [
        f"{lane.activation} says “{lane.caption or '(nothing)'}”"
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


def _why(best, worst) -> str:
    """Why the lanes differ, from the measured mean local derivative and saturation shares."""
    text = (
        "Backprop through time multiplies the gradient by f′(a) at every step it travels back. "
        f"On the training captions the hidden units pass on average f′(a) = {best.mean_derivative:.2f} "
        f"for {best.activation} and {worst.mean_derivative:.2f} for {worst.activation}"
    )
    if worst.mean_derivative < best.mean_derivative:
        factor = best.mean_derivative / max(worst.mean_derivative, 1e-12)
        text += (
            f", so {worst.activation}'s gradient shrinks about {factor:.1f}× faster per step "
            f"({PEAK_DERIVATIVE_TEXT.get(worst.activation, '')})."
        )
    else:
        text += "; the derivative alone does not explain the gap here."
    comparison = "more" if worst.saturated > best.saturated else "fewer"
    text += (
        f" {100 * worst.saturated:.0f}% of {worst.activation}'s values are saturated (f′ below a tenth of its "
        f"peak) against {100 * best.saturated:.0f}% for {best.activation}: {comparison} units stuck where "
        "no gradient gets through."
    )
    return text
