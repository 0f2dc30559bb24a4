"""The README's two commands work on a fresh machine: a clean clone and a new virtual environment.

A developer's machine hides a missing install step (a package installed by hand, a file never
committed); a fresh clone of the committed HEAD with an empty venv does not.
"""

import re
import time
import urllib.error
import urllib.request

import pytest

from tests.helpers.fresh_clone import readme_commands, split_install
from tests.helpers.paths import REPO
from tests.helpers.processes import free_port, start, stop

APP_START_TIMEOUT_S = 120


def test_readme_commands_are_the_ones_ci_runs():
    app, tests = readme_commands()
    assert split_install(app)[1].startswith("python serve.py")
    assert split_install(tests)[1].startswith("python -m pytest")
    assert tests in (REPO / ".ci" / "run").read_text(), ".ci/run must run the README's test command verbatim"


def _health(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _start_and_check_health(command, cwd, env, log_path):
    """Run the README's start command until /_stcore/health answers 200, then stop it."""
    port = free_port()
    env = {
        **env,
        "STREAMLIT_SERVER_PORT": str(port),
        "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
        "STREAMLIT_SERVER_HEADLESS": "true",
    }
    process = start(["bash", "-c", f"exec {command}"], cwd, env, log_path)
    try:
        deadline = time.monotonic() + APP_START_TIMEOUT_S
        status = None
        while status != 200 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            status = _health(f"http://127.0.0.1:{port}/_stcore/health")
        assert status == 200, (
            f"`{command}` never answered /_stcore/health with 200:\n{log_path.read_text()[-3000:]}"
        )
    finally:
        stop(process)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_readme_commands_work_in_a_fresh_clone_and_venv(fresh_clone, tmp_path):
    """fresh_clone (tests/conftest.py) has run the app command's install; the rest runs here."""
    app, tests = readme_commands()
    _start_and_check_health(
        split_install(app)[1], fresh_clone.clone, fresh_clone.env, tmp_path / "streamlit.log"
    )

    # The whole suite is what this test is part of; proving the command works on one module is enough.
    tests_install, tests_run = split_install(tests)
    fresh_clone.shell(tests_install)
    fresh_clone.shell("python -c 'import playwright.sync_api, pytest_timeout' && ruff --version")
    output = fresh_clone.shell(f"{tests_run} -x -q -p no:cacheprovider tests/engine/test_rnn_layers.py")
    assert re.search(r"\d+ passed", output), output
