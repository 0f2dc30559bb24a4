"""Server-wide background training of the ``core.lab.trained_models`` models, one job per recipe.

Training the "full" model takes about a minute. Done inside a page's script run it would be thrown
away as soon as the learner left the page (Streamlit stops the run), and the next visitor would start
again. Instead each recipe has one job per server process (held by ``st.cache_resource``): a daemon
thread calling ``core.lab.trained_models.trained_model``, which reads the model from the store or trains
it and writes it there. A server-wide lock lets one long job train at a time, so two recipes never fight
for the shared cores (the quick "readable" recipe does not queue behind them). Any session reads a job's progress; pages that need a model show it live (a
``st.fragment(run_every=...)``) and continue when it is ready, so leaving and coming back shows the
same job still going. A job that failed keeps its error for the pages to show, and the learner can
start it again.

The job is the one cached object that changes after creation: only its own thread writes it (under its
lock); sessions only read a snapshot (:meth:`TrainingJob.status`) and the finished model, read-only.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import streamlit as st

from core import runtime
from core.engine.rnn import CaptioningRNN
from core.lab import trained_models as model_store
from explainer.escape import MAX_MESSAGE, plain
from ui import url_state
from ui.dataset import freeze, get_dataset
from ui.errors import show_error

RECIPE_LABELS = {
    "readable": "Vanilla RNN at readable sizes (W = H = 8), trained on the whole training set",
    "full": "Vanilla RNN trained on the whole training set",
    "overfit": "Overfit: 50 training captions (the notebook's small-data model)",
    "lstm": "LSTM trained on the whole training set",
    "lstm_readable": "LSTM at readable sizes (W = H = 8), trained on the whole training set",
    "lstm_overfit": "LSTM overfit: 50 training captions at the notebook's sizes",
}
# Recipes that train in a couple of seconds do not queue behind a model that takes a minute.
QUICK_RECIPES = ("readable", "lstm_readable")
# How often a waiting page redraws the progress of the jobs it needs.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class TrainingStatus:
    """A snapshot of a job. state: "not started", "waiting" (for another job to finish), "training",
    "ready" or "failed"; fraction in [0, 1]; message for the learner; error when failed."""

    recipe: str
    state: str
    fraction: float
    message: str
    error: Exception | None = None


class TrainingJob:
    """Loads or trains one recipe's model in a background thread; shared by every session."""

    def __init__(self, recipe: str, training_lock: threading.Lock | None):
        self.recipe = recipe
        self._training_lock = training_lock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._status = TrainingStatus(recipe, "not started", 0.0, f"The {recipe} model is not trained yet.")
        self._model: CaptioningRNN | None = None

    def status(self) -> TrainingStatus:
        return self._status

    @property
    def model(self) -> CaptioningRNN | None:
        """The read-only trained model once ready, else None."""
        return self._model

    def start(self, data: dict, retry: bool = False) -> None:
        """Start the job once; a failed job starts again only with `retry`."""
        with self._lock:
            if self._thread is None or (retry and self._status.state == "failed"):
                self._set("training", 0.0, "preparing…")
                self._thread = threading.Thread(
                    target=self._run, args=(data,), name=f"train-{self.recipe}", daemon=True
                )
                self._thread.start()

    def _set(self, state: str, fraction: float, message: str, error: Exception | None = None) -> None:
        self._status = TrainingStatus(self.recipe, state, min(max(float(fraction), 0.0), 1.0), message, error)

    def _progress(self, fraction: float, message: str) -> None:
        self._set("training", fraction, message)

    @contextlib.contextmanager
    def _turn(self):
        """Hold the training lock this job shares with the others (if it has one): said to be waiting only while
        another job holds it."""
        if self._training_lock is None:
            yield
            return
        if not self._training_lock.acquire(blocking=False):
            self._set("waiting", 0.0, "waits for another model to finish training…")
            self._training_lock.acquire()
        try:
            yield
        finally:
            self._training_lock.release()

    def _run(self, data: dict) -> None:
        try:
            with self._turn():
                # The messages are shown after the model's label (RECIPE_LABELS): they do not repeat it.
                self._set("training", 0.0, "preparing…")
                model = freeze(model_store.trained_model(data, recipe=self.recipe, progress=self._progress))
            with self._lock:
                self._model = model
                self._set("ready", 1.0, "ready.")
        except Exception as exc:  # shown to the learner by the pages, who can start it again
            with self._lock:
                self._set("failed", 0.0, "training failed.", exc)
        finally:
            runtime.release_free_memory()  # what training freed, kept by malloc (core.runtime)


