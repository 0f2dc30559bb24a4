"""Axis settings shared by figures."""

from __future__ import annotations

import numpy as np

# More decades than this get a label per decade only; fewer also get 2× and 5× labels.
MAX_DECADES_WITH_STEPS = 3


def log_ticks(*arrays) -> dict:
    """Keywords of a log axis over the positive values of `arrays`, labelled in full at 1, 2 and 5 × 10^k
    ("0.02", "5", "1e-05"): every label carries its decade, never a bare "5, 2" between powers of ten."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return {"type": "log"}
    low, high = int(np.floor(np.log10(values.min()))), int(np.ceil(np.log10(values.max())))
    steps = (1, 2, 5) if high - low <= MAX_DECADES_WITH_STEPS else (1,)
    ticks = [m * 10.0**k for k in range(low, high + 1) for m in steps]
    ticks = [v for v in ticks if values.min() / 1.5 <= v <= values.max() * 1.5] or [10.0**low]
    return {"type": "log", "tickmode": "array", "tickvals": ticks, "ticktext": [f"{v:g}" for v in ticks]}
