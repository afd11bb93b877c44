"""The improved ("chat") sentiment model: NB-weighted logistic regression.

Score = sigmoid(bias + sum(weight[f] * value[f]) / sqrt(#features)) over the
character 1-3-grams, sticker tokens and lexicon counts of ``features.py``.
The weights already include the naive-Bayes log-count ratios (NBSVM-style),
so scoring needs no word segmentation: one binary search per n-gram, done
for a whole batch at once in numpy (``ngramtable.py``).
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.compute.sentiment.features import Featurizer, is_extra, load_lexicon_lines
from pipeline.compute.sentiment.lru import LRU
from pipeline.compute.sentiment.ngramtable import NgramTable

MODEL_PATH = Path(__file__).with_name("data") / "improved_model.json.gz"
FORMAT_VERSION = 1
TEXT_CACHE_SIZE = 65536


def make_featurizer(lexicon_lines: list[str], trad_to_simp: dict[str, str], max_n: int):
    return Featurizer(
        load_lexicon_lines(lexicon_lines),
        {ord(k): v for k, v in trad_to_simp.items()},
        max_n=max_n,
    )


def linear_score(
    weights: dict[str, float], bias: float, grams: dict[str, None], extras: dict[str, float]
) -> float:
    """The model's logit: weights of present n-grams plus weighted extras, length-normalised."""
    size = len(grams) + len(extras)
    if not size:
        return bias
    total = sum(map(weights.get, grams, repeat(0.0)))
    for name, value in extras.items():
        total += weights.get(name, 0.0) * value
    return bias + total / math.sqrt(size)


class ImprovedScorer:
    """Loads the shipped parameters once; scores batches with vectorised n-gram lookup."""

    def __init__(self, params: dict[str, Any], text_cache_size: int = TEXT_CACHE_SIZE) -> None:
        if params.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format {params.get('format')!r}")
        self.weights: dict[str, float] = params["weights"]
        self.bias: float = float(params["bias"])
        self.featurizer = make_featurizer(
            params["lexicon"], params["trad_to_simp"], int(params["max_n"])
        )
        self.extra_weights: dict[str, float] = {}
        grams: dict[str, float] = {}
        for name, weight in self.weights.items():
            (self.extra_weights if is_extra(name) else grams)[name] = weight
        self.table = NgramTable.build(grams, int(params["max_n"]))
        self._texts: LRU[str, float] = LRU(text_cache_size)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ImprovedScorer:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return cls(json.load(f))

    def logit(self, text: str) -> float:
        """One text's logit, feature by feature (the reference for ``logits``)."""
        grams, extras = self.featurizer.parts(text)
        return linear_score(self.weights, self.bias, grams, extras)

    def logits(self, texts: list[str]) -> np.ndarray:
        """Logits of a batch: n-gram weights looked up for all texts at once."""
        featurizer = self.featurizer
        norms = [featurizer.normalise(t) for t in texts]
        scopes = [featurizer.lexicon.negation_scope(n) for n in norms]
        totals, counts = self.table.sums(norms, scopes)
        get = self.extra_weights.get
        for i, norm in enumerate(norms):
            extras = featurizer.extras(norm)
            if extras:
                totals[i] += sum(get(name, 0.0) * value for name, value in extras.items())
                counts[i] += len(extras)
        return self.bias + totals / np.sqrt(counts)

    def score(self, texts: list[str]) -> list[float]:
        with self._lock:
            out: list[float | None] = [self._texts.get(t) for t in texts]
            todo = list(dict.fromkeys(t for t, v in zip(texts, out, strict=True) if v is None))
            if not todo:
                return out  # type: ignore[return-value]
            z = self.logits(todo)
            probs = (0.5 * (1.0 + np.tanh(0.5 * z))).tolist()  # sigmoid without overflow
            fresh = dict(zip(todo, probs, strict=True))
            for text, value in fresh.items():
                self._texts.put(text, value)
        return [fresh[t] if v is None else v for t, v in zip(texts, out, strict=True)]

    def clear_caches(self) -> None:
        with self._lock:
            self._texts.clear()
