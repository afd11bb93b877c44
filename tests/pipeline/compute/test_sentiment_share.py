"""Share-metric classes of scored messages."""

from __future__ import annotations

from pipeline.compute.escalation import DEFAULT_POLICY, TermMatch, match_terms, signals_for
from pipeline.compute.sentiment_share import polarity, scored_messages
from tests.pipeline.compute.escalation.factory import UNSURE, chat


def test_polarity_thresholds_and_the_escalation_flag() -> None:
    assert polarity(0.39, 0.6, 0.4) == "negative"
    assert polarity(0.4, 0.6, 0.4) == "neutral"
    assert polarity(0.6, 0.6, 0.4) == "positive"
    assert polarity(0.95, 0.6, 0.4, flagged=True) == "negative"
    assert polarity(0.01, 0.6) == "neutral"  # by default only the escalation flag is negative


def test_scored_rows_only_for_scored_messages_and_flagged_ones_are_negative() -> None:
    complaint = chat("m1", 0, "发货太慢了，我要退款", member="u1")
    happy = chat("m2", 1, "谢谢群主，很好用", member="u2")
    unscored = chat("m3", 2, "收到", member="u3")
    scores = {"m1": UNSURE, "m2": 0.9}  # m1: negative only with its lexicon term
    terms: dict[str, TermMatch] = {m: match_terms(t, DEFAULT_POLICY)
                                   for m, t in (("m1", complaint.text), ("m2", happy.text))}
    signals = signals_for([complaint, happy], scores, DEFAULT_POLICY, terms)
    assert [s.message_id for s in signals if s.negative] == ["m1"]
    rows = scored_messages([complaint, happy, unscored], scores, terms, signals, 0.6)
    assert [(r.message_id, r.polarity) for r in rows] == [("m1", "negative"), ("m2", "positive")]
    unflagged = scored_messages([complaint], scores, terms, [], 0.6)
    assert unflagged[0].polarity == "neutral"  # the same score without the escalation flag
    assert rows[0].complaint_terms == terms["m1"].complaint != ()
    assert rows[0].ts_ms == int(complaint.ts.timestamp() * 1000)
