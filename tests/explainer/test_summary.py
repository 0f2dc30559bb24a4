"""explainer.summary: every sentence of the race summary follows from the numbers it cites.

`claims(text, summary)` reads each sentence back, checks that its numbers are the summary's (as printed) and
that its claim is the one those numbers choose; it fails on any sentence it does not know, so a new kind of
sentence cannot go unchecked. It runs over real races (several seeds, the ReLU and LSTM lanes, a diverging
lane, other settings) and over made-up numbers that reach every branch, including the one the old summary
got wrong (sigmoid saturated less than tanh, yet "fewer units stuck" was said of it).
"""

import re

import numpy as np
import pytest

from core.lab.race import MILESTONES, LaneSummary, Race, RaceConfig, RaceSummary
from explainer.escape import plain
from explainer.summary import CLOSE_RATIO, race_summary, shown
from tests.helpers.race_fixtures import synthetic_data

NUMBER = r"(-?[\d.]+(?:e[+-]\d+)?)"
RATIO = NUMBER


def ratio_close(said: str, exact: float) -> bool:
    """Whether a ratio as explainer.wording.times writes it is `exact` to its shown precision."""
    value = float(said)
    if value < 10:
        return abs(value - exact) <= 0.051
    if value < 1000:
        return abs(value - exact) <= 0.51
    return abs(value - exact) <= 0.051 * exact


AMONG = "Of the lanes that did not diverge, "


def lane_summary(name, final, first_below=None, saturated=0.1, derivative=0.5, **extra):
    values = {
        "activation": name,
        "iterations": 100,
        "first_loss": 45.0,
        "final_loss": final,
        "final_minibatches": 5,
        "best_loss": None if final is None else final * 0.9,
        "first_below": first_below or {1.0: None, 0.1: None},
        "saturated": saturated,
        "mean_derivative": derivative,
        "caption": "w1 w2",
        "caption_matches": False,
        "seconds_per_iteration": 0.025,
        "error": None,
    }
    return LaneSummary(**{**values, **extra})


def equal_shown(text: str, value: float) -> None:
    assert text == shown(value), f"{text} printed for {value}"


