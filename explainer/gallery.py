"""Figures and texts of the caption gallery, from `core.lab.captioning` results."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.colors import GROUND_TRUTH, HIGHLIGHT, NEUTRAL, base_layout
from explainer.escape import MAX_SENTENCE, figure_text, plain

WRONG = "#dc2626"
WITHOUT_IMAGE = "#9ca3af"


def topk_figure(caption, idx_to_word, columns: int = 4, uirevision: str = "gallery.topk") -> go.Figure:
    """One small bar chart per generated word: the k most probable words of that step, the chosen one
    highlighted (it may be outside the top k when sampled with a temperature; then it gets its own bar).

    caption: core.lab.captioning.GeneratedCaption with L steps.
    """
    L = len(caption.words)
    cols = max(1, min(columns, L))
    rows = int(np.ceil(L / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[
            f"{t + 1}. {figure_text(w)} (p = {p:.2f})"
            for t, (w, p) in enumerate(zip(caption.words, caption.chosen_probs, strict=True))
        ],
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 0.5 / rows),
    )
    for t in range(L):
        ids = list(caption.topk_ids[t])
        probs = list(caption.topk_probs[t])
        chosen = int(caption.ids[t])
        if chosen not in ids:
            ids.append(chosen)
            probs.append(float(caption.chosen_probs[t]))
        words = [figure_text(idx_to_word[int(i)]) for i in ids]
        fig.add_trace(
            go.Bar(
                x=probs,
                y=words,
                orientation="h",
                marker_color=[HIGHLIGHT if int(i) == chosen else NEUTRAL for i in ids],
                hovertemplate="%{y}: p = %{x:.4f}<extra></extra>",
                showlegend=False,
                name=f"step {t + 1}",
            ),
            row=t // cols + 1,
            col=t % cols + 1,
        )
    fig.update_xaxes(range=[0, 1], showticklabels=False)
    fig.update_yaxes(autorange="reversed")
    fig.update_annotations(font_size=12)
    return base_layout(fig, uirevision, 40 + 150 * rows)


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
    fig.add_trace(
        go.Heatmap(
            z=grid,
            x=steps,
            y=labels,
            text=text,
            texttemplate="%{text}",
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
            hovertemplate="step %{x}: p(ground truth) = %{y:.3f}<extra></extra>",
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
    fig = go.Figure(
        [
            go.Bar(
                x=words,
                y=ablation.word_probs_with,
                name="with the image",
                marker_color=HIGHLIGHT,
                hovertemplate="%{x}: p = %{y:.4f} with the image<extra></extra>",
            ),
            go.Bar(
                x=words,
                y=ablation.word_probs_without,
                name="feature zeroed",
                marker_color=WITHOUT_IMAGE,
                hovertemplate="%{x}: p = %{y:.4f} without the image<extra></extra>",
            ),
        ]
    )
    fig.update_yaxes(type="log", title_text="p(word | words before)")
    return base_layout(fig, uirevision, 340, barmode="group", legend={"orientation": "h", "y": 1.1})


def divergence_text(div) -> str:
    """Markdown: where the free caption leaves the ground truth and what teacher forcing sees there (the
    words escaped: they come from the dataset)."""
    truth = plain(" ".join(w for w in div.truth_words if w != "<END>"), MAX_SENTENCE)
    free = plain(div.free.text, MAX_SENTENCE)
    accuracy = f"Fed the ground truth, the model predicts {100 * div.forced_accuracy:.0f}% of its words."
    if div.first_difference is None:
        return f"Free sampling reproduces the ground truth “{truth}” word for word. {accuracy}"
    t = div.first_difference
    said = plain(div.free.words[t]) if t < len(div.free.words) else "(nothing: it stopped)"
    expected = plain(div.truth_words[t]) if t < len(div.truth_words) else "(nothing: the caption had ended)"
    text = (
        f"Free sampling leaves the ground truth at **step {t + 1}**: it says “{said}” where the caption has "
        f"“{expected}”. From there on it feeds back its own words, which training never did, so later "
        f"mistakes compound. {accuracy}"
    )
    if t < len(div.truth_words):
        text += f" Under teacher forcing the ground-truth word at that step gets p = {div.forced_truth_prob[t]:.2f}."
    return text + f"\n\nGround truth: “{truth}” · free: “{free}”"


def ablation_text(ablation, top: int = 3) -> str:
    """Markdown: both captions and the words that depend most on the image, from the measured ratios (the
    words escaped)."""
    dependence = ablation.image_dependence
    words = ablation.with_image.words
    order = np.argsort(-dependence)[:top]
    visual = [f"“{plain(words[i])}” (×{10 ** dependence[i]:.0f})" for i in order if dependence[i] > 0.3]
    text = (
        f"With the image: “{plain(ablation.with_image.text, MAX_SENTENCE)}”. With the feature zeroed, the "
        f"language model alone says: “{plain(ablation.without_image.text, MAX_SENTENCE)}”."
    )
    if visual:
        text += (
            " The words that need the picture most (how much likelier they are with it): "
            + ", ".join(visual)
            + "."
        )
    else:
        text += (
            " No word of the caption is much likelier with the image than without: the model is not looking."
        )
    return text


def check_text(check) -> str:
    """A caption check (core.scenes.CaptionCheck) as a short line."""
    if check is None:
        return ""
    if check.ok:
        return "✅ true of the scene"
    return "❌ " + "; ".join(plain(problem, MAX_SENTENCE) for problem in check.problems)


def score_rows(scores: dict) -> list[dict]:
    """Table rows from {model label: core.lab.trained_models.ValScore}."""
    rows = []
    for label, score in scores.items():
        row = {"model": label, "BLEU-4 on val": round(score.bleu4, 3), "val images": score.n_images}
        if score.scene_accuracy is not None:
            row["val images captioned correctly"] = f"{100 * score.scene_accuracy:.1f}%"
        rows.append(row)
    return rows
