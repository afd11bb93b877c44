"""Builders for escalation tests: chat messages, signals, and a table-like store."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pipeline.compute.escalation import (
    DEFAULT_POLICY,
    CommunityState,
    EscalationPolicy,
    MessageSignal,
    assess,
    signal_for,
)
from schemas.alerts import Alert
from schemas.events import ChatMessage

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NEGATIVE = 0.01
"""A score negative on its own."""
UNSURE = round((DEFAULT_POLICY.negative_score + DEFAULT_POLICY.evidence_max_score) / 2, 3)
"""A score that is negative only together with negative evidence or a lexicon term (the
thresholds are calibrated, so the tests follow them)."""
POSITIVE = 0.9


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def chat(message_id: str, minutes: float, text: str, member: str = "u1",
         community: str = "c1", **fields: object) -> ChatMessage:
    return ChatMessage(message_id=message_id, community_id=community, member_id=member,
                       ts=at(minutes), text=text, **fields)


def signal(message: ChatMessage, score: float,
           policy: EscalationPolicy = DEFAULT_POLICY) -> MessageSignal:
    result = signal_for(message, score, policy)
    assert result is not None, message.text
    return result


def negative(message_id: str, minutes: float, member: str = "u1", community: str = "c1",
             text: str = "太恶心了，再也不买了", score: float = NEGATIVE,
             **fields: object) -> MessageSignal:
    """A negative signal (by default on its score alone, without lexicon terms)."""
    found = signal(chat(message_id, minutes, text, member, community, **fields), score)
    assert found.negative
    return found


def wire_copy(data: dict) -> dict:
    """What a Faust table would hand back: the state through JSON."""
    return json.loads(json.dumps(data, ensure_ascii=False))


class Table:
    """Community states kept on the wire between batches, as the Faust agent does."""

    def __init__(self, policy: EscalationPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self.wire: dict[str, dict] = {}
        self.records: list[Alert] = []

    def state(self, community: str = "c1") -> CommunityState:
        return CommunityState.from_wire(self.wire.get(community))

    def save(self, community: str, state: CommunityState) -> None:
        self.wire[community] = wire_copy(state.to_wire())

    def run(self, signals: Iterable[MessageSignal], community: str = "c1") -> list[Alert]:
        state = self.state(community)
        out = assess(state, list(signals), self.policy)
        self.save(community, state)
        self.records += out
        return out

    def latest(self) -> dict[str, Alert]:
        best: dict[str, Alert] = {}
        for record in self.records:
            known = best.get(record.incident_id)
            if known is None or record.revision > known.revision:
                best[record.incident_id] = record
        return best

    def only(self) -> Alert:
        latest = self.latest()
        assert len(latest) == 1, sorted(latest)
        return next(iter(latest.values()))
