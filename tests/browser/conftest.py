"""Real-browser fixtures: one Streamlit server and one headless Chromium for the whole session.

The server is the learner's own command (`python serve.py`) on a free loopback port,
with its data home in a temporary folder, so the first page load really generates the embedded
dataset as it does on a fresh machine.
"""

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.data.paths import COCO_DIR_ENV, DATA_HOME_ENV
from tests.helpers.processes import free_port, start, stop

from .streamlit_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVER_START_TIMEOUT_S = 90
_MEASUREMENTS = pytest.StashKey[list]()


def _why_no_browser():
    """Reason to skip the browser tests on this machine, or None when they can run."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run browser tests"
        )
    if importlib.util.find_spec("playwright") is None:
        return "Python playwright not installed: pip install -r requirements-dev.txt"
    return None


def pytest_collection_modifyitems(config, items):
    # The many-learners test runs last, on the warm server the page tests leave (dataset generated, models
    # trained), as a class meets the app after its first visit; the page tests cover the cold start.
    items.sort(key=lambda item: item.path.name == "test_concurrency.py")
    reason = _why_no_browser()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(_MEASUREMENTS, [])
    if lines:
        terminalreporter.section("browser measurements")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def report_measurement(request):
    """Record a line for the closing summary of the run (peak memory, latencies) and artifacts/."""
    lines = request.config.stash.setdefault(_MEASUREMENTS, [])

    def report(line):
        lines.append(line)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with open(ARTIFACTS / "browser-measurements.txt", "a") as out:
            out.write(line + "\n")

    return report


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self):
        return self.process.pid

    def log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_healthy(server):
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"streamlit exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"streamlit did not answer /_stcore/health within {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}"
    )


def _start_server(home: Path, log_path: Path) -> AppServer:
    """`python serve.py` on 127.0.0.1:<free port> with `home` as its data home, healthy."""
    port = free_port()
    env = {**os.environ, DATA_HOME_ENV: str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    env.pop(COCO_DIR_ENV, None)
    env.pop("MALLOC_ARENA_MAX", None)  # as serve.py sets it on a machine that does not
    command = [
        sys.executable,
        "serve.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
    ]
    process = start(command, REPO, env, log_path)
    server = AppServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_healthy(server)
    except BaseException:
        stop(process)
        raise
    return server


@pytest.fixture(scope="session")
def browser_data_home(tmp_path_factory):
    return tmp_path_factory.mktemp("browser_data_home")


@pytest.fixture(scope="session")
def app_server(browser_data_home):
    """The learner's command on a free loopback port, stopped after the session. Its first page load
    generates the embedded dataset, as on a fresh machine."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = _start_server(browser_data_home, ARTIFACTS / "streamlit-server.log")
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture
def fresh_server(app_server, browser_data_home):
    """A second server just started on the same data home (no page of it has run yet), for deep links.
    Depends on app_server so that the dataset is generated once, by the first server."""
    server = _start_server(browser_data_home, ARTIFACTS / "streamlit-fresh-server.log")
    try:
        yield server
    finally:
        stop(server.process)


# The browsers stand for the learners' own machines. Here they share the server's two cores, so they run at a
# lower priority (niceness +BROWSER_NICENESS): the server's answers are then timed as a class would get them,
# not held up by ten pages drawing on the server's cores (bench/bench_browser.py times the browser itself).
BROWSER_NICENESS = 10


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    launcher = tmp_path_factory.mktemp("chromium") / "chromium"
    launcher.write_text(f'#!/bin/sh\nexec nice -n {BROWSER_NICENESS} {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(launcher), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _page(browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


@pytest.fixture
def page(browser, app_server):
    """A fresh browser context (its own Streamlit session) at 1400×1000, with generous timeouts for first
    loads."""
    context, tab = _page(browser, 1400, 1000)
    yield tab
    context.close()


@pytest.fixture
def projector_page(browser, app_server):
    """A fresh browser context the size of a classroom projector, 1280×720."""
    context, tab = _page(browser, 1280, 720)
    yield tab
    context.close()


@pytest.fixture
def small_screen_page(browser, app_server):
    """A fresh browser context the size of a small laptop screen or an older projector, 1024×768."""
    context, tab = _page(browser, 1024, 768)
    yield tab
    context.close()
