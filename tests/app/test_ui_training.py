"""The server-wide background training jobs of ui.training, in small Streamlit scripts.

core.lab.trained_models.trained_model is replaced by a fake the test controls, so a job can be held mid-training
while sessions come and go.
"""

import threading
import time

import pytest
import threadpoolctl
from streamlit.testing.v1 import AppTest

import core.lab.trained_models
from core.lab.trained_models import new_model
from explainer.escape import plain
from tests.helpers.apptest import TIMEOUT, no_problems, run_until_trained


def model_app():
    import streamlit as st

    import ui

    with ui.friendly_errors("the test"):
        model = ui.get_trained_model("full")
        st.markdown(
            f"ready: H = {model.params['Wh'].shape[0]}, read-only: {not model.params['Wh'].flags.writeable}"
        )


class FakeTraining:
    """A trained_model that reports progress, then waits until released; counts calls and overlaps."""

    def __init__(self, fail_first=False, instant=()):
        self.release = threading.Event()
        self.instant = instant  # recipes that are ready at once
        self.calls = []
        self.running = 0
        self.most_at_once = 0
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, data, recipe="full", progress=None):
        with self._lock:
            self.calls.append(recipe)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            progress(0.25, f"Training the {recipe} model: iteration 80/320")
            assert recipe in self.instant or self.release.wait(timeout=60)
            if self.fail_first and len(self.calls) == 1:
                raise RuntimeError("out of cheese")
            return new_model(data, 8, 24, seed=1)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def fake(monkeypatch):
    fake = FakeTraining()
    monkeypatch.setattr(core.lab.trained_models, "trained_model", fake)
    yield fake
    fake.release.set()  # never leave a job waiting


def progress_texts(at):
    return [p.proto.text for p in at.get("progress")]


def open_model_app():
    return AppTest.from_function(model_app, default_timeout=TIMEOUT).run()


def test_the_page_shows_live_progress_then_continues_when_the_model_is_ready(fake):
    at = open_model_app()
    no_problems(at)
    assert not any(m.value.startswith("ready") for m in at.markdown)  # the page waits for the model
    deadline = time.monotonic() + 10
    while not any(plain("iteration 80/320") in t for t in progress_texts(at)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        at.run()
    fake.release.set()
    run_until_trained(at)
    no_problems(at)
    assert [m.value for m in at.markdown if m.value.startswith("ready")] == ["ready: H = 24, read-only: True"]
    assert fake.calls == ["full"]


def test_leaving_mid_training_keeps_the_job_for_the_next_visitor(fake):
    first = open_model_app()
    assert progress_texts(first)
    del first  # the learner leaves while the model trains
    later = open_model_app()  # another session, or the same learner coming back
    deadline = time.monotonic() + 10
    while not any(plain("iteration 80/320") in t for t in progress_texts(later)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        later.run()
    assert fake.calls == ["full"]  # the same job goes on: not started again
    fake.release.set()
    run_until_trained(later)
    assert any(m.value.startswith("ready: H = 24") for m in later.markdown)
    assert fake.calls == ["full"]


def test_a_job_says_it_waits_only_while_another_holds_the_training_lock(fake, monkeypatch):
    from ui.training import TrainingJob

    lock = threading.Lock()
    job = TrainingJob("full", lock)
    with monkeypatch.context() as held:
        threads = []
        held.setattr(threading.Thread, "start", lambda thread: threads.append(thread))  # drawn before it runs
        job.start({})
    assert (job.status().state, job.status().message) == ("training", "preparing…")
    lock.acquire()  # another job trains
    (thread,) = threads
    thread.start()
    deadline = time.monotonic() + 10
    while job.status().state != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert job.status().message == "waits for another model to finish training…" and not fake.calls
    lock.release()
    while not fake.calls:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    fake.release.set()
    thread.join(timeout=10)
    assert fake.calls == ["full"] and not lock.locked()


def two_models_app():
    import streamlit as st

    import ui

    models = ui.trained_models("overfit", "full")
    st.markdown(f"ready: {sorted(models)}")


def test_one_job_trains_at_a_time(fake):
    at = AppTest.from_function(two_models_app, default_timeout=TIMEOUT).run()
    time.sleep(0.3)
    at.run()
    texts = progress_texts(at)
    assert len(texts) == 2 and sum("waits for another model" in t for t in texts) == 1
    assert len(fake.calls) == 1
    fake.release.set()
    run_until_trained(at)
    assert at.markdown[-1].value == "ready: ['full', 'overfit']"
    assert sorted(fake.calls) == ["full", "overfit"] and fake.most_at_once == 1


def ready_models_app():
    import streamlit as st

    import ui

    models = ui.ready_models("overfit", "full")
    st.markdown(f"ready: {sorted(models)}")


def test_the_first_model_ready_is_used_while_the_other_trains_with_its_progress(monkeypatch):
    fake = FakeTraining(instant=("overfit",))
    monkeypatch.setattr(core.lab.trained_models, "trained_model", fake)
    try:
        at = AppTest.from_function(ready_models_app, default_timeout=TIMEOUT).run()
        deadline = time.monotonic() + 10
        while at.markdown[-1].value != "ready: ['overfit']" or not progress_texts(at):
            assert time.monotonic() < deadline, [m.value for m in at.markdown]
            time.sleep(0.05)
            at.run()
        assert any(plain("full model: iteration 80/320") in t for t in progress_texts(at))
        fake.release.set()
        run_until_trained(at)
        assert at.markdown[-1].value == "ready: ['full', 'overfit']" and not progress_texts(at)
    finally:
        fake.release.set()


def test_a_failed_job_is_a_friendly_error_with_a_button_to_train_again(monkeypatch):
    fake = FakeTraining(fail_first=True)
    fake.release.set()
    monkeypatch.setattr(core.lab.trained_models, "trained_model", fake)
    at = open_model_app()
    deadline = time.monotonic() + 10
    while not at.error:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        at.run()
    assert not at.exception
    assert (
        "Something went wrong while drawing the training of the full model (RuntimeError)"
        in at.error[0].value
    )
    assert "out of cheese" in at.code[0].value and "Traceback" not in at.code[0].value
    at.run()
    assert len(fake.calls) == 1  # a failed job is not retried behind the learner's back
    at.button(key="training.retry.full").click().run()
    run_until_trained(at)
    no_problems(at)
    assert any(m.value.startswith("ready: H = 24") for m in at.markdown)
    assert len(fake.calls) == 2


def any_page():
    import ui

    ui.setup_page(ui.GALLERY)


def test_the_server_sets_one_blas_thread_when_a_page_runs_not_on_import():
    import importlib

    import ui

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"}

    threadpoolctl.threadpool_limits(limits=2, user_api="blas")  # as a fresh process may start
    # threadpoolctl lets one thread at a time set OpenBLAS's limits: hand that over to the page's thread.
    threadpoolctl.OpenBLASController.clear_controlling_thread(force=True)
    importlib.reload(ui)
    assert blas_threads() == {2}  # importing ui changes nothing
    AppTest.from_function(any_page, default_timeout=TIMEOUT).run()
    assert blas_threads() == {1}  # the first page the server runs sets it
