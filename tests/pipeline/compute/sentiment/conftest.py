"""Fixtures for the sentiment tests: SnowNLP itself as the reference."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture(scope="session")
def snownlp_classify() -> Callable[[str], float]:
    """``snownlp.sentiment.classify``: what ``SnowNLP(text).sentiments`` returns."""
    from snownlp import sentiment

    return sentiment.classify


@pytest.fixture(scope="session")
def compat_scorer():
    from pipeline.compute.sentiment.loader import get_scorer

    return get_scorer("snownlp")