def claims(text: str, summary: RaceSummary) -> set[str]:
    """Check every sentence of `text` against `summary`; return the kinds of claim made."""
    lanes = {lane.activation: lane for lane in summary.lanes}
    went_on = [lane for lane in summary.lanes if lane.final_loss is not None and not lane.diverged_at]
    some_diverged = any(lane.final_loss is not None and lane.diverged_at for lane in summary.lanes)
    made = set()
    for paragraph in filter(None, text.split("\n")):
        if paragraph.startswith("After **"):
            iterations = int(re.match(r"After \*\*(\d+) iterations?\*\*", paragraph)[1])
            assert iterations == max(lane.iterations for lane in summary.lanes)
            assert f"on {summary.num_train} training captions (H = {summary.hidden_dim})" in paragraph
            assert ("did not start from the same weights" in paragraph) == (not summary.same_start)
            made.add("start")
        elif paragraph.startswith("- **"):
            made |= lane_claims(paragraph, lanes, went_on)
        elif " ends lowest " in paragraph:
            among, best, low, ratio, worst, high = re.fullmatch(
                rf"({AMONG})?\*\*(\w+)\*\* ends lowest \({NUMBER}\), {RATIO}× below \*\*(\w+)\*\* \({NUMBER}\)"
                r"(?:, with .* in between)?\.",
                paragraph,
            ).groups()
            assert bool(among) == some_diverged
            ranked = sorted(went_on, key=lambda lane: lane.final_loss)
            assert (best, worst) == (ranked[0].activation, ranked[-1].activation)
            equal_shown(low, lanes[best].final_loss)
            equal_shown(high, lanes[worst].final_loss)
            assert ratio_close(ratio, float(high) / float(low))
            ratio = float(ratio)
            assert ratio >= CLOSE_RATIO
            between = paragraph.split(", with ")[1] if ", with " in paragraph else ""
            for name, value in re.findall(rf"(\w+) \({NUMBER}\)", between):
                equal_shown(value, lanes[name].final_loss)
                assert lanes[best].final_loss <= lanes[name].final_loss <= lanes[worst].final_loss
            made.add("ranking" + (" of the lanes that went on" if among else ""))
            if ratio >= 1000:
                made.add("ranking by a ratio in e-notation")
        elif re.match(rf"({AMONG}the|The) lanes end within", paragraph):
            assert paragraph.startswith(AMONG) == some_diverged
            low, high = re.search(rf"\({NUMBER} to {NUMBER}\)", paragraph).groups()
            assert high == low or float(high) / float(low) < CLOSE_RATIO
            ranked = sorted(went_on, key=lambda lane: lane.final_loss)
            equal_shown(low, ranked[0].final_loss)
            equal_shown(high, ranked[-1].final_loss)
            made.add("draw")
        elif paragraph.startswith("Every lane that went on ends above its first loss ("):
            pairs = re.findall(rf"(\w+) {NUMBER} to {NUMBER}", paragraph.split("): ")[0])
            assert {name for name, _, _ in pairs} == {lane.activation for lane in went_on}
            for name, first, final in pairs:
                equal_shown(first, lanes[name].first_loss)
                equal_shown(final, lanes[name].final_loss)
                assert float(final) > float(first)
            made.add("none learned")
        elif paragraph.startswith("Backprop through time"):
            made |= why_claims(paragraph, lanes)
        elif paragraph.startswith("Along its cell state"):
            forget, claim, derivative, name = re.search(
                rf"f averages {NUMBER}, (more than|less than|as much as) the {NUMBER} that (\w+)'s units",
                paragraph,
            ).groups()
            lstm = next(lane for lane in summary.lanes if lane.mean_forget_gate is not None)
            equal_shown(forget, lstm.mean_forget_gate)
            equal_shown(derivative, lanes[name].mean_derivative)
            vanilla = [lane for lane in went_on if lane.mean_forget_gate is None]
            assert lanes[name].mean_derivative == max(lane.mean_derivative for lane in vanilla)
            expected = {1: "more than", -1: "less than", 0: "as much as"}[
                np.sign(float(forget) - float(derivative))
            ]
            assert claim == expected
            made.add(f"lstm {claim}")
        elif paragraph.startswith("On the sample training image, "):
            for lane in summary.lanes:
                if lane.iterations:
                    said = f"{lane.activation} says “{plain(lane.caption, 300) if lane.caption else '(nothing)'}”"
                    assert said in paragraph
                    truth = (
                        "(a ground-truth caption, word for word)" if lane.caption_matches else "(not a ground"
                    )
                    assert f"{said} {truth}" in paragraph
            made.add("captions")
        else:
            raise AssertionError(f"a sentence no test checks: {paragraph!r}")
    rose = [
        lane.final_minibatches > 1 and float(shown(lane.final_loss)) > float(shown(lane.first_loss))
        for lane in went_on
    ]
    # Said exactly when every lane ranked ended above where it began.
    assert ("none learned" in made) == (len(went_on) >= 2 and all(rose))
    return made


