"""Words around the numbers of the explainer's sentences."""


def counted(n: int, noun: str) -> str:
    """n and the noun, singular for one: "1 iteration", "100 iterations" (nouns whose plural adds an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def times(ratio: float) -> str:
    """A ratio as the explainer's sentences write it: one decimal below 10 ("2.5×"), whole up to 1000 ("466×"),
    then in e-notation ("1.4e+07×")."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×" if ratio < 1000 else f"{ratio:.1e}×"


def every_step(n: int) -> str:
    """All n timesteps: "all 16 steps", or "the one step"."""
    return "the one step" if n == 1 else f"all {n} steps"
