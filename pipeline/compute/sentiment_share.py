"""Share-metric class of every scored message: positive, neutral or negative.

The positive-share target (≥ 60%) is read from these classes.  A message is negative
when escalation grades it negative feedback (calibrated on real reviews, see
``escalation.evidence``), so the share and the incidents never disagree about one
message; it is positive when it scores at least the mode's calibrated ``positive_score``
(chosen so that at most 5 % of real negative reviews reach it); otherwise neutral.
``make eval`` reports the precision of both classes on held-out reviews.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.compute.escalation import MessageSignal, TermMatch
from schemas.events import ChatMessage
from schemas.scores import ScoredMessage


def polarity(score: float, positive_at: float, negative_below: float | None = None,
             flagged: bool = False) -> str:
    """``flagged``: escalation found the message negative; ``negative_below``: an
    operator's extra score threshold (none by default)."""
    if flagged or (negative_below is not None and score < negative_below):
        return "negative"
    return "positive" if score >= positive_at else "neutral"


def scored_messages(
    messages: Iterable[ChatMessage],
    scores: Mapping[str, float],
    terms: Mapping[str, TermMatch],
    signals: Iterable[MessageSignal],
    positive_at: float,
    negative_below: float | None = None,
) -> list[ScoredMessage]:
    """The ``message_sentiment`` rows of a batch: every message that was scored."""
    negative = {signal.message_id for signal in signals if signal.negative}
    scored = []
    for message in messages:
        score = scores.get(message.message_id)
        if score is None:
            continue
        matched = terms[message.message_id]
        scored.append(ScoredMessage(
            message_id=message.message_id, community_id=message.community_id,
            sender_role=message.sender_role, ts_ms=int(message.ts.timestamp() * 1000),
            score=score,
            polarity=polarity(score, positive_at, negative_below,
                              message.message_id in negative),
            complaint_terms=matched.complaint, crisis_terms=matched.crisis,
        ))
    return scored
