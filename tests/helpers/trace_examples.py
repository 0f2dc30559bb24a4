"""The example the trace tests trace: a small float64 model with random biases, one feature and one padded
caption, for either cell."""

import numpy as np

from core.engine.rnn import CaptioningRNN
from tests.helpers.vocab import make_vocab

D, W, H, V = 6, 5, 8, 20
# 5 scored words (the last target is <END>), then 2 <NULL> targets
CAPTION = np.asarray([1, 7, 9, 4, 7, 2, 0, 0])


def traced_example(cell_type="rnn", activation="tanh", seed=12):
    """(model, feature (D,), caption (T + 1,)): biases 0.3 randn so that no unit sits at exactly 0."""
    model = CaptioningRNN(
        make_vocab(V), D, W, H, cell_type=cell_type, activation=activation, dtype=np.float64, seed=seed
    )
    rng = np.random.default_rng(seed)
    for name in ("b", "b_vocab", "b_proj"):
        model.params[name] = 0.3 * rng.standard_normal(model.params[name].shape)
    return model, rng.standard_normal(D), CAPTION.copy()
