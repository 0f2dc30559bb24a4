"""core.lab.race: identical starts and minibatches, lockstep ticks within a budget, milestones, statistics,
and the LSTM lane."""

import warnings

import numpy as np
import pytest

from core.data.coco_utils import decode_captions
from core.engine.rnn import CaptioningRNN
from core.errors import ActivationError, HyperparameterError
from core.lab.race import (
    LANE_NAMES,
    MAX_ITERATIONS,
    SHARED_PARAMS,
    Race,
    RaceConfig,
    fingerprint,
    iterations_run,
    training_subset,
)
from tests.helpers.race_fixtures import synthetic_data

SMALL = {"num_train": 30, "hidden_dim": 16, "wordvec_dim": 8, "batch_size": 10, "iterations": 20}


@pytest.fixture(scope="module")
def data():
    return synthetic_data()


def test_training_subset_keeps_captions_and_images_consistent(data):
    subset = training_subset(data, 17, seed=3)
    assert subset["train_captions"].shape == (17, 13)
    rows = subset["train_image_idxs"]
    assert rows.max() < subset["train_features"].shape[0] == subset["train_urls"].shape[0]
    # Every caption still points at the feature row and URL of its own image.
    chosen = np.random.default_rng(3).choice(len(data["train_captions"]), 17, replace=False)
    original_rows = data["train_image_idxs"][chosen]
    np.testing.assert_array_equal(subset["train_features"][rows], data["train_features"][original_rows])
    np.testing.assert_array_equal(subset["train_urls"][rows], data["train_urls"][original_rows])
    with pytest.raises(HyperparameterError, match="num_train=999"):
        training_subset(data, 999)


