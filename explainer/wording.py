"""Words around the numbers of the explainer's sentences."""


def counted(n: int, noun: str) -> str:
    """n and the noun, singular for one: "1 iteration", "100 iterations" (nouns whose plural adds an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
