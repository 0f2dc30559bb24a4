"""ui.race_runner: a race's lanes trained on background threads give the race of one thread, stop when told
or left alone, and let the page copy what each lane published after an iteration, without waiting for one;
the races of a server share one crew of workers and take turns."""

import threading
import time

import numpy as np
import pytest

import ui.race_runner as race_runner
from core.lab.race import Race, RaceConfig
from tests.helpers.race_fixtures import synthetic_data
from ui.race_runner import RaceRunner

SMALL = {"num_train": 30, "hidden_dim": 16, "wordvec_dim": 8, "batch_size": 10, "iterations": 25}
DEADLINE = 60


@pytest.fixture(scope="module")
def data():
    return synthetic_data()


def wait_until(condition, seconds=DEADLINE):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_threads_train_every_lane_to_the_end_exactly_as_one_thread_does(data):
    config = RaceConfig(activations=("tanh", "sigmoid", "relu", "lstm"), **SMALL)
    runner = RaceRunner(Race(data, config), workers=2)
    runner.start()
    runner.join(DEADLINE)
    assert runner.race.done and not runner.training
    alone = Race(data, config)
    alone.step(SMALL["iterations"])
    for threaded, reference in zip(runner.race.lanes, alone.lanes, strict=True):
        assert threaded.iteration == SMALL["iterations"]
        np.testing.assert_array_equal(threaded.losses, reference.losses)
        np.testing.assert_array_equal(threaded.model.params["W_vocab"], reference.model.params["W_vocab"])
    records = runner.records()
    assert [r.iteration for r in records] == [SMALL["iterations"]] * 4


class StepWatch:
    """Wraps the races' step_lane to record every iteration taken, as (race index, lane, its iteration), the most
    iterations in progress at once and the most worker threads of crew `crew` alive meanwhile."""

    def __init__(self, monkeypatch, races, crew=None):
        self.crew = crew
        self.taken, self.most, self.threads = [], 0, 0
        self._running = 0
        self._guard = threading.Lock()
        for k, race in enumerate(races):
            monkeypatch.setattr(race, "step_lane", self._counted(k, race.step_lane))

    def _counted(self, k, step):
        def counted(lane):
            with self._guard:
                self._running += 1
                self.most = max(self.most, self._running)
                if self.crew:
                    self.threads = max(self.threads, len(crew_threads(self.crew)))
                self.taken.append((k, lane.activation, lane.iteration))
            try:
                return step(lane)
            finally:
                with self._guard:
                    self._running -= 1

        return counted


def crew_threads(name):
    """The crew `name`'s worker threads alive now."""
    return [thread for thread in threading.enumerate() if thread.name.startswith(f"{name}-")]


def test_no_more_workers_than_asked_and_the_lane_furthest_behind_goes_first(data, monkeypatch):
    race = Race(data, RaceConfig(activations=("tanh", "sigmoid", "relu"), **SMALL))
    race.step_lane(race.lanes[0])
    race.step_lane(race.lanes[0])
    race.step_lane(race.lanes[1])
    runner = RaceRunner(race, workers=2)
    watch = StepWatch(monkeypatch, [race])
    runner.start()
    runner.join(DEADLINE)
    assert race.done and watch.most <= 2
    # relu (0 iterations) and sigmoid (1) were behind tanh (2): they were taken first.
    assert {watch.taken[0][1:], watch.taken[1][1:]} == {("relu", 0), ("sigmoid", 1)}
    assert RaceRunner(race).workers == min(3, race_runner.usable_cores())


def test_races_share_one_crew_and_its_time_each_as_it_would_train_alone(data, monkeypatch):
    crew = race_runner.Workers(2, name="shared")
    config = RaceConfig(activations=("tanh", "sigmoid"), **SMALL)
    races = [Race(data, config), Race(data, config)]
    watch = StepWatch(monkeypatch, races, crew="shared")
    runners = [RaceRunner(race, crew=crew) for race in races]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(DEADLINE)
    assert all(runner.race.done and not runner.training for runner in runners)
    # Four lanes, two workers: never more than two iterations at once, nor more than two worker threads.
    assert watch.most <= 2 and watch.threads <= 2
    # They share the crew's time: when the first of them takes its last iteration, the other has had half of its
    # own at least (served one after the other, it would have had none).
    order = [k for k, _, _ in watch.taken]
    first_done = min(len(order) - order[::-1].index(k) for k in (0, 1))
    assert min(order[:first_done].count(k) for k in (0, 1)) >= order.count(0) // 2, order
    alone = Race(data, config)
    alone.step(SMALL["iterations"])
    for runner in runners:
        for lane, reference in zip(runner.race.lanes, alone.lanes, strict=True):
            np.testing.assert_array_equal(lane.losses, reference.losses)


def test_a_small_race_beside_a_large_one_trains_at_its_own_pace(data, monkeypatch):
    """The crew shares its time, not its turns: a race whose iterations take 30 ms longer does not hold back one
    beside it to its own pace."""
    crew = race_runner.Workers(1, name="paced")
    config = RaceConfig(activations=("tanh",), **SMALL)
    small, large = Race(data, config), Race(data, config)
    step = large.step_lane

    def slow(lane):
        time.sleep(0.03)
        return step(lane)

    monkeypatch.setattr(large, "step_lane", slow)
    runners = [RaceRunner(large, crew=crew), RaceRunner(small, crew=crew)]
    for runner in runners:
        runner.start()
    runners[1].join(DEADLINE)
    assert small.done
    # Taking turns by iteration, the large race would have run as many iterations as the small one's 25.
    assert large.lanes[0].iteration <= SMALL["iterations"] // 2, large.lanes[0].iteration
    runners[0].stop()
    runners[0].join(DEADLINE)


