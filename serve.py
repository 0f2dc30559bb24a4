"""Start the app: `python serve.py [Streamlit's options]` runs `streamlit run streamlit_app.py [options]` with
glibc's malloc keeping two pools of memory (arenas) for all its threads.

glibc gives every thread that allocates an arena of its own, up to eight per core, and each arena keeps
what its threads held at their peak. The server runs every learner's script in a thread of its own, and
the race's workers and the training jobs in others: with ten learners and two races on 2 cores, the
server peaked at 321-422 MiB with the default arenas and at 261-273 MiB with two (bench/README.md, "Ten
learners at once"), answering clicks as fast: Python threads allocate while holding the interpreter's
lock, so they seldom wait for each other's arena. glibc reads MALLOC_ARENA_MAX only when a process starts,
before any of the app's code runs, hence this launcher; other C libraries ignore the variable. A value
already in the environment is kept. `streamlit run streamlit_app.py` still starts the same app.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

# The app's entry point, named by its full path: Streamlit then reads .streamlit/config.toml beside it from
# whichever folder the command is given.
APP = Path(__file__).resolve().parent / "streamlit_app.py"
MALLOC_ARENAS = "2"


def main() -> None:
    os.environ.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENAS)
    command = [sys.executable, "-m", "streamlit", "run", str(APP), *sys.argv[1:]]
    if os.name == "posix":
        os.execv(sys.executable, command)  # the server takes this process's place, its id and its signals
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches Streamlit too, which then stops itself
    sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