def test_lanes_start_from_identical_weights_and_see_identical_minibatches(data):
    race = Race(data, RaceConfig(activations=("tanh", "sigmoid", "relu"), **SMALL))
    prints = {lane.initial_fingerprint for lane in race.lanes}
    assert prints == {race.initial_fingerprint}
    assert [lane.model.activation for lane in race.lanes] == ["tanh", "sigmoid", "relu"]
    # Weights are copies, not shared arrays: training one lane leaves the others alone.
    assert race.lanes[0].model.params["Wh"] is not race.lanes[1].model.params["Wh"]
    batches = [[lane.solver.sample_minibatch()[0] for _ in range(3)] for lane in race.lanes]
    for other in batches[1:]:
        for a, b in zip(batches[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_lanes_diverge_only_through_the_activation(data):
    race = Race(data, RaceConfig(**SMALL))
    race.step(3)
    tanh, sigmoid = race.lanes
    assert tanh.iteration == sigmoid.iteration == 3
    assert fingerprint(tanh.model.params) != fingerprint(sigmoid.model.params)
    assert tanh.solver.rng.bit_generator.state == sigmoid.solver.rng.bit_generator.state
    again = Race(data, RaceConfig(**SMALL))
    again.step(3)
    np.testing.assert_array_equal(again.lanes[0].losses, tanh.losses)


def test_loss_histories_and_gradient_norms_grow_per_iteration(data):
    race = Race(data, RaceConfig(**SMALL))
    race.step(4)
    for lane in race.lanes:
        assert lane.losses.shape == (4,)
        assert np.all(np.isfinite(lane.losses)) and np.all(lane.losses > 0)
        total, wh = lane.grad_norms(), lane.grad_norms("Wh")
        assert total.shape == wh.shape == (4,)
        assert np.all(total >= wh) and np.all(wh > 0)
        record = lane.solver.history[0]
        assert total[0] == pytest.approx(np.sqrt(sum(v * v for v in record.grad_norms.values())))


def test_a_lane_steps_on_its_own(data):
    race = Race(data, RaceConfig(**SMALL))
    tanh, sigmoid = race.lanes
    assert race.step_lane(tanh) and race.step_lane(tanh)
    assert (tanh.iteration, sigmoid.iteration, race.iteration) == (2, 0, 0)
    assert tanh.seconds > 0 and sigmoid.seconds == 0
    # Stepped apart, each lane still sees the minibatches of its own iteration count: the same as in rounds.
    race.step_lane(sigmoid)
    race.step_lane(sigmoid)
    together = Race(data, RaceConfig(**SMALL))
    together.step(2)
    for alone, rounds in zip(race.lanes, together.lanes, strict=True):
        np.testing.assert_array_equal(alone.losses, rounds.losses)


def test_the_race_has_run_as_far_as_its_slowest_lane_that_did_not_diverge(data):
    race = Race(data, RaceConfig(**SMALL))
    tanh, sigmoid = race.lanes
    for _ in range(3):
        race.step_lane(tanh)
    race.step_lane(sigmoid)
    assert iterations_run([race.record(lane) for lane in race.lanes]) == 1
    sigmoid.error, sigmoid.diverged_at = "sigmoid: diverged", 2  # it stopped: tanh alone sets the progress
    sigmoid.publish()
    assert iterations_run([race.record(lane) for lane in race.lanes]) == 3
    tanh.error, tanh.diverged_at = "tanh: diverged", 4  # every lane stopped: the furthest one
    tanh.publish()
    assert iterations_run([race.record(lane) for lane in race.lanes]) == 3


def test_a_published_state_stays_as_it_was_while_the_lane_trains_on(data):
    """Readers copy a lane's published weights without a lock: the update must make new arrays."""
    race = Race(data, RaceConfig(**SMALL))
    tanh = race.lanes[0]
    race.step_lane(tanh)
    state = tanh.published
    before = {name: value.copy() for name, value in state.params.items()}
    race.step_lane(tanh)
    assert state.iteration == 1 and tanh.published.iteration == 2
    for name, value in state.params.items():
        np.testing.assert_array_equal(value, before[name])
    assert any(not np.array_equal(tanh.published.params[n], before[n]) for n in before)
    record = race.record(tanh)
    assert record.iteration == 2 and record.losses.size == record.grad_norms.size == 2


def test_runs_to_the_target_then_extends(data):
    race = Race(data, RaceConfig(**SMALL))
    assert race.step(100) == SMALL["iterations"]
    assert race.done and race.iteration == race.target == SMALL["iterations"]
    assert race.step(1) == 0 and not race.step_lane(race.lanes[0])
    race.extend(5)
    assert not race.done and race.target == SMALL["iterations"] + 5
    race.step(10)
    assert race.iteration == SMALL["iterations"] + 5
    # Extended, it is the race its settings would set up with that many iterations: the same losses.
    assert race.config == RaceConfig(**{**SMALL, "iterations": SMALL["iterations"] + 5}).validated()
    again = Race(data, race.config)
    again.step(100)
    for lane, fresh in zip(race.lanes, again.lanes, strict=True):
        np.testing.assert_array_equal(lane.solver.loss_history, fresh.solver.loss_history)
    with pytest.raises(HyperparameterError, match=str(MAX_ITERATIONS)):
        race.extend(MAX_ITERATIONS)
    with pytest.raises(HyperparameterError):
        race.extend(0)


def test_milestones_are_first_iterations_below_the_thresholds(data):
    race = Race(data, RaceConfig(**SMALL))
    race.step(5)
    lane = race.lanes[0]
    lane.solver.loss_history[:] = [3.0, 0.9, 1.2, 0.05, 0.5]
    record = race.record(lane)
    assert record.first_below(1.0) == 2
    assert record.first_below(0.1) == 4
    assert record.first_below(0.01) is None
    assert record.final_loss(window=2) == pytest.approx(0.275)
    assert record.loss_change(2) == (pytest.approx(0.5 - 1.2), 2)
    # fewer losses than asked for: the change since the first, over the iterations there are
    assert record.loss_change(10) == (pytest.approx(0.5 - 3.0), record.losses.size - 1)
    # The record is a copy: the lane going on does not change it.
    race.step_lane(lane)
    assert record.losses.size == 5 and record.iteration == 5 and lane.iteration == 6


def test_hidden_stats_measure_saturation(data):
    race = Race(data, RaceConfig(activations=("tanh", "sigmoid", "relu"), **SMALL))
    tanh_lane, sigmoid_lane, relu_lane = race.lanes
    race.lanes[0].model.params["Wh"] *= 50
    race.lanes[0].model.params["W_proj"] *= 50
    tanh = race.hidden_stats(tanh_lane)
    assert tanh.counts.sum() > 0
    assert tanh.edges[0] == -1 and tanh.edges[-1] == 1
    # Huge weights push tanh units to +-1, where 1 - h^2 < 0.1.
    assert tanh.saturated > 0.5
    assert tanh.mean_derivative < 0.5
    sigmoid = race.hidden_stats(sigmoid_lane)
    assert sigmoid.edges[0] == 0 and sigmoid.edges[-1] == 1
    assert 0 < sigmoid.mean_derivative <= 0.25
    relu = race.hidden_stats(relu_lane)
    assert relu.edges[0] == 0 and 0 <= relu.saturated <= 1
    # Only non-<NULL> inputs are counted: one value per hidden unit per real input word.
    mask = race.probe_captions[:, :-1] != 0
    assert tanh.counts.sum() == mask.sum() * SMALL["hidden_dim"]


def test_samples_record_caption_changes_for_the_sample_image(data):
    race = Race(data, RaceConfig(**SMALL))
    assert [len(lane.samples) for lane in race.lanes] == [1, 1]
    assert race.lanes[0].samples[0].iteration == 0
    race.step(SMALL["iterations"])  # no record in between: the lanes sample after each of their iterations
    records = [race.record(lane) for lane in race.lanes]
    assert [r.caption for r in records] == [lane.samples[-1].text for lane in race.lanes]
    for lane, record in zip(race.lanes, records, strict=True):
        iterations = [s.iteration for s in lane.samples]
        assert iterations == sorted(iterations)
        texts = [s.text for s in lane.samples]
        assert all(a != b for a, b in zip(texts, texts[1:], strict=False))
        # every change, at the iteration it happened: the greedy caption of the weights after each iteration
        replay = Race(data, RaceConfig(**SMALL)).lanes[race.lanes.index(lane)]
        changes = [(0, texts[0])]
        T = data["train_captions"].shape[1] - 1
        for i in range(1, SMALL["iterations"] + 1):
            replay.solver.step(1)
            ids = replay.model.sample(race.sample_feature[None], max_length=T)[0]
            text = decode_captions(ids, data["idx_to_word"])
            if text != changes[-1][1]:
                changes.append((i, text))
        assert [(s.iteration, s.text) for s in record.samples] == changes
    assert race.sample_truth and all(isinstance(t, str) and t for t in race.sample_truth)
    assert race.sample_url.startswith("https://example.invalid/train/")


def test_diverging_lane_stops_alone(data):
    race = Race(data, RaceConfig(**SMALL))
    race.lanes[1].model.params["W_vocab"][:] = np.nan
    race.step(3)
    assert race.lanes[1].error and "diverged at iteration 1" in race.lanes[1].error
    assert race.lanes[1].iteration == 0 and race.lanes[1].diverged_at == 1
    assert race.lanes[0].iteration == 3 and race.lanes[0].diverged_at is None
    summary = race.summary()
    assert summary.lanes[1].error and summary.lanes[1].diverged_at == 1
    # The iteration that diverged ran: its time counts, per iteration run.
    record = race.record(race.lanes[1])
    assert record.seconds > 0 and record.seconds_per_iteration == record.seconds / 1


def test_tanh_learns_faster_than_sigmoid(data):
    race = Race(data, RaceConfig(num_train=50, hidden_dim=64, wordvec_dim=32, iterations=80))
    race.step(80)
    summary = race.summary()
    tanh, sigmoid = summary.lanes
    assert summary.same_start
    assert tanh.final_loss < 0.7 * sigmoid.final_loss
    assert sigmoid.mean_derivative < tanh.mean_derivative
    assert tanh.first_loss == pytest.approx(sigmoid.first_loss, rel=0.2)


def test_config_bounds():
    with pytest.raises(HyperparameterError, match="hidden_dim=4096"):
        RaceConfig(hidden_dim=4096).validated()
    with pytest.raises(HyperparameterError, match="batch_size"):
        RaceConfig(batch_size=0).validated()
    with pytest.raises(HyperparameterError, match="activations"):
        RaceConfig(activations=("tanh", "tanh")).validated()
    with pytest.raises(ActivationError):
        RaceConfig(activations=("tanh", "gelu")).validated()
    with pytest.raises(HyperparameterError, match="learning_rate=2"):
        RaceConfig(learning_rate=2.0).validated()
    assert RaceConfig(activations=LANE_NAMES, learning_rate=1.0).validated().activations == LANE_NAMES
    assert RaceConfig().validated().hidden_dim == 512


def test_notebook_sizes_on_the_embedded_dataset_tanh_overfits_and_sigmoid_does_not():
    """The race page's defaults (the notebook's: 50 captions, H = 512, W = 256, Adam 5e-3, decay 0.95,
    batch 25, 100 iterations) on the real embedded dataset reproduce what the notebook found."""
    from core.data.coco_utils import load_coco_data

    data = load_coco_data()  # the embedded dataset of the session's data home (generated once)
    assert data["source"] == "embedded"
    race = Race(data, RaceConfig())
    assert race.step(100) == 100
    tanh, sigmoid = race.lanes
    assert (tanh.activation, sigmoid.activation) == ("tanh", "sigmoid")
    assert tanh.losses.shape == sigmoid.losses.shape == (100,)
    tanh, sigmoid = race.record(tanh), race.record(sigmoid)
    assert tanh.losses[-1] < 0.1 and tanh.final_loss() < 0.1
    assert tanh.first_below(1.0) is not None and tanh.first_below(0.1) <= 100
    assert sigmoid.losses[-1] > 1.0 and sigmoid.first_below(1.0) is None


# --------------------------------------------------------------------------- the LSTM lane


def test_lstm_lane_differs_only_in_its_cell_and_sees_the_same_minibatches(data):
    race = Race(data, RaceConfig(activations=("tanh", "lstm"), **SMALL))
    tanh, lstm = race.lanes
    assert (tanh.cell_type, lstm.cell_type, lstm.name) == ("rnn", "lstm", "lstm")
    assert lstm.model.params["Wh"].shape == (SMALL["hidden_dim"], 4 * SMALL["hidden_dim"])
    for key in SHARED_PARAMS:
        np.testing.assert_array_equal(lstm.model.params[key], tanh.model.params[key])
        assert lstm.model.params[key] is not tanh.model.params[key]
    assert lstm.shared_fingerprint == tanh.shared_fingerprint
    assert lstm.initial_fingerprint != tanh.initial_fingerprint
    # the LSTM's own weights are those of the LSTM captioner of the race's seed
    seeded = CaptioningRNN(data["word_to_idx"], 32, 8, 16, cell_type="lstm", seed=0)
    np.testing.assert_array_equal(lstm.model.params["Wx"], seeded.params["Wx"])
    for a, b in zip(
        *[[lane.solver.sample_minibatch()[0] for _ in range(3)] for lane in race.lanes], strict=True
    ):
        np.testing.assert_array_equal(a, b)
    race.step(4)
    assert race.summary().same_start
    assert lstm.losses.shape == (4,) and np.all(np.isfinite(lstm.losses))
    assert lstm.solver.rng.bit_generator.state == tanh.solver.rng.bit_generator.state


def test_lstm_lane_statistics(data):
    race = Race(data, RaceConfig(activations=("tanh", "sigmoid", "lstm"), **SMALL))
    race.step(3)
    lstm = race.lanes[2]
    stats = race.hidden_stats(lstm)
    assert stats.activation == "lstm"
    assert stats.edges[0] == -1 and stats.edges[-1] == 1
    mask = race.probe_captions[:, :-1] != 0
    assert stats.counts.sum() == mask.sum() * SMALL["hidden_dim"]
    # o (1 - tanh²(c)) of the real input steps, recomputed from the forward pass's cache
    h, cache = lstm.model.recurrent_forward(race.probe_features, race.probe_captions)
    derivative = (cache.o * (1 - cache.tanh_c**2))[mask.T]
    assert stats.mean_derivative == pytest.approx(derivative.mean(), rel=1e-5)
    assert stats.saturated == pytest.approx(np.mean(derivative < 0.1))
    assert stats.mean_forget_gate == pytest.approx(cache.f[mask.T].mean(), rel=1e-5)
    assert 0 < stats.mean_forget_gate < 1 and 0 < stats.mean_derivative <= 1
    assert race.hidden_stats(race.lanes[0]).mean_forget_gate is None
    summary = race.summary()
    assert [lane.mean_forget_gate is None for lane in summary.lanes] == [True, True, False]
    assert summary.lanes[2].mean_derivative == pytest.approx(stats.mean_derivative)
    # A shut output gate cuts the gradient through h: the LSTM lane's units then count as saturated.
    H = SMALL["hidden_dim"]
    lstm.model.params["b"][2 * H : 3 * H] = -50
    shut = race.hidden_stats(lstm)
    assert shut.saturated == 1.0 and shut.mean_derivative < 1e-6


def test_lane_names_are_checked():
    assert "lstm" in LANE_NAMES
    RaceConfig(activations=("lstm",)).validated()
    with pytest.raises(ActivationError, match="Lane 'gru' is not supported; choose from .*'lstm'"):
        RaceConfig(activations=("tanh", "gru")).validated()


def test_notebook_sizes_on_the_embedded_dataset_the_lstm_lane_learns_too():
    """An LSTM lane at the race page's defaults (the notebook's sizes): the LSTM_Captioning notebook's
    overfit run reaches losses below 0.5; so does the lane in its 100 iterations, where sigmoid stays
    above 1 (previous test)."""
    from core.data.coco_utils import load_coco_data

    race = Race(load_coco_data(), RaceConfig(activations=("lstm",)))
    assert race.step(100) == 100
    (lstm,) = race.lanes
    assert lstm.losses[-1] < 0.5 and race.record(lstm).first_below(1.0) is not None
    summary = race.summary()
    assert summary.same_start and 0 < summary.lanes[0].mean_forget_gate < 1


# --------------------------------------------------------------------------- lanes that blow up


def test_notebook_sizes_relu_at_a_huge_learning_rate_diverges_while_the_others_go_on():
    """Adam at 0.5 on the embedded dataset at the notebook's sizes: ReLU's units grow without bound and its
    second iteration is no longer finite; tanh and sigmoid train on."""
    from core.data.coco_utils import load_coco_data

    race = Race(load_coco_data(), RaceConfig(activations=("tanh", "sigmoid", "relu"), learning_rate=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # nothing on the server's console
        race.step(4)
    tanh, sigmoid, relu = race.lanes
    assert (relu.diverged_at, relu.iteration, tanh.iteration, sigmoid.iteration) == (2, 1, 4, 4)
    # Its loss and gradients are finite; their float32 norm is not.
    assert (
        "diverged at iteration 2: the gradients grew too large to measure their norm (the loss is"
        in relu.error
    )
    records = [race.record(lane) for lane in race.lanes]
    assert np.isfinite(records[2].losses).all() and records[2].losses.size == 1
    assert [lane.diverged_at for lane in race.summary(records).lanes] == [None, None, 2]


def test_hidden_stats_leave_out_values_that_are_not_finite(data):
    race = Race(data, RaceConfig(activations=("tanh", "relu"), **SMALL))
    relu = race.lanes[1]
    # Weights this large make ReLU's hidden values overflow float32 to infinity (and inf - inf to NaN).
    relu.model.params["W_proj"] *= np.float32(1e30)
    relu.model.params["Wh"] *= np.float32(1e30)
    with np.errstate(over="ignore", invalid="ignore"):
        stats = race.hidden_stats(relu)
    assert 0 < stats.nonfinite <= 1
    assert np.isfinite(stats.edges).all() and np.all(np.diff(stats.edges) > 0)
    assert np.isfinite([stats.saturated, stats.mean_derivative]).all()
    mask = race.probe_captions[:, :-1] != 0
    assert stats.counts.sum() == round((1 - stats.nonfinite) * mask.sum() * SMALL["hidden_dim"])
    assert race.hidden_stats(race.lanes[0]).nonfinite == 0


def test_every_lane_at_once(data):
    race = Race(data, RaceConfig(activations=LANE_NAMES, **SMALL))
    race.step(2)
    assert [lane.iteration for lane in race.lanes] == [2, 2, 2, 2]
    assert race.summary().same_start
