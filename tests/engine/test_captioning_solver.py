"""CaptioningSolver: overfitting small data, reproducible minibatches, stepwise training, divergence, lr decay."""

import numpy as np
import pytest

from core.engine.captioning_solver import CaptioningSolver, IterationRecord
from core.engine.rnn import PARAM_NAMES, CaptioningRNN
from core.errors import HyperparameterError, NonFiniteError
from tests.helpers.vocab import make_vocab, random_captions

COCO_VOCAB_SIZE = 1004  # the CS231n COCO vocabulary: 1000 words plus <NULL>, <START>, <END>, <UNK>
COCO_CAPTION_LENGTH = 17


def synthetic_data(num_captions, num_images, feature_dim, vocab_size, length=COCO_CAPTION_LENGTH, seed=0):
    """A CS231n-style data dict with random features and random captions.

    Captions are spread evenly over the images (one each when num_captions == num_images, as in the
    notebook's 50-caption subsample, so every caption can be memorised).
    """
    rng = np.random.default_rng(seed)
    word_to_idx = make_vocab(vocab_size)
    return {
        "train_captions": random_captions(rng, num_captions, length, vocab_size),
        "train_image_idxs": (rng.permutation(num_captions) % num_images).astype(np.int32),
        "train_features": rng.standard_normal((num_images, feature_dim)).astype(np.float32),
        "word_to_idx": word_to_idx,
        "idx_to_word": {i: w for w, i in word_to_idx.items()},
    }


def small_setup(solver_seed=0, activation="tanh", **solver_args):
    """A tiny model and data set (40 captions, batch 8: 5 iterations per epoch) and a solver over them."""
    data = synthetic_data(40, 10, 6, 20, length=8, seed=5)
    model = CaptioningRNN(
        data["word_to_idx"], input_dim=6, wordvec_dim=5, hidden_dim=7, activation=activation, seed=5
    )
    args = {"update_rule": "adam", "optim_config": {"learning_rate": 1e-2}, "batch_size": 8, "num_epochs": 3}
    args.update(solver_args)
    return model, CaptioningSolver(model, data, verbose=False, seed=solver_seed, **args)


# --------------------------------------------------------------------------- overfitting (the notebook's run)


def overfit(activation):
    """The notebook's small-data run: 50 captions, H = 512, W = 256, Adam 5e-3, decay 0.95, batch 25, 100 its."""
    data = synthetic_data(50, 50, 512, COCO_VOCAB_SIZE, seed=231)
    model = CaptioningRNN(
        data["word_to_idx"], input_dim=512, wordvec_dim=256, hidden_dim=512, activation=activation, seed=231
    )
    solver = CaptioningSolver(
        model,
        data,
        update_rule="adam",
        num_epochs=50,
        batch_size=25,
        optim_config={"learning_rate": 5e-3},
        lr_decay=0.95,
        verbose=False,
        seed=231,
    )
    return solver.train()


def test_tanh_overfits_small_data():
    history = overfit("tanh")
    assert len(history) == 100
    assert history[0] == pytest.approx(np.log(COCO_VOCAB_SIZE) * 9, rel=0.3)
    assert history[-1] < 0.1


def test_sigmoid_stays_far_above_tanh_on_the_same_run():
    history = overfit("sigmoid")
    assert len(history) == 100
    assert history[-1] > 1.0


# --------------------------------------------------------------------------- reproducibility and stepping


def test_same_seed_same_minibatches_losses_and_weights():
    model_a, first = small_setup(solver_seed=1)
    model_b, second = small_setup(solver_seed=1)
    first.train()
    second.train()
    assert len(first.loss_history) == 15
    assert first.loss_history == second.loss_history
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(model_a.params[name], model_b.params[name])


def test_minibatches_follow_the_solver_seed():
    _, a = small_setup(solver_seed=3)
    _, b = small_setup(solver_seed=3)
    _, c = small_setup(solver_seed=4)
    captions_a, features_a = a.sample_minibatch()
    captions_b, features_b = b.sample_minibatch()
    np.testing.assert_array_equal(captions_a, captions_b)
    np.testing.assert_array_equal(features_a, features_b)
    assert captions_a.shape == (8, 8) and features_a.shape == (8, 6)
    assert not np.array_equal(captions_a, c.sample_minibatch()[0])


