"""SnowNLP-compatible sentiment: ``snownlp.sentiment.classify(text)``, fast.

The pipeline SnowNLP runs for ``SnowNLP(text).sentiments`` is:
``seg.seg`` (split on runs of U+4E00..U+9FA5; other text is stripped and
split on whitespace; each Chinese run is Viterbi-segmented), then
``normal.filter_stop``, then the naive Bayes. No sentence splitting happens on
this path. This module keeps those steps but segments all new Chinese runs
of a batch in one vectorised pass and caches per run and per text.

One difference from ``SnowNLP(text)``: its constructor divides by ``len(text)``
(BM25 set-up), so it raises on ``""``; we return what its sentiment model says
for no words, i.e. ``snownlp.sentiment.classify("")``.
"""

from __future__ import annotations

import re
import threading

from pipeline.compute.sentiment.bayes import SnowBayes, WordLogs
from pipeline.compute.sentiment.lru import LRU
from pipeline.compute.sentiment.segmenter import segment_runs
from pipeline.compute.sentiment.segtables import SegTables

# Exactly snownlp.seg.re_zh: the capturing group puts Chinese runs at odd indices.
RE_ZH = re.compile("([\u4e00-\u9fa5]+)")

TEXT_CACHE_SIZE = 65536
RUN_CACHE_SIZE = 131072


class SnowCompatScorer:
    """Batch scorer whose output equals SnowNLP's sentiment probability."""

    def __init__(
        self,
        tables: SegTables,
        bayes: SnowBayes,
        stopwords: frozenset[str],
        text_cache_size: int = TEXT_CACHE_SIZE,
        run_cache_size: int = RUN_CACHE_SIZE,
    ) -> None:
        self.tables = tables
        self.bayes = bayes
        self.stopwords = stopwords
        self._texts: LRU[str, float] = LRU(text_cache_size)
        self._runs: LRU[str, tuple[str, ...]] = LRU(run_cache_size)
        self._lock = threading.Lock()

    def clear_caches(self) -> None:
        with self._lock:
            self._texts.clear()
            self._runs.clear()

    def score(self, texts: list[str]) -> list[float]:
        with self._lock:
            return self._score(texts)

    def words(self, texts: list[str]) -> list[list[str]]:
        """Stopword-filtered words, i.e. SnowNLP's ``Sentiment.handle(text)``."""
        with self._lock:
            pieces = [RE_ZH.split(t) for t in texts]
            runs = self._segment({run for p in pieces for run in p[1::2]})
            return [self._handle(p, runs) for p in pieces]

    def _score(self, texts: list[str]) -> list[float]:
        out: list[float | None] = [self._texts.get(t) for t in texts]
        todo = {t for t, v in zip(texts, out, strict=True) if v is None}
        if not todo:
            return out  # type: ignore[return-value]
        pieces = {t: RE_ZH.split(t) for t in todo}
        runs = self._segment({run for p in pieces.values() for run in p[1::2]})
        word_logs = self.bayes.word_logs
        fresh: dict[str, float] = {}
        for t, p in pieces.items():
            logs: list[WordLogs] = [word_logs(w) for w in self._handle(p, runs)]
            fresh[t] = value = self.bayes.probability(logs)
            self._texts.put(t, value)
        return [fresh[t] if v is None else v for t, v in zip(texts, out, strict=True)]

    def _segment(self, runs: set[str]) -> dict[str, tuple[str, ...]]:
        """Words of every run, segmenting the uncached ones in one batch."""
        known: dict[str, tuple[str, ...]] = {}
        missing: list[str] = []
        for run in runs:
            words = self._runs.get(run)
            if words is None:
                missing.append(run)
            else:
                known[run] = words
        if missing:
            stop = self.stopwords
            for run, words in zip(missing, segment_runs(self.tables, missing), strict=True):
                kept = tuple(w for w in words if w not in stop)
                known[run] = kept
                self._runs.put(run, kept)
        return known

    def _handle(self, pieces: list[str], runs: dict[str, tuple[str, ...]]) -> list[str]:
        """``filter_stop(seg(text))`` from the split pieces and segmented runs."""
        stop = self.stopwords
        words: list[str] = []
        for i, piece in enumerate(pieces):
            if i % 2:
                words.extend(runs[piece])
                continue
            for word in piece.strip().split():
                word = word.strip()
                if word and word not in stop:
                    words.append(word)
        return words
