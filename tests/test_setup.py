"""The README's two commands work on a fresh machine: a clean clone and a new virtual environment.

A developer's machine hides a missing install step (a package installed by hand, a file never
committed); a fresh clone of the committed HEAD with an empty venv does not.
"""

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.processes import free_port, start, stop

REPO = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT_S = 600
APP_START_TIMEOUT_S = 120


def readme_commands():
    """The two shell commands of the README's Quick start, as (app command, test command)."""
    text = (REPO / "README.md").read_text()
    quick_start = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.S | re.M)
    assert quick_start, "README.md has no '## Quick start' section"
    commands = [block.strip() for block in re.findall(r"```sh\n(.*?)```", quick_start.group(1), re.S)]
    assert len(commands) == 2, f"README's Quick start should hold exactly two commands, found {commands}"
    for command in commands:
        assert "\n" not in command, f"each README command is one line: {command!r}"
    app = [c for c in commands if "serve.py" in c]
    tests = [c for c in commands if "pytest" in c]
    assert len(app) == 1 and len(tests) == 1, f"expected one app and one test command, found {commands}"
    return app[0], tests[0]


def split_install(command):
    """'<install> && <run>' into its two halves."""
    install, sep, run = command.partition(" && ")
    assert sep and install.startswith("pip install -r "), (
        f"expected '<pip install -r ...> && <run>': {command!r}"
    )
    return install, run


def test_readme_commands_are_the_ones_ci_runs():
    app, tests = readme_commands()
    assert split_install(app)[1].startswith("python serve.py")
    assert split_install(tests)[1].startswith("python -m pytest")
    assert tests in (REPO / ".ci" / "run").read_text(), ".ci/run must run the README's test command verbatim"


def _shell(command, cwd, env, timeout=INSTALL_TIMEOUT_S):
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"`{command}` failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


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
def test_readme_commands_work_in_a_fresh_clone_and_venv(tmp_path):
    if (
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--is-inside-work-tree"], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip(f"{REPO} is not a git checkout, so there is no committed HEAD to clone")
    app, tests = readme_commands()
    clone, venv = tmp_path / "clone", tmp_path / "venv"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)

    # Only the venv, as after `source venv/bin/activate`: nothing from this interpreter leaks in.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        RNN_EXPLAINER_HOME=str(tmp_path / "data_home"),
    )

    app_install, app_start = split_install(app)
    _shell(app_install, clone, env)
    _start_and_check_health(app_start, clone, env, tmp_path / "streamlit.log")

    # The whole suite is what this test is part of; proving the command works on one module is enough.
    tests_install, tests_run = split_install(tests)
    _shell(tests_install, clone, env)
    _shell("python -c 'import playwright.sync_api, pytest_timeout' && ruff --version", clone, env)
    output = _shell(f"{tests_run} -x -q -p no:cacheprovider tests/engine/test_rnn_layers.py", clone, env)
    assert re.search(r"\d+ passed", output), output
