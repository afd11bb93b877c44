"""Countdowns, action rules and the in-memory read model / sender."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from console_harness import NOW, make_alert

from pipeline.console.actions import ACTIONS, allowed, clean_actor, parse_action
from pipeline.console.memory import MemoryAlertReader, MemoryCommandSender
from pipeline.console.present import deadlines, duration, local
from schemas.alerts import IncidentCommand


@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h00m"), (3 * 3600 + 300, "3h05m"),
    (86_400, "1d00h"), (2 * 86_400 + 4 * 3600 + 59, "2d04h"), (-3900, "1h05m"),
])
def test_duration(seconds: int, text: str) -> None:
    assert duration(timedelta(seconds=seconds)) == text


def test_deadline_states() -> None:
    alert = make_alert("i", tier="severe", opened_ago=timedelta(hours=4))
    clocks = {d.key: d for d in deadlines(alert)}
    assert clocks["respond"].state(NOW) == "overdue"
    assert clocks["close_loop"].countdown(NOW) == "剩 1d20h left"
    assert clocks["statement"].countdown(NOW) == "剩 20h00m left"
    late = alert.model_copy(update={"acknowledged_at": NOW - timedelta(minutes=30)})
    assert {d.key: d for d in deadlines(late)}["respond"].countdown(NOW) == "逾期完成 late by 30m"
    on_time = alert.model_copy(update={"acknowledged_at": NOW - timedelta(hours=3, minutes=30)})
    assert {d.key: d for d in deadlines(on_time)}["respond"].state(NOW) == "met"
    closed = alert.model_copy(update={"followed_up_at": NOW})
    states = {d.key: d.state(NOW) for d in deadlines(closed)}
    assert states == {"respond": "late", "close_loop": "met", "statement": "closed"}
    assert [d.key for d in deadlines(make_alert("m"))] == ["respond", "close_loop"]


def test_naive_times_are_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    alert = make_alert("i").model_copy(update={"opened_at": naive})
    assert local(alert.opened_at) == "2025-03-14 16:00"
    sla = alert.sla.model_copy(update={"respond_by": naive})
    clocks = deadlines(alert.model_copy(update={"sla": sla}))
    assert clocks[0].state(NOW) == "pending" and clocks[0].countdown(NOW) == "剩 0s left"


def test_actions_allowed_match_the_incident_lifecycle() -> None:
    """The console offers exactly what the incident agent accepts, status by status."""
    assert parse_action("follow-up") == parse_action("Follow_Up ") == "follow_up"
    assert parse_action("escalate") is None
    for status in ("open", "acknowledged", "resolved", "followed_up"):
        for action in ACTIONS:
            alert = make_alert("i", status=status)
            reader = MemoryAlertReader([alert])
            sender = MemoryCommandSender(reader)
            asyncio.run(sender.send(command(action)))
            applied = reader.latest("i").revision == 2
            assert allowed(alert, action) == applied, (status, action)
            assert applied != bool(sender.rejected)


def test_actor_is_trimmed_bounded_and_printable() -> None:
    assert clean_actor("  王小明 ") == "王小明"
    assert clean_actor("x" * 64) == "x" * 64
    for bad in (None, "", "   ", "x" * 65, "a\nb", "a\x00b"):
        assert clean_actor(bad) is None


def command(kind: str, incident: str = "i") -> IncidentCommand:
    return IncidentCommand(command_id=str(uuid.uuid4()), kind=kind, incident_id=incident,
                           community_id="wx-group-1", actor="王小明", note="ok", issued_at=NOW)


def test_reader_keeps_the_latest_revision() -> None:
    first = make_alert("i")
    reader = MemoryAlertReader([first.model_copy(update={"revision": 3, "status": "resolved"})])
    reader.put(first)
    assert asyncio.run(reader.get("i")).status == "resolved"
    reader.put(first.model_copy(update={"revision": 4, "status": "followed_up"}))
    assert asyncio.run(reader.open_alerts()) == []
    assert [a.revision for a in asyncio.run(reader.recent_alerts(5))] == [4]


def test_sender_applies_in_order_ignores_replays_and_rejects_invalid_steps() -> None:
    reader = MemoryAlertReader([make_alert("i")])
    sender = MemoryCommandSender(reader, apply=False)
    ack, follow_up = command("acknowledge"), command("follow_up")
    for cmd in (ack, ack, follow_up, command("resolve"), command("acknowledge", "unknown")):
        asyncio.run(sender.send(cmd))
    assert reader.latest("i").status == "open" and len(sender.sent) == 5
    sender.apply_pending()
    alert = reader.latest("i")
    assert (alert.status, alert.revision, alert.resolved_by) == ("resolved", 3, "王小明")
    assert [r.command_id for r in sender.rejected] == [follow_up.command_id,
                                                       sender.sent[-1].command_id]
    assert len(alert.notes) == 2
