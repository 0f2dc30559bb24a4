"""How a process runs the engine: on one BLAS thread, with an allocator that keeps freed memory.

`configure()` is called once where the Streamlit server starts (ui.server) and by bench/ to measure that
configuration; the engine and the training code never change it.

- One BLAS thread: every matrix here is small (a batch of 1 to 100 rows, H up to 512). On 2 cores shared by
  several learners, OpenBLAS's threads spin-wait against each other: an iteration of the race at H = 512
  was measured 4 to 20x slower than on one thread under load. With one thread each, concurrent sessions
  and background training each get a core.
- glibc's malloc returns large freed blocks to the system, so every new array of a training iteration
  (about 16 MB at the notebook's sizes) is faulted in page by page again: 4,200 page faults per iteration.
  Raising its mmap and trim thresholds keeps that memory in the process (bench/README.md has the timings).
  What one-off work freed (generating the dataset, training a model, a race) stays too, until
  `release_free_memory()` gives it back: the server calls it when such work ends.
"""

import ctypes
import ctypes.util
import functools

from threadpoolctl import threadpool_limits

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 512 * 1024 * 1024


@functools.cache
def _libc_function(name: str):
    """The C library's function `name` (glibc's mallopt, malloc_trim), or None where there is none."""
    library = ctypes.util.find_library("c")  # runs ldconfig: once per function, not per call
    return getattr(ctypes.CDLL(library), name, None) if library else None


def configure():
    """Limit BLAS to one thread and, with glibc, keep freed memory for reuse. Safe to call again."""
    threadpool_limits(limits=1, user_api="blas")
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)


def release_free_memory():
    """Give the memory malloc holds free back to the system (glibc's malloc_trim; elsewhere nothing).

    Measured: generating the embedded dataset and training two models left 80 MiB of 220 free in the process.
    """
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)
