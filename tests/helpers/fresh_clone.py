"""A clean clone of the committed HEAD with an empty virtual environment, for the README's two commands.

Installing the app's packages into a new environment takes about a minute of one core, and the tests use
about one core of the machine's two. So the clone and that install start as soon as the suite is collected
(tests/conftest.py), in a thread of their own, and the test that needs them (tests/test_setup.py) waits for
them when its turn comes.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from tests.helpers.paths import REPO
from tests.helpers.processes import start, stop

INSTALL_TIMEOUT_S = 600


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


def is_git_checkout() -> bool:
    command = ["git", "-C", str(REPO), "rev-parse", "--is-inside-work-tree"]
    return subprocess.run(command, capture_output=True).returncode == 0


class FreshClone:
    """`folder`/clone, a clone of the committed HEAD, and `folder`/venv, a new virtual environment into which
    the README's app command has installed its packages, prepared by start() in a thread; ready() waits."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.clone, self.venv = folder / "clone", folder / "venv"
        # Only the venv, as after `source venv/bin/activate`: nothing from this interpreter leaks in.
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))
        }
        env.update(
            PATH=f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}",
            VIRTUAL_ENV=str(self.venv),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            RNN_EXPLAINER_HOME=str(folder / "data_home"),
        )
        self.env = env
        self._error = None
        self._process = None
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._prepare, name="fresh-clone", daemon=True)

    def start(self) -> "FreshClone":
        self._thread.start()
        return self

    def _prepare(self):
        try:
            self.run(["git", "clone", "--quiet", str(REPO), str(self.clone)], cwd=self.folder)
            self.run([sys.executable, "-m", "venv", str(self.venv)], cwd=self.folder)
            self.shell(split_install(readme_commands()[0])[0])
        except BaseException as error:  # raised again by ready(), in the test
            self._error = error

    def ready(self) -> "FreshClone":
        """Wait until start() has prepared the clone; its error if it could not."""
        self._thread.join(INSTALL_TIMEOUT_S)
        assert not self._thread.is_alive(), f"the fresh clone was not ready within {INSTALL_TIMEOUT_S} s"
        if self._error is not None:
            raise self._error
        return self

    def shell(self, command: str) -> str:
        """Run a shell command in the clone with the venv's environment; its output (AssertionError if it fails)."""
        return self.run(["bash", "-c", command], cwd=self.clone)

    def run(self, command: list[str], cwd: Path) -> str:
        log_path = self.folder / "command.log"
        with self._lock:
            assert not self._closed, "the fresh clone was closed"
            self._process = start(command, cwd, self.env, log_path)
        try:
            code = self._process.wait(INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop(self._process)
            raise AssertionError(
                f"`{shlex.join(command)}` did not end within {INSTALL_TIMEOUT_S} s"
            ) from None
        output = log_path.read_text(errors="replace")
        assert code == 0, f"`{shlex.join(command)}` failed ({code}):\n{output[-6000:]}"
        return output

    def close(self):
        """Stop what runs and delete the folder (its venv takes about 600 MB)."""
        with self._lock:
            self._closed = True
            process = self._process
        if process is not None:
            stop(process)
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)
