"""Public entry points: ``score``, ``warm_up``, ``clear_caches``."""

from __future__ import annotations

from pipeline.compute.sentiment.loader import MODES, get_scorer, loaded_modes

# The improved model ranks negativity better on held-out data (README.md).
DEFAULT_MODE = "improved"


def score(texts: list[str], mode: str = DEFAULT_MODE) -> list[float]:
    """P(positive) for each text, in order; 0 is negative, 1 positive."""
    if isinstance(texts, str):
        raise TypeError("score() takes a list of texts, not a single string")
    if mode not in MODES:
        raise ValueError(f"unknown sentiment mode {mode!r}; expected one of {MODES}")
    if not texts:
        return []
    return get_scorer(mode).score(list(texts))


def warm_up(mode: str = DEFAULT_MODE) -> None:
    """Load the model for ``mode`` now instead of on the first ``score`` call."""
    get_scorer(mode)


def clear_caches() -> None:
    """Forget cached per-text and per-run results of every loaded scorer."""
    for mode in loaded_modes():
        get_scorer(mode).clear_caches()