def test_without_a_seed_the_courses_np_random_seed_makes_a_run_repeatable():
    """The notebooks call np.random.seed(231) and build the model and the solver without a seed."""
    data = synthetic_data(40, 10, 6, 20, length=8, seed=5)
    runs = []
    for global_seed in (231, 231, 232):
        np.random.seed(global_seed)
        model = CaptioningRNN(data["word_to_idx"], input_dim=6, wordvec_dim=5, hidden_dim=7)
        solver = CaptioningSolver(
            model, data, update_rule="adam", batch_size=8, num_iterations=3, verbose=False
        )
        solver.train()
        runs.append((model.params["Wh"], solver.loss_history))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert runs[0][1] != runs[2][1]


def test_step_resumes_exactly_like_one_train():
    model_a, whole = small_setup(solver_seed=7)
    model_b, stepped = small_setup(solver_seed=7)
    whole.train()
    sizes = []
    while not stepped.done:
        sizes.append(len(stepped.step(4)))
    assert sizes == [4, 4, 4, 3]
    assert stepped.step(5) == []
    assert stepped.iteration == whole.iteration == 15
    assert stepped.loss_history == whole.loss_history
    assert [r.loss for r in stepped.history] == whole.loss_history
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(model_a.params[name], model_b.params[name])


def test_iteration_records():
    model, solver = small_setup(solver_seed=0)
    records = solver.step(6)
    assert [r.iteration for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.epoch for r in records] == [0, 0, 0, 0, 0, 1]
    assert all(isinstance(r, IterationRecord) for r in records)
    assert [r.loss for r in records] == solver.loss_history
    assert records[0].loss > records[-1].loss
    for record in records:
        assert set(record.grad_norms) == set(PARAM_NAMES)
        assert all(np.isfinite(v) and v >= 0 for v in record.grad_norms.values())


def test_record_holds_the_loss_and_gradient_norms_of_the_update():
    model, solver = small_setup(solver_seed=0)
    _, twin = small_setup(solver_seed=0)
    captions, features = twin.sample_minibatch()
    expected_loss, grads = model.copy().loss(features, captions)
    before = model.params["Wh"].copy()
    (record,) = solver.step()
    assert record.loss == expected_loss
    for name in PARAM_NAMES:
        assert record.grad_norms[name] == pytest.approx(np.linalg.norm(grads[name]), rel=1e-6)
    # Adam's first step moves each weight by about the learning rate against its gradient's sign
    moved = before - model.params["Wh"]
    np.testing.assert_allclose(moved, 1e-2 * np.sign(grads["Wh"]), atol=1e-5)


def test_learning_rate_decays_once_per_epoch():
    _, solver = small_setup(solver_seed=0, lr_decay=0.5)
    records = solver.train()
    rates = [r.learning_rate for r in solver.history]
    assert rates[:5] == [1e-2] * 5
    assert rates[5:10] == [pytest.approx(5e-3)] * 5
    assert rates[10:] == [pytest.approx(2.5e-3)] * 5
    assert solver.learning_rate == pytest.approx(1.25e-3)
    assert records is solver.loss_history


def test_num_iterations_overrides_epochs_and_verbose_prints(capsys):
    _, solver = small_setup(solver_seed=0, num_iterations=10, print_every=3)
    solver.verbose = True
    solver.train()
    assert solver.iteration == 10 and solver.done
    lines = capsys.readouterr().out.splitlines()
    # As the course's solver: the first iteration, then every print_every (it prints when t % print_every == 0,
    # numbering the iteration t + 1).
    printed = [line.split(")")[0] for line in lines]
    assert printed == ["(Iteration 1 / 10", "(Iteration 4 / 10", "(Iteration 7 / 10", "(Iteration 10 / 10"]
    assert lines[0].endswith(f"loss: {solver.loss_history[0]:f}")


# --------------------------------------------------------------------------- divergence


def test_poisoned_parameter_stops_training_naming_the_iteration():
    model, solver = small_setup(solver_seed=0)
    solver.step(3)
    model.params["W_vocab"][0, 0] = np.nan
    with pytest.raises(NonFiniteError, match="iteration 4"):
        solver.step(2)
    assert solver.iteration == 3
    assert len(solver.loss_history) == 3 and all(np.isfinite(solver.loss_history))