def lane_claims(paragraph, lanes, went_on) -> set[str]:
    name = re.match(r"- \*\*(\w+)\*\*", paragraph)[1]
    lane = lanes[name]
    if lane.final_loss is None:
        expected = (
            f"- **{name}** diverged at iteration {lane.diverged_at}, before any finite loss."
            if lane.diverged_at
            else f"- **{name}** has not trained yet."
        )
        assert paragraph == expected
        return {"untrained"}
    only = re.fullmatch(
        rf"- \*\*\w+\*\* had loss {NUMBER} on its only minibatch; (.*?)\.( It diverged .*)?", paragraph
    )
    stayed = re.fullmatch(
        rf"- \*\*\w+\*\* (stayed) at loss {NUMBER} \(mean of its last (\d+) minibatches; "
        rf"best {NUMBER}\); (.*?)\.( It diverged .*)?",
        paragraph,
    )
    if only:
        final, milestones, rest = only.groups()
        verb, first, best, averaged = "had", final, final, "1"
        assert lane.final_minibatches == 1 and lane.first_loss == lane.final_loss == lane.best_loss
    elif stayed:
        verb, final, averaged, best, milestones, rest = stayed.groups()
        first = final
    else:
        verb, first, final, averaged, best, milestones, rest = re.fullmatch(
            rf"- \*\*\w+\*\* (fell|rose) from loss {NUMBER} to {NUMBER} \(mean of its last (\d+) minibatches; "
            rf"best {NUMBER}\); (.*?)\.( It diverged .*)?",
            paragraph,
        ).groups()
    assert int(averaged) == lane.final_minibatches
    equal_shown(first, lane.first_loss)
    equal_shown(final, lane.final_loss)
    equal_shown(best, lane.best_loss)
    assert verb == "had" or verb == {1: "rose", -1: "fell", 0: "stayed"}[np.sign(float(final) - float(first))]
    for threshold in MILESTONES:
        reached = lane.first_below[threshold]
        if reached is None:
            # "never below 1" says it of 0.1 too
            never = [float(t) for t in re.findall(r"never below ([\d.]+)", milestones)]
            assert never and max(never) >= threshold, milestones
        else:
            assert f"below {threshold:g} at iteration {reached}" in milestones
    made = {f"lane {verb}"}
    if lane.diverged_at:
        assert rest.startswith(f" It diverged at iteration {lane.diverged_at}:")
        assert f"the weights of iteration {lane.diverged_at - 1}" in rest
        assert rest.endswith("the other lanes went on.") == any(other is not lane for other in went_on)
        made.add("diverged")
    else:
        assert rest is None
    return made


def why_claims(paragraph, lanes) -> set[str]:
    best_d, best, worst_d, worst = re.search(
        rf"f′\(a\) = {NUMBER} for (\w+) and {NUMBER} for (\w+)", paragraph
    ).groups()
    equal_shown(best_d, lanes[best].mean_derivative)
    equal_shown(worst_d, lanes[worst].mean_derivative)
    assert lanes[best].final_loss < lanes[worst].final_loss, "best is the lane that ends lower"
    made = set()
    less = re.search(rf"alone keeps {RATIO}× less of (\w+)'s gradient than of (\w+)'s", paragraph)
    none = re.search(r"alone lets none of (\w+)'s gradient through", paragraph)
    if none:
        assert float(worst_d) == 0 < float(best_d) and none[1] == worst
        made.add("derivative passes none")
    elif less:
        assert float(worst_d) < float(best_d)
        assert ratio_close(less[1], float(best_d) / float(worst_d))
        assert less.groups()[1:] == (worst, best)
        made.add("derivative explains")
    else:
        assert f"{worst}'s units pass as much or more" in paragraph
        assert float(worst_d) >= float(best_d)
        made.add("derivative does not explain")
    worst_p, best_p = round(100 * lanes[worst].saturated), round(100 * lanes[best].saturated)
    more = re.search(r" (\d+)% of (\w+)'s values are saturated .*? against (\d+)% for (\w+): more", paragraph)
    fewer = re.search(
        r"does not explain it: (\d+)% of (\w+)'s values .*? against (\d+)% for (\w+), fewer", paragraph
    )
    same = re.search(r"Both have (\d+)% saturated values", paragraph)
    assert sum(map(bool, (more, fewer, same))) == 1, paragraph
    if same:
        assert int(same[1]) == worst_p == best_p
        return made | {"saturation equal"}
    found = more or fewer
    assert (int(found[1]), found[2], int(found[3]), found[4]) == (worst_p, worst, best_p, best)
    assert (worst_p > best_p) == bool(more)
    return made | {"saturation explains" if more else "saturation does not explain"}


# --------------------------------------------------------------------------- real races


