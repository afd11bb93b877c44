"""Batch identity and defensive reading of internal records."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.internal import one, readable
from schemas.alerts import IncidentCommand


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    value: bytes | None = None


@dataclass
class Event:
    message: Message


def test_a_replayed_batch_has_the_same_identity_in_any_order() -> None:
    batch = [Event(Message("chat", 1, 7)), Event(Message("chat", 0, 3)),
             Event(Message("chat", 1, 5)), Event(Message("cmd", 0, 9))]
    assert offsets_identity(batch) == "chat/0:3-3#1;chat/1:5-7#2;cmd/0:9-9#1"
    assert offsets_identity(list(reversed(batch))) == offsets_identity(batch)
    assert offsets_identity(batch[:2]) != offsets_identity(batch)


def test_unreadable_internal_records_are_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parse = one(IncidentCommand.model_validate_json)
    good = IncidentCommand(command_id="k1", kind="acknowledge", incident_id="inc-1",
                           community_id="c1", actor="小美",
                           issued_at="2026-01-05T08:00:00Z").to_json()
    assert [c.command_id for c in readable(Event(Message("cmd", 0, 1, good)), parse)] == ["k1"]
    with caplog.at_level(logging.ERROR):
        for value in (b"{not json", b'{"kind": "nope"}', None):
            assert readable(Event(Message("cmd", 2, 8, value)), parse) == []
    assert caplog.text.count("unreadable internal record at cmd/2@8") == 3
