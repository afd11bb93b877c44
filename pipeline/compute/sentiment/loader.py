"""Build each scorer once per process, on first use (importing stays cheap)."""

from __future__ import annotations

import threading
from typing import Protocol

MODES = ("improved", "snownlp")


class Scorer(Protocol):
    def score(self, texts: list[str]) -> list[float]: ...

    def clear_caches(self) -> None: ...


_scorers: dict[str, Scorer] = {}
_lock = threading.Lock()


def _build(mode: str) -> Scorer:
    if mode == "snownlp":
        from pipeline.compute.sentiment.bayes import SnowBayes
        from pipeline.compute.sentiment.compat import SnowCompatScorer
        from pipeline.compute.sentiment.snowmodel import load_bayes, load_stopwords
        from pipeline.compute.sentiment.tablecache import load_tables

        return SnowCompatScorer(load_tables(), SnowBayes(load_bayes()), load_stopwords())
    if mode == "improved":
        from pipeline.compute.sentiment.improved import ImprovedScorer

        return ImprovedScorer.load()
    raise ValueError(f"unknown sentiment mode {mode!r}; expected one of {MODES}")


def get_scorer(mode: str) -> Scorer:
    scorer = _scorers.get(mode)
    if scorer is None:
        with _lock:
            scorer = _scorers.get(mode)
            if scorer is None:
                scorer = _scorers[mode] = _build(mode)
    return scorer


def loaded_modes() -> list[str]:
    return list(_scorers)
