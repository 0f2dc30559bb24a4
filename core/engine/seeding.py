"""Where the engine's random numbers come from: a np.random.Generator per model and per solver."""

import numpy as np


def generator(seed):
    """np.random.default_rng(seed). With seed None it is seeded from NumPy's global random state, so that the
    course's np.random.seed(231) before building a model or a solver makes the run repeatable (with other
    numbers than the course's, whose np.random.randn and np.random.choice draw from that state itself)."""
    if seed is None:
        seed = int(np.random.randint(2**31))
    return np.random.default_rng(seed)