RACES = [{"activations": ("tanh", "sigmoid"), "seed": seed} for seed in range(4)] + [
    {"activations": ("tanh", "sigmoid", "relu", "lstm"), "seed": 1},
    {"activations": ("tanh", "sigmoid", "relu"), "seed": 2, "learning_rate": 2e-2},
    {"activations": ("sigmoid", "lstm"), "seed": 3, "hidden_dim": 32},
    {"activations": ("tanh", "relu"), "seed": 0, "learning_rate": 5e-4, "batch_size": 5},
    # Adam at 1 makes ReLU's units grow without bound at these sizes: it diverges, the others go on (the
    # engine's gradient norm overflows on the way, and says so).
    pytest.param(
        {"activations": ("tanh", "sigmoid", "relu"), "seed": 0, "learning_rate": 1.0, "iterations": 10},
        marks=pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    ),
]


@pytest.fixture(scope="module")
def data():
    return synthetic_data()


@pytest.mark.parametrize(
    "settings",
    RACES,
    ids=lambda s: "-".join(s["activations"]) + f"-lr{s.get('learning_rate', 5e-3):g}-seed{s['seed']}",
)
def test_real_races_say_only_what_their_numbers_show(data, settings):
    small = {"num_train": 30, "hidden_dim": 16, "wordvec_dim": 8, "iterations": 40}
    # the diverging race runs at the default sizes (H = 512, W = 256), where ReLU's units blow up
    config = RaceConfig(
        **{**({} if settings.get("learning_rate") == 1.0 else small), "num_train": 30, **settings}
    )
    race = Race(data, config)
    race.step(config.iterations)
    summary = race.summary()
    made = claims(race_summary(summary, MILESTONES), summary)
    assert {"start", "captions"} <= made
    if "lstm" in config.activations:
        assert any(kind.startswith("lstm ") for kind in made)
    if settings.get("learning_rate") == 1.0:
        assert "diverged" in made and summary.lanes[2].diverged_at


def test_every_kind_of_claim_is_reached_and_checked(data):
    """Made-up numbers that reach every branch; the checker is exercised on each of them."""
    cases = [
        # The issue's case: tanh learns, sigmoid passes less gradient yet is saturated less.
        [
            lane_summary("tanh", 0.083, {1.0: 30, 0.1: 69}, saturated=0.29, derivative=0.40),
            lane_summary("sigmoid", 12.45, saturated=0.26, derivative=0.10),
        ],
        [
            lane_summary("tanh", 0.5, {1.0: 40, 0.1: None}, saturated=0.6, derivative=0.2),
            lane_summary("relu", 5.0, saturated=0.1, derivative=0.6),
            lane_summary("sigmoid", 9.0, saturated=0.8, derivative=0.1),
        ],
        [
            lane_summary("tanh", 2.0, saturated=0.3, derivative=0.3),
            lane_summary("sigmoid", 2.1, saturated=0.2, derivative=0.1),
            lane_summary("lstm", 1.0, mean_forget_gate=0.3),
        ],
        [
            lane_summary("tanh", 1.0, saturated=0.3, derivative=0.3),
            lane_summary("sigmoid", 3.0, saturated=0.304, derivative=0.3),
            lane_summary("lstm", 0.5, mean_forget_gate=0.2),
        ],
        [lane_summary("tanh", 1.0), lane_summary("sigmoid", 1.05)],
        [
            lane_summary("tanh", 1.0, derivative=0.25),
            lane_summary("lstm", 0.8, mean_forget_gate=0.7),
            lane_summary("relu", 44.0, iterations=2, diverged_at=3, error="relu: Training diverged"),
        ],
        [
            lane_summary("tanh", 60.0),
            lane_summary("relu", None, iterations=0, diverged_at=1, error="relu: Training diverged"),
            lane_summary("sigmoid", None, iterations=0),
        ],
        [lane_summary("relu", 50.0, iterations=2, diverged_at=3, error="relu: Training diverged")],
        # A lane that diverged at once ends lower than those that went on: it is not ranked with them.
        [
            lane_summary("tanh", 317.0, first_loss=39.2),
            lane_summary("sigmoid", 482.0, first_loss=39.2),
            lane_summary("relu", 39.2, first_loss=39.2, iterations=1, diverged_at=2, error="relu: diverged"),
        ],
        [
            lane_summary("tanh", 1.0),
            lane_summary("sigmoid", 1.05),
            lane_summary("relu", 0.5, iterations=3, diverged_at=4, error="relu: diverged"),
        ],
        # A loss of millions that is still finite: a lane that rose, ranked by a ratio in e-notation.
        [lane_summary("tanh", 0.342), lane_summary("relu", 4702718.03)],
        # A learning rate so high that every lane ends above where it began (first loss 45).
        [
            lane_summary("tanh", 360.0),
            lane_summary("sigmoid", 278.0),
            lane_summary("lstm", 93.7, mean_forget_gate=0.5),
        ],
        # Every ReLU unit off: its mean f′ is 0, it passes none of the gradient.
        [lane_summary("tanh", 0.5, derivative=0.4), lane_summary("relu", 5.0, derivative=0.0)],
        # Both at a loss of 0, and at 999.6 and 1000, which print alike: draws.
        [lane_summary("tanh", 0.0), lane_summary("sigmoid", 0.0)],
        [lane_summary("tanh", 999.6), lane_summary("sigmoid", 1000.0)],
    ]
    made = set()
    for lanes in cases:
        summary = RaceSummary(lanes, 50, 512, True)
        made |= claims(race_summary(summary), summary)
    summary = RaceSummary(cases[0], 50, 512, False)
    made |= claims(race_summary(summary), summary)
    assert made >= {
        "start",
        "lane fell",
        "lane rose",
        "lane stayed",
        "untrained",
        "diverged",
        "ranking",
        "ranking of the lanes that went on",
        "ranking by a ratio in e-notation",
        "draw",
        "derivative explains",
        "derivative does not explain",
        "derivative passes none",
        "none learned",
        "saturation explains",
        "saturation does not explain",
        "saturation equal",
        "lstm more than",
        "lstm less than",
        "lstm as much as",
        "captions",
    }