class Interrupted(BaseException):
    """Escapes `except Exception`, as nothing in a training step should."""


def test_a_worker_that_dies_or_cannot_start_leaves_the_crew_able_to_train(data, monkeypatch):
    crew = race_runner.Workers(1, name="sturdy")
    broken = Race(data, RaceConfig(**SMALL))

    def interrupted(lane):
        raise Interrupted

    monkeypatch.setattr(broken, "step_lane", interrupted)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the dying worker's report
    runner = RaceRunner(broken, crew=crew)
    runner.start()
    runner.stop()
    runner.join(DEADLINE)
    assert not runner.training, "the lane in hand went back"
    wait_until(lambda: not crew_threads("sturdy"))
    # A thread that cannot start is not counted as a worker.
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (_ for _ in ()).throw(RuntimeError("no")))
    other = RaceRunner(Race(data, RaceConfig(**SMALL)), crew=crew)
    with pytest.raises(RuntimeError):
        other.start()
    monkeypatch.setattr(threading.Thread, "start", start)
    other.start()
    other.join(DEADLINE)
    assert other.race.done and not other.training


def test_a_race_done_meanwhile_is_not_served(data):
    crew = race_runner.Workers(2, name="late")
    race = Race(data, RaceConfig(**{**SMALL, "iterations": 2}))
    race.step(2)
    runner = RaceRunner(race, crew=crew)
    crew.serve(
        runner
    )  # as start() does after finding the race not done, when its last iteration ends between
    assert not runner.training
    runner.join(1)


def test_pause_stops_after_the_current_iteration_and_start_goes_on(data):
    runner = RaceRunner(Race(data, RaceConfig(**{**SMALL, "iterations": 1000})))
    runner.start()
    wait_until(lambda: runner.race.iteration >= 2)
    runner.stop()
    runner.join(DEADLINE)
    paused = [lane.iteration for lane in runner.race.lanes]
    time.sleep(0.2)
    assert [lane.iteration for lane in runner.race.lanes] == paused and not runner.training
    runner.start()
    wait_until(lambda: min(lane.iteration for lane in runner.race.lanes) > max(paused))
    runner.stop()
    runner.join(DEADLINE)


def test_workers_stop_when_the_page_stops_asking(data, monkeypatch):
    monkeypatch.setattr(race_runner, "IDLE_STOP_SECONDS", 0.3)
    runner = RaceRunner(Race(data, RaceConfig(**{**SMALL, "iterations": 1000})))
    runner.start()
    runner.join(DEADLINE)  # nobody calls records(): the workers end by themselves
    stopped = runner.race.iteration
    assert not runner.race.done and stopped > 0
    runner.start()  # the page asks again: they go on
    wait_until(lambda: runner.race.iteration > stopped)
    runner.stop()
    runner.join(DEADLINE)


def test_records_copy_each_lane_between_its_iterations(data):
    runner = RaceRunner(Race(data, RaceConfig(**{**SMALL, "iterations": 200})))
    runner.start()
    for _ in range(20):
        for record in runner.records():
            # losses, gradient norms and the stats are of the same iteration
            assert (
                record.losses.size == record.grad_norms.size == record.wh_grad_norms.size == record.iteration
            )
            assert record.stats.iteration == record.iteration
    runner.stop()
    runner.join(DEADLINE)


def test_records_do_not_wait_for_an_iteration_in_progress(data, monkeypatch):
    """A worker runs at a lower priority: on a busy server its iteration can take long. The page copies what
    each lane published after its last iteration instead of waiting for the one in progress."""
    race = Race(data, RaceConfig(**SMALL))
    race.step(2)
    started, go_on = threading.Event(), threading.Event()
    step = race.step_lane

    def slow(lane):
        started.set()
        go_on.wait(DEADLINE)
        return step(lane)

    monkeypatch.setattr(race, "step_lane", slow)
    runner = RaceRunner(race, workers=1)
    runner.start()
    assert started.wait(DEADLINE)
    begun = time.monotonic()
    records = runner.records()
    assert time.monotonic() - begun < DEADLINE / 4, "the page waited for the worker"
    assert [r.iteration for r in records] == [2, 2] and [r.losses.size for r in records] == [2, 2]
    go_on.set()
    runner.stop()
    runner.join(DEADLINE)


def test_a_failing_worker_is_shown_by_the_page_not_a_silent_stall(data, monkeypatch):
    race = Race(data, RaceConfig(**SMALL))

    def broken(lane):
        raise MemoryError("no room for the gradients")

    monkeypatch.setattr(race, "step_lane", broken)
    runner = RaceRunner(race)
    runner.start()
    runner.join(DEADLINE)
    assert not runner.training
    with pytest.raises(MemoryError, match="no room"):
        runner.records()
    runner.start()  # nothing starts again after a failure
    assert not runner.training


@pytest.mark.skipif(not race_runner.sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_workers_run_at_a_lower_priority(data, monkeypatch):
    seen = []
    original = race_runner._lower_priority

    def recording():
        original()
        thread = threading.get_native_id()
        seen.append(race_runner.os.getpriority(race_runner.os.PRIO_PROCESS, thread))

    monkeypatch.setattr(race_runner, "_lower_priority", recording)
    crew = race_runner.Workers(2, name="niced")
    runner = RaceRunner(Race(data, RaceConfig(**{**SMALL, "iterations": 3})), workers=2, crew=crew)
    runner.start()
    runner.join(DEADLINE)
    mine = race_runner.os.getpriority(race_runner.os.PRIO_PROCESS, threading.get_native_id())
    assert seen == [min(mine + race_runner.TRAINING_NICENESS, 19)] * 2