@pytest.mark.filterwarnings(
    "ignore:overflow encountered:RuntimeWarning", "ignore:invalid value encountered:RuntimeWarning"
)
def test_huge_learning_rate_diverges_with_a_clear_error():
    # relu does not saturate, so huge weights overflow the hidden state to inf and the loss to NaN.
    _, solver = small_setup(
        solver_seed=0, activation="relu", update_rule="sgd", optim_config={"learning_rate": 1e6}
    )
    with pytest.raises(NonFiniteError) as info:
        solver.train()
    message = str(info.value)
    assert f"iteration {solver.iteration + 1}" in message
    assert "learning rate" in message
    assert all(np.isfinite(solver.loss_history))


# --------------------------------------------------------------------------- bad hyperparameters


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ({"optim_config": {"learning_rate": 0.0}}, "^learning_rate must be a positive number up to 1e"),
        ({"optim_config": {"learning_rate": float("nan")}}, "^learning_rate must be a positive number"),
        (
            {"optim_config": {"learning_rate": "fast"}},
            "^learning_rate must be a positive number .* got 'fast'",
        ),
        ({"optim_config": 0.01}, "^optim_config must be a dict"),
        ({"lr_decay": 0.0}, r"^lr_decay must be in \(0, 1\]"),
        ({"lr_decay": 1.5}, r"^lr_decay must be in \(0, 1\]"),
        ({"batch_size": 0}, "^batch_size must be a whole number from 1 to 10000, got 0"),
        ({"batch_size": 2.5}, "^batch_size must be a whole number from 1 to 10000, got 2.5"),
        ({"num_epochs": -1}, "^num_epochs must be a number from 0 to"),
        (
            {"update_rule": "adagrad"},
            "^update_rule='adagrad' is unknown; choose one of sgd, sgd_momentum, rmsprop, adam",
        ),
    ],
)
def test_bad_hyperparameters_are_refused(args, pattern):
    with pytest.raises(HyperparameterError, match=pattern):
        small_setup(**args)


def test_trailing_padding_is_not_run_and_changes_nothing():
    """The columns after a minibatch's longest caption are <NULL>: dropping them gives the same numbers."""
    model, solver = small_setup(solver_seed=4)
    captions, features = solver.sample_minibatch()
    padded = np.concatenate([captions, np.zeros((captions.shape[0], 5), captions.dtype)], axis=1)
    solver.sample_minibatch = lambda: (padded, features)
    reference = model.copy()
    expected_loss, _ = reference.loss(features, padded)
    (record,) = solver.step(1)
    assert record.loss == pytest.approx(expected_loss, rel=1e-6)


# --------------------------------------------------------------------------- course behaviour at the edges


@pytest.mark.parametrize(
    ("rule", "default"), [("sgd", 1e-2), ("sgd_momentum", 1e-2), ("rmsprop", 1e-2), ("adam", 1e-3)]
)
def test_without_a_learning_rate_each_rule_reports_its_own_default_from_the_start(rule, default):
    _, solver = small_setup(update_rule=rule, optim_config={})
    assert solver.learning_rate == default
    (record,) = solver.step(1)
    assert record.learning_rate == solver.learning_rate == default


def test_a_minibatch_of_captions_without_words_trains_on_nothing():
    """All <NULL>: the loss is 0 and no weight moves, as model.loss says (not an IndexError)."""
    model, solver = small_setup()
    solver.data = {**solver.data, "train_captions": np.zeros_like(solver.data["train_captions"])}
    before = {name: value.copy() for name, value in model.params.items()}
    (record,) = solver.step(1)
    assert record.loss == 0.0 and all(norm == 0.0 for norm in record.grad_norms.values())
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, before[name])


def test_the_course_arguments_in_the_course_order():
    """CaptioningRNN(word_to_idx, input_dim, wordvec_dim, hidden_dim, cell_type, dtype), as the course calls it."""
    model = CaptioningRNN(make_vocab(10), 4, 3, 5, "rnn", np.float64)
    assert model.dtype == np.float64 and model.activation == "tanh" and model.hidden_dim == 5
