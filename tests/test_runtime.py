"""core.runtime: the server's process settings keep freed memory, and release_free_memory gives it back."""

import subprocess
import sys
from pathlib import Path

import pytest

# In a process of its own: malloc's settings are process-wide. Blocks of 8 MB come from malloc's heap (below the
# mmap threshold that configure() raises); freed, they stay in the process until release_free_memory().
SCRIPT = """
import numpy as np
from core import runtime

def resident_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

runtime.configure()
before = resident_mib()
blocks = [np.ones(2 * 1024 * 1024, dtype=np.float32) for _ in range(25)]  # 200 MiB, written
del blocks
kept = resident_mib()
runtime.release_free_memory()
print(before, kept, resident_mib())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc")
def test_freed_memory_is_kept_until_released():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    before, kept, released = map(float, result.stdout.split())
    assert kept - before > 150, "configure() keeps freed memory for the next iteration"
    assert kept - released > 150, "release_free_memory() gives it back"
