"""Shared pytest fixtures.

Every test session gets its own data home so no test reads or writes the
learner's real ~/.cache (downloads, generated datasets, cached models).
"""

import os
import tempfile
from pathlib import Path

# Tests never measure speed (bench/ does). One BLAS thread per test process keeps them fast and steady on
# the shared 2-core machine: OpenBLAS threads spin-wait when the cores are oversubscribed, and the overfit
# test took 68 s with 2 threads against 8 s with 1 at load 8. Set before NumPy loads OpenBLAS; an explicit
# OPENBLAS_NUM_THREADS in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

from core.data.paths import COCO_DIR_ENV, DATA_HOME_ENV  # noqa: E402
from tests.helpers.fresh_clone import FreshClone, is_git_checkout  # noqa: E402
from tests.helpers.paths import COCO_SAMPLE, REPO  # noqa: E402

_FRESH_CLONE = pytest.StashKey[FreshClone]()


@pytest.fixture(scope="session", autouse=True)
def isolated_data_home(tmp_path_factory):
    """Point $RNN_EXPLAINER_HOME at a fresh temporary folder for the whole session.

    $COCO_DIR is removed too, so a developer's own COCO copy cannot leak into
    tests; tests that want COCO files pass them explicitly (see `coco_sample`).
    Set through os.environ rather than monkeypatch because monkeypatch is
    function-scoped and subprocesses (e.g. Streamlit AppTest) must inherit it.
    """
    home = tmp_path_factory.mktemp("rnn_explainer_home")
    saved = {name: os.environ.get(name) for name in (DATA_HOME_ENV, COCO_DIR_ENV)}
    os.environ[DATA_HOME_ENV] = str(home)
    os.environ.pop(COCO_DIR_ENV, None)
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def coco_sample():
    """Path of the small shared COCO sample (vocabulary, a few val images and URLs), read-only."""
    return COCO_SAMPLE


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """A data home of this test's own (and no $COCO_DIR): what the data functions write starts empty.
    Modules that want it for every test say ``pytestmark = pytest.mark.usefixtures("isolated_home")``."""
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(COCO_DIR_ENV, raising=False)
    return tmp_path / "home"


def pytest_collection_finish(session):
    """When a collected test asks for `fresh_clone`, start preparing it now: its install takes a minute of one
    core, which the tests before it leave free (tests/helpers/fresh_clone.py)."""
    if session.config.option.collectonly:
        return
    wanted = any("fresh_clone" in getattr(item, "fixturenames", ()) for item in session.items)
    if wanted and is_git_checkout():
        folder = Path(tempfile.mkdtemp(prefix="rnn-explainer-fresh-clone-"))
        session.config.stash[_FRESH_CLONE] = FreshClone(folder).start()


def pytest_sessionfinish(session):
    fresh = session.config.stash.get(_FRESH_CLONE, None)
    if fresh is not None:
        fresh.close()


@pytest.fixture
def fresh_clone(request) -> FreshClone:
    """A clone of the committed HEAD with a new venv holding what the README's app command installs."""
    fresh = request.config.stash.get(_FRESH_CLONE, None)
    if fresh is None:
        pytest.skip(f"{REPO} is not a git checkout, so there is no committed HEAD to clone")
    return fresh.ready()


@pytest.fixture(scope="session")
def largest_lstm_check():
    """The float64 check of the LSTM model at the lab's largest sizes, seed 0 (core.lab.gradcheck_lab.run_check):
    its dWh fails at an element too small to resolve. About 5 s, so the tests of the lab and of its sentences
    share one run; they only read it."""
    from core.lab.gradcheck_lab import LabSizes, run_check

    return run_check("lstm_model", LabSizes(N=6, T=8, D=16, W=16, H=16, V=24))