@st.cache_resource(show_spinner=False)
def _training_lock() -> threading.Lock:
    return threading.Lock()


@st.cache_resource(show_spinner=False)
def _job(recipe: str) -> TrainingJob:
    model_store.recipe_config(recipe)  # an unknown recipe raises a friendly HyperparameterError
    return TrainingJob(recipe, None if recipe in QUICK_RECIPES else _training_lock())


def trained_models(*recipes: str) -> dict[str, CaptioningRNN]:
    """{recipe: read-only model} once every recipe's job is ready.

    Until then this starts the jobs, draws their live progress (:func:`show_training`) and stops the
    script (``st.stop``); the page reruns by itself when they are ready. The jobs go on in the background
    if the learner leaves. A failed job is shown as a friendly error with a button to train it again.
    """
    models = ready_models(*recipes)
    if len(models) == len(recipes):
        return models
    st.stop()


def ready_recipes(*recipes: str) -> tuple[str, ...]:
    """The recipes among `recipes` whose models are ready now, in the given order (draws nothing)."""
    return tuple(recipe for recipe in recipes if _job(recipe).model is not None)


def ready_models(*recipes: str) -> dict[str, CaptioningRNN]:
    """{recipe: read-only model} of the recipes whose jobs are ready now, in the given order; never waits.

    Starts the other jobs and draws their live progress (:func:`show_training`); the page reruns by itself
    each time one more is ready, so it can show the first model while the next one trains.
    """
    jobs = show_training(recipes, quiet_when_ready=True)
    return {job.recipe: job.model for job in jobs if job.model is not None}


def show_training(recipes, quiet_when_ready: bool = False) -> list[TrainingJob]:
    """Start each recipe's job in the background if needed, in the given order (never waits), and show
    its status: trained, waiting for another job, training (``st.progress``), or failed (a friendly
    error and a button to train again). Redrawn every POLL_SECONDS; the whole page reruns each time one more
    is ready. With `quiet_when_ready`, nothing is drawn once all are ready. Returns the jobs."""
    data = get_dataset()
    jobs = [_job(recipe) for recipe in recipes]
    for job in jobs:
        job.start(data)

    def ready() -> set[str]:
        return {job.recipe for job in jobs if job.status().state == "ready"}

    drawn_ready = ready()
    if len(drawn_ready) == len(jobs):
        if not quiet_when_ready:
            for job in jobs:
                _status_view(job)
        return jobs

    @st.fragment(run_every=POLL_SECONDS)
    def live() -> None:
        # One more model ready: the page reruns to use it (it was drawn with the others' progress).
        if ready() != drawn_ready:
            url_state.keep_notices()  # a rerun the learner did not ask for: the link's notices stay
            st.rerun(scope="app")
        st.caption(
            "Each model is trained once for everyone using this app, in the background, then cached on disk. "
            "Training goes on if you leave this page."
        )
        for job in jobs:
            _status_view(job)

    live()
    return jobs


def _status_view(job: TrainingJob) -> None:
    status = job.status()
    label = RECIPE_LABELS.get(job.recipe, job.recipe)
    if status.state in ("waiting", "training"):
        st.progress(status.fraction, text=f"**{label}**: {plain(status.message, MAX_MESSAGE)}")
    elif status.state == "failed":
        show_error(status.error, f"the training of the {job.recipe} model")
        st.button(
            f"Train the {job.recipe} model again",
            key=f"training.retry.{job.recipe}",
            on_click=job.start,
            args=(get_dataset(), True),
        )
    else:
        st.markdown(f"✅ **{label}**: {status.message}")


def get_trained_model(recipe: str = "full") -> CaptioningRNN:
    """``core.lab.trained_models.trained_model(get_dataset(), recipe)`` via the background job: read-only, shared.

    recipe: "full" (the properly trained model) or "overfit" (the notebook's small-data model). While it
    trains, shows the progress and stops the script (see :func:`trained_models`). Call ``.copy()`` before
    training or changing it.
    """
    return trained_models(recipe)[recipe]
