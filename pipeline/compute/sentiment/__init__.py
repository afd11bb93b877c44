"""Sentiment scoring for chat messages: P(positive) in [0, 1].

``score(texts, mode="snownlp")`` equals ``SnowNLP(text).sentiments``;
the default mode ranks chat negativity better (see README.md). Models load
lazily on first use, so importing this package is cheap.
"""

from pipeline.compute.sentiment.api import DEFAULT_MODE, MODES, clear_caches, score, warm_up

__all__ = ["DEFAULT_MODE", "MODES", "clear_caches", "score", "warm_up"]
