"""One BLAS thread for a block of training or sampling.

The captioning models' matrices are small (a batch of 25 to 100 rows times H = 512 or less). With several
BLAS threads per process on cores shared by several sessions, an iteration of the race at H = 512 was
measured 4 to 20x slower than on one thread (40 ms vs 150-950 ms).
"""

import contextlib

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with the BLAS libraries limited to one thread; the previous limits come back after."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
