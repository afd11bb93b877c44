"""mode="snownlp" must return SnowNLP's own probability on any text."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.compute.sentiment import clear_caches, score
from pipeline.compute.sentiment.bayes import SnowBayes
from pipeline.compute.sentiment.compat import RE_ZH, SnowCompatScorer
from pipeline.compute.sentiment.segtables import UNK_ID
from pipeline.compute.sentiment.snowmodel import load_bayes, load_stopwords
from pipeline.devtools.sentiment_samples import (
    chat_like,
    edge_cases,
    long_texts,
    mixed_scripts,
    traditional,
)

TOLERANCE = 1e-6


def generated_texts() -> list[str]:
    return (
        chat_like(1200, seed=1)
        + traditional(chat_like(250, seed=2))
        + mixed_scripts(600, seed=3)
        + edge_cases()
        + long_texts(2, seed=4, length=2500)
    )


def test_equals_snownlp_on_thousands_of_varied_texts(snownlp_classify, compat_scorer) -> None:
    texts = generated_texts()
    clear_caches()
    ours = score(texts, mode="snownlp")
    reference = [snownlp_classify(t) for t in texts]
    diffs = np.abs(np.array(ours) - np.array(reference))
    worst = int(diffs.argmax())
    assert diffs[worst] < TOLERANCE, (texts[worst][:80], ours[worst], reference[worst])
    # The set really covers what it claims: unseen characters, empties, long runs.
    runs = {run for t in texts for run in RE_ZH.findall(t)}
    ids = np.concatenate([compat_scorer.tables.ids(np.array([ord(c) for c in r])) for r in runs])
    assert (ids == UNK_ID).sum() > 20
    assert "" in texts and max(map(len, texts)) >= 2500


def test_equals_snownlp_object_api() -> None:
    from snownlp import SnowNLP

    texts = chat_like(150, seed=11) + traditional(chat_like(50, seed=12)) + ["好" * 500]
    clear_caches()
    ours = score(texts, mode="snownlp")
    for text, value in zip(texts, ours, strict=True):
        assert abs(value - SnowNLP(text).sentiments) < TOLERANCE, text


def test_words_equal_snownlp_handle(compat_scorer) -> None:
    from snownlp import sentiment

    texts = chat_like(300, seed=21) + mixed_scripts(200, seed=22) + edge_cases()
    assert compat_scorer.words(texts) == [sentiment.classifier.handle(t) for t in texts]


def test_cached_results_and_duplicates_are_consistent(snownlp_classify) -> None:
    texts = chat_like(40, seed=31)
    batch = texts + texts[::-1] + texts[:5]
    clear_caches()
    first = score(batch, mode="snownlp")
    again = score(batch, mode="snownlp")
    assert first == again
    assert first[: len(texts)] == first[len(texts) : 2 * len(texts)][::-1]
    assert first[0] == pytest.approx(snownlp_classify(texts[0]), abs=TOLERANCE)


def test_tiny_caches_still_give_exact_results(snownlp_classify, compat_scorer) -> None:
    """Eviction inside one batch must not lose a run's segmentation."""
    scorer = SnowCompatScorer(
        compat_scorer.tables,
        SnowBayes(load_bayes()),
        load_stopwords(),
        text_cache_size=1,
        run_cache_size=1,
    )
    texts = chat_like(60, seed=41)
    for _ in range(2):
        ours = scorer.score(texts)
        for text, value in zip(texts, ours, strict=True):
            assert abs(value - snownlp_classify(text)) < TOLERANCE


def test_probabilities_are_in_unit_interval() -> None:
    values = score(edge_cases(), mode="snownlp")
    assert all(0.0 <= v <= 1.0 for v in values)