def test_the_issue_case_no_longer_says_sigmoid_saturates_more():
    tanh = lane_summary("tanh", 0.083, {1.0: 30, 0.1: 69}, saturated=0.29, derivative=0.40)
    sigmoid = lane_summary("sigmoid", 12.45, saturated=0.26, derivative=0.10)
    text = race_summary(RaceSummary([tanh, sigmoid], 50, 512, True))
    assert "f′(a) = 0.4 for tanh and 0.1 for sigmoid" in text
    assert "keeps 4.0× less of sigmoid's gradient than of tanh's" in text
    assert "Saturation does not explain it: 26% of sigmoid's values are saturated" in text
    assert "fewer units stuck" not in text and "more of its units" not in text


def test_captions_are_shown_as_text():
    lane = lane_summary("tanh", 1.0, caption="a [link](https://example.invalid) *bold* <b>x</b>")
    text = race_summary(RaceSummary([lane], 50, 512, True))
    assert plain("a [link](https://example.invalid) *bold* <b>x</b>", 300) in text
    assert "[link](" not in text and "<b>" not in text


def test_derivatives_within_five_percent_explain_nothing():
    tanh = lane_summary("tanh", 0.5, derivative=0.501)
    relu = lane_summary("relu", 5.0, derivative=0.5)
    text = race_summary(RaceSummary([tanh, relu], 50, 512, True))
    assert "f′(a) = 0.501 for tanh and 0.5 for relu: within 5% of each other" in text and "× less" not in text


def test_one_iteration_is_one():
    """One iteration is one minibatch's loss: not a mean, and not a loss that "stayed"."""
    lane = lane_summary("tanh", 40.0, iterations=1, first_loss=40.0, best_loss=40.0, final_minibatches=1)
    summary = RaceSummary([lane], 50, 512, True)
    text = race_summary(summary)
    assert text.startswith("After **1 iteration** on 50 training captions")
    assert "- **tanh** had loss 40 on its only minibatch; never below 1." in text and "stayed" not in text
    assert "lane had" in claims(text, summary)


def test_summary_before_training():
    assert race_summary(RaceSummary([lane_summary("tanh", None)], 50, 512, True)) == (
        "Start the race to see a summary."
    )


def test_numbers_round_to_the_same_text_either_side_of_1000():
    assert [shown(v) for v in (999.4, 999.6, 1000.0, 999_999.6, 0.0)] == ["999", "1000", "1000", "1e+06", "0"]
