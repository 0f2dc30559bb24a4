"""Starting and stopping the processes tests run: a free loopback port, a process group to stop, the
project's commands with their own data home."""

import os
import signal
import socket
import subprocess
import sys

from core.data.paths import COCO_DIR_ENV, DATA_HOME_ENV
from tests.helpers.paths import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], cwd, env: dict, log_path) -> subprocess.Popen:
    """Start `command` in a process group of its own (so that stop() ends it and all it spawned), its output
    going to the file `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True, and everything it spawned."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def project_env(home) -> dict:
    """This environment with `home` as the data home and no $COCO_DIR."""
    env = {**os.environ, DATA_HOME_ENV: str(home)}
    env.pop(COCO_DIR_ENV, None)
    return env


def run_module(*args, home, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m <args>` in the project folder with `home` as its data home; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=project_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
