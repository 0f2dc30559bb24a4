"""Figures and texts of the caption gallery, from `core.lab.captioning` results."""

from __future__ import annotations

from html import escape

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.axes import log_ticks
from explainer.colors import GROUND_TRUTH, HIGHLIGHT, LEGEND_ABOVE, NEUTRAL, base_layout
from explainer.escape import MAX_SENTENCE, figure_text, plain
from explainer.forward import probability_text
from explainer.wording import times

WRONG = "#dc2626"
CANDIDATE_BAR = "#cbd5e1"
WITHOUT_IMAGE = "#9ca3af"


def sampling_text(temperature: float, seed: int) -> str:
    """How a caption's words were chosen, for a sentence: greedy, or sampled with this temperature and seed."""
    if temperature == 0:
        return "greedy (the most probable word at every step)"
    return f"sampled from the softmax at temperature {temperature:g} with seed {seed}"


def shorten(text: str, limit: int = 60) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with "…" when cut."""
    if len(text) <= limit:
        return text
    return (
        text[: text.rfind(" ", 0, limit)].rstrip() + "…" if " " in text[:limit] else text[: limit - 1] + "…"
    )


def _candidate_cell(word: str, p: float, chosen: bool) -> str:
    """One candidate: the word and its probability over a bar as long as p."""
    bar = f"linear-gradient(90deg, {CANDIDATE_BAR} {100 * p:.1f}%, transparent {100 * p:.1f}%)"
    outline = f"outline:3px solid {HIGHLIGHT};outline-offset:-3px;font-weight:700;" if chosen else ""
    return (
        f'<td style="padding:0.2rem 0.45rem;white-space:nowrap;background:{bar};{outline}">'
        f"{escape(word)}<br><small>{probability_text(p)}</small></td>"
    )


def candidates_html(caption, idx_to_word) -> str:
    """A table of the generated caption, a row per step: the chosen word, then the k most probable words of
    the distribution it was drawn from, each over a bar as long as its probability; the chosen one
    outlined (when sampled with a temperature it may be outside the top k: then it gets its own cell).

    caption: core.lab.captioning.GeneratedCaption with L steps and k candidates per step. Every word is
    escaped: nothing in it is read as HTML.
    """
    k = caption.topk_ids.shape[1]
    rows = []
    for t, chosen in enumerate(caption.ids):
        ids, probs = list(caption.topk_ids[t]), list(caption.topk_probs[t])
        cells = [
            _candidate_cell(str(idx_to_word[int(i)]), float(p), int(i) == int(chosen))
            for i, p in zip(ids, probs, strict=True)
        ]
        if int(chosen) not in [int(i) for i in ids]:
            cells.append(
                _candidate_cell(
                    f"{caption.words[t]} ({'not the most probable' if k == 1 else f'outside the top {k}'})",
                    float(caption.chosen_probs[t]),
                    True,
                )
            )
        rows.append(
            f'<tr><td style="padding:0.2rem 0.45rem;color:{NEUTRAL}">{t + 1}</td>'
            f'<td style="padding:0.2rem 0.45rem;font-weight:700">{escape(caption.words[t])}</td>{"".join(cells)}</tr>'
        )
    most_probable = (
        "the most probable word and its probability"
        if k == 1
        else f"the {k} most probable words and their probabilities"
    )
    if caption.temperature:  # the distributions the words were drawn from, not the model's at temperature 1
        most_probable += f" at temperature {caption.temperature:g}"
    header = (
        '<tr><th style="text-align:left;padding:0.2rem 0.45rem">step</th>'
        '<th style="text-align:left;padding:0.2rem 0.45rem">word</th>'
        f'<th colspan="{k + 1}" style="text-align:left;padding:0.2rem 0.45rem">{most_probable} '
        "(the chosen one outlined)</th></tr>"
    )
    return (
        '<div style="overflow-x:auto"><table style="border-collapse:separate;border-spacing:2px;'
        f'font-size:0.9rem">{header}{"".join(rows)}</table></div>'
    )


# The width of the gallery's figures at 1280 px (the projector's), in px, and a word's width per letter (in
# font sizes): the grid's words are as large as the longest fits in its cell there, between 8 and 13 px.
# (Left to itself Plotly.js shrinks them all to about 7 px.)
GRID_WIDTH_PX = 720
LETTER_WIDTH = 0.6


def word_font_size(columns: int, longest: int) -> int:
    """The font size (px) of a word grid of `columns` cells whose longest word has `longest` letters."""
    return int(min(13, max(8, GRID_WIDTH_PX / columns / (LETTER_WIDTH * longest))))


def divergence_figure(div, uirevision: str = "gallery.divergence") -> go.Figure:
    """Teacher forcing against free sampling, step by step.

    Top: three rows of words (ground truth, teacher-forced best guess, free-running greedy caption),
    green where a word equals the ground truth, red where it differs; the first step where the free
    caption leaves the ground truth is outlined. Bottom: p(ground-truth word) under teacher forcing.
    div: core.lab.captioning.Divergence.
    """
    S = len(div.truth_words)
    L = len(div.free.words)
    width = max(S, L)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.08)
    labels = ["ground truth", "teacher forced", "free sampling"]
    grid = np.full((3, width), np.nan)
    text = [[""] * width for _ in range(3)]
    for t in range(width):
        truth = div.truth_words[t] if t < S else None
        if truth is not None:
            grid[0, t] = 1
            text[0][t] = figure_text(truth)
            grid[1, t] = 1 if div.forced_correct[t] else 0
            text[1][t] = figure_text(div.forced_best_words[t])
        if t < L:
            grid[2, t] = 1 if div.free.words[t] == truth else 0
            text[2][t] = figure_text(div.free.words[t])
    steps = np.arange(1, width + 1)
    words = [*div.truth_words, *div.forced_best_words, *div.free.words]
    fig.add_trace(
        go.Heatmap(
            z=grid,
            x=steps,
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont={"size": word_font_size(width, max(map(len, words), default=1))},
            colorscale=[[0, "#fecaca"], [1, "#bbf7d0"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate="step %{x}, %{y}: %{text}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if div.first_difference is not None:
        x = div.first_difference + 1
        fig.add_shape(
            type="rect",
            x0=x - 0.5,
            x1=x + 0.5,
            y0=1.5,
            y1=2.5,
            line={"color": HIGHLIGHT, "width": 3},
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            x=np.arange(1, S + 1),
            y=div.forced_truth_prob,
            marker_color=[GROUND_TRUTH if ok else WRONG for ok in div.forced_correct],
            customdata=[probability_text(p) for p in div.forced_truth_prob],
            hovertemplate="step %{x}: p(ground truth) = %{customdata}<extra></extra>",
            name="p(ground-truth word) under teacher forcing",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="p(truth)", row=2, col=1)
    fig.update_xaxes(title_text="step", dtick=1, row=2, col=1)
    return base_layout(fig, uirevision, 380)


def ablation_figure(ablation, uirevision: str = "gallery.ablation") -> go.Figure:
    """Probability of each word of the image's caption with the image and with the feature zeroed (log y).

    ablation: core.lab.captioning.Ablation.
    """
    words = [f"{t + 1}. {figure_text(w)}" for t, w in enumerate(ablation.with_image.words)]
    probabilities = (ablation.word_probs_with, ablation.word_probs_without)
    fig = go.Figure(
        [
            go.Bar(
                x=words,
                y=probs,
                name=name,
                marker_color=color,
                customdata=[probability_text(p) for p in probs],
                hovertemplate=f"%{{x}}: p = %{{customdata}} {condition}<extra></extra>",
            )
            for probs, name, color, condition in (
                (ablation.word_probs_with, "with the image", HIGHLIGHT, "with the image"),
                (ablation.word_probs_without, "feature zeroed", WITHOUT_IMAGE, "without the image"),
            )
        ]
    )
    # Probabilities written out, not with SI prefixes ("100μ", "10n").
    fig.update_yaxes(title_text="p(word | words before), temperature 1", **log_ticks(*probabilities))
    return base_layout(fig, uirevision, 340, barmode="group", legend=LEGEND_ABOVE)


def divergence_text(div, truths) -> str:
    """Markdown: where the free caption leaves the ground truth and what teacher forcing sees there (the
    words escaped: they come from the dataset). truths: the texts of every ground-truth caption of the image,
    so that a free caption that is another of them is not called a mistake."""
    truth = plain(" ".join(w for w in div.truth_words if w != "<END>"), MAX_SENTENCE)
    free = plain(div.free.text, MAX_SENTENCE)
    # The steps scored end with <END>, which the quoted caption leaves out: say it is counted.
    steps, right = len(div.truth_words), int(np.sum(div.forced_correct))
    accuracy = (
        f"Fed the ground truth, the model predicts {right} of its {steps} next words "
        f"({100 * div.forced_accuracy:.0f}%, the end of the caption counted as a word)."
    )
    if div.first_difference is None:
        return f"Free sampling reproduces the ground truth “{truth}” word for word. {accuracy}"
    t = div.first_difference
    said = plain(div.free.words[t]) if t < len(div.free.words) else "(nothing: it stopped)"
    expected = plain(div.truth_words[t]) if t < len(div.truth_words) else "(nothing: the caption had ended)"
    ended = bool(div.free.words) and div.free.words[-1] == "<END>"
    if ended and div.free.text in truths:
        text = (
            f"Free sampling says another ground-truth caption of this image, word for word: “{free}”. It parts "
            f"from the one chosen here at **step {t + 1}** (“{said}” where this one has “{expected}”): a "
            f"different true caption, not a mistake. {accuracy}"
        )
    else:
        text = (
            f"Free sampling leaves the ground truth at **step {t + 1}**: it says “{said}” where the caption "
            f"has “{expected}”. From there on it feeds back its own words, which training never did, so later "
            f"mistakes compound. {accuracy}"
        )
    if t < len(div.truth_words):
        text += (
            " Under teacher forcing the ground-truth word at that step gets "
            f"p = {probability_text(div.forced_truth_prob[t])}."
        )
    return text + f"\n\nGround truth: “{truth}” · free: “{free}”"


def _likelier(ablation, i: int) -> str:
    """How much likelier word i is with the image: a ratio (explainer.wording.times), or, where its float32
    probability without the image underflows to 0, that (no ratio to give)."""
    if ablation.word_probs_without[i] == 0:
        return "p = 0 without it"
    return times(ablation.word_probs_with[i] / ablation.word_probs_without[i])


def ablation_text(ablation, top: int = 3) -> str:
    """Markdown: both captions and the words that depend most on the image, from the measured ratios (the
    words escaped)."""
    dependence = ablation.image_dependence
    words = ablation.with_image.words
    # The words of the caption quoted (its text leaves out <END>), most dependent first.
    order = [i for i in np.argsort(-dependence) if words[i] != "<END>"][:top]
    # Numbered as the figure's bars are: a word can occur twice with two ratios.
    visual = [
        f"{i + 1}. “{plain(words[i])}” ({_likelier(ablation, i)})" for i in order if dependence[i] > 0.3
    ]
    with_text, without_text = ablation.with_image.text, ablation.without_image.text
    text = (
        f"With the image: “{plain(with_text, MAX_SENTENCE)}”. With the feature zeroed, the "
        f"language model alone says: “{plain(without_text, MAX_SENTENCE)}”."
    )
    if visual:
        text += (
            " The words that need the picture most (how much likelier they are with it): "
            + ", ".join(visual)
            + "."
        )
    else:
        text += " No word of the caption is much likelier with the image than without"
        # Not looking only if the image changes nothing it says.
        text += (
            ": the model is not looking." if with_text == without_text else ", though the caption changes."
        )
    if ablation.with_image.temperature:
        text += (
            " These probabilities are the model's own, its softmax at temperature 1; the captions were drawn at "
            f"temperature {ablation.with_image.temperature:g}, so a drawn word may be one the model found unlikely."
        )
    return text


def check_text(check) -> str:
    """A caption check (core.data.scenes.check.CaptionCheck) as a short line."""
    if check is None:
        return ""
    if check.ok:
        return "✅ true of the scene"
    return "❌ " + "; ".join(plain(problem, MAX_SENTENCE) for problem in check.problems)


def score_rows(scores: dict) -> list[dict]:
    """Table rows from {model label: core.lab.metrics.ValScore}."""
    rows = []
    for label, score in scores.items():
        row = {"model": label, "BLEU-4 on val": round(score.bleu4, 3), "val images": score.n_images}
        if score.scene_accuracy is not None:
            row["val images captioned correctly"] = f"{100 * score.scene_accuracy:.1f}%"
        rows.append(row)
    return rows
