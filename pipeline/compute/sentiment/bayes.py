"""SnowNLP's sentiment naive Bayes with its per-word logs precomputed.

``snownlp.classification.bayes.Bayes.classify`` recomputes ``log(freq)`` for
every word of every text. The logs only depend on the word, so they are
computed once here; the summation order and the final ``exp`` normalisation
(including its ``OverflowError`` branch) are kept exactly as SnowNLP has them.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import exp, log

from pipeline.compute.sentiment.snowmodel import BayesModel

WordLogs = tuple[float, ...]


class SnowBayes:
    """Exact replica of SnowNLP's ``Bayes.classify`` mapped to P(positive)."""

    def __init__(self, model: BayesModel) -> None:
        self.classes = model.classes
        self.priors: WordLogs = tuple(log(t) - log(model.total) for t in model.class_totals)
        self.unseen: WordLogs = tuple(
            log(float(none) / t)
            for none, t in zip(model.class_none, model.class_totals, strict=True)
        )
        vocab: set[str] = set().union(*model.counts)
        self._logs: dict[str, WordLogs] = {
            w: tuple(
                log(float(c.get(w, none)) / t)
                for c, none, t in zip(
                    model.counts, model.class_none, model.class_totals, strict=True
                )
            )
            for w in vocab
        }

    def word_logs(self, word: str) -> WordLogs:
        """``log(freq(word))`` per class, as SnowNLP's add-one counts give it."""
        return self._logs.get(word, self.unseen)

    def probability(self, words_logs: Iterable[WordLogs]) -> float:
        """P(positive) of a document given its (stopword-filtered) words' logs."""
        sums = list(self.priors)
        for logs in words_logs:
            for k, value in enumerate(logs):
                sums[k] += value
        return self.normalise(sums)

    def normalise(self, sums: list[float]) -> float:
        ret, prob = None, 0
        for k in range(len(sums)):
            now = 0
            try:
                for other in range(len(sums)):
                    now += exp(sums[other] - sums[k])
                now = 1 / now
            except OverflowError:
                now = 0
            if now > prob:
                ret, prob = k, now
        if ret is not None and self.classes[ret] == "pos":
            return prob
        return 1 - prob
