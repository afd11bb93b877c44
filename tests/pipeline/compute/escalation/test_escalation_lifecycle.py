"""Lifecycle commands and timer escalations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import (
    Incident,
    Rejected,
    apply_command,
    due_commands,
    due_escalations,
    handle_command,
)
from schemas.alerts import IncidentCommand
from tests.pipeline.compute.escalation.factory import UNSURE, Table, at, chat, negative, signal


def _incident(text: str = "太恶心了，再也不买了", score: float = 0.01) -> tuple[Table, Incident]:
    table = Table()
    table.run([signal(chat("m1", 0, text), score)])
    state = table.state()
    return table, state.incidents["inc-c1-m1"]


def _command(kind: str, command_id: str, minutes: float, note: str = "",
             actor: str = "小美", **fields: object) -> IncidentCommand:
    fields.setdefault("incident_id", "inc-c1-m1")
    return IncidentCommand(command_id=command_id, kind=kind, community_id="c1", actor=actor,
                           note=note, issued_at=at(minutes), **fields)


def test_the_loop_open_acknowledged_resolved_followed_up() -> None:
    _, incident = _incident()
    ack = apply_command(incident, _command("acknowledge", "c1", 5, "已私聊"), P)
    resolved = apply_command(incident, _command("resolve", "c2", 50, "已退款"), P)
    followed = apply_command(incident, _command("follow_up", "c3", 600, "回访满意", "小王"), P)
    records = [ack, resolved, followed]
    assert [(r.event, r.status, r.revision) for r in records] == [
        ("acknowledged", "acknowledged", 2), ("resolved", "resolved", 3),
        ("followed_up", "followed_up", 4)]
    final = records[-1]
    assert (final.acknowledged_by, final.acknowledged_at) == ("小美", at(5))
    assert (final.resolved_by, final.resolved_at) == ("小美", at(50))
    assert (final.followed_up_by, final.followed_up_at) == ("小王", at(600))
    assert final.notes == ["acknowledge · 小美: 已私聊", "resolve · 小美: 已退款",
                           "follow_up · 小王: 回访满意"]
    assert final.updated_at == at(600)


def test_resolving_an_open_incident_records_the_acknowledgement_too() -> None:
    _, incident = _incident()
    record = apply_command(incident, _command("resolve", "c1", 20), P)
    assert (record.status, record.acknowledged_by, record.acknowledged_at) == (
        "resolved", "小美", at(20))


@pytest.mark.parametrize(("steps", "command", "reason"), [
    ([], "follow_up", "follow-up before resolve"),
    (["acknowledge"], "acknowledge", "already acknowledged"),
    (["resolve"], "resolve", "already resolved"),
    (["resolve"], "spread", "incident resolved"),
    (["resolve", "follow_up"], "escalate", "loop already closed"),
    (["resolve", "follow_up"], "follow_up", "already followed up"),
])
def test_invalid_transitions_are_rejected_with_a_reason(steps: list[str], command: str,
                                                        reason: str) -> None:
    _, incident = _incident()
    for i, kind in enumerate(steps):
        assert not isinstance(apply_command(incident, _command(kind, f"s{i}", i + 1), P),
                              Rejected)
    before = incident.to_wire()
    result = apply_command(incident, _command(command, "bad", 30), P)
    assert isinstance(result, Rejected) and reason in result.reason
    assert incident.to_wire() == before


def test_a_command_id_applied_before_is_a_no_op() -> None:
    _, incident = _incident()
    first = apply_command(incident, _command("acknowledge", "ack-1", 5), P)
    state = incident.to_wire()
    assert first is not None
    assert apply_command(incident, _command("acknowledge", "ack-1", 5), P) is None
    assert apply_command(incident, _command("escalate", "ack-1", 6), P) is None
    assert incident.to_wire() == state


def test_commands_for_another_incident_or_community_are_rejected() -> None:
    _, incident = _incident()
    other = apply_command(incident, _command("acknowledge", "x", 1, incident_id="inc-c1-m9"), P)
    assert isinstance(other, Rejected)
    moved = IncidentCommand(command_id="y", kind="acknowledge", incident_id="inc-c1-m1",
                            community_id="c2", actor="小美", issued_at=at(1))
    assert isinstance(apply_command(incident, moved, P), Rejected)
    table = Table()
    assert isinstance(handle_command(table.state(), _command("acknowledge", "z", 1), P),
                      Rejected)
    spread = _command("spread", "s", 1, incident_id=None, related_communities=["c2"])
    assert isinstance(handle_command(table.state(), spread, P), Rejected)  # nothing open


def test_escalate_raises_one_tier_and_severe_is_renotified() -> None:
    _, incident = _incident()
    tiers = []
    for i in range(3):
        record = apply_command(incident, _command("escalate", f"e{i}", 10 + i, actor="主管"), P)
        tiers.append((record.event, record.tier, record.escalations))
    assert tiers == [("escalated", "moderate", 1), ("escalated", "severe", 2),
                     ("escalated", "severe", 3)]
    assert incident.alert.sla.statement_by == at(11) + timedelta(hours=24)
    assert incident.alert.reasons[0] == "已升级 3 次（主管）/ escalated 3 time(s)"


def test_notes_are_masked() -> None:
    _, incident = _incident()
    note = "已联系，电话13812345678，微信号 lily_1234，地址上海市浦东新区张江路123号5栋1201室"
    record = apply_command(incident, _command("acknowledge", "c1", 5, note), P)
    text = record.notes[0]
    for raw in ("13812345678", "lily_1234", "张江路123号"):
        assert raw not in text
    assert "138****5678" in text


@pytest.mark.parametrize(("text", "score", "tier", "minutes"), [
    ("太恶心了，再也不买了", 0.01, "mild", 60),
    ("客服一直不回复，我要投诉", UNSURE, "moderate", 30),
    ("我要找律师", UNSURE, "severe", 10),
])
def test_unacknowledged_incidents_escalate_after_their_tier_timeout(
        text: str, score: float, tier: str, minutes: int) -> None:
    _, incident = _incident(text, score)
    assert incident.alert.tier == tier
    assert due_escalations(incident, at(minutes) - timedelta(seconds=1), P) is None
    command = due_escalations(incident, at(minutes + 7), P)
    assert command == due_escalations(incident, at(minutes + 7), P)  # deterministic
    assert command is not None
    assert (command.kind, command.actor, command.issued_at) == ("escalate", "system", at(minutes))
    assert command.command_id == "esc-ack-inc-c1-m1-1"
    record = apply_command(incident, command, P)
    assert record.event == "escalated" and record.escalations == 1
    assert due_escalations(incident, at(minutes + 7), P) is None  # the timer restarted


def test_escalation_chain_from_mild_then_repeated_notices_then_stop() -> None:
    _, incident = _incident()
    issued = []
    now = at(24 * 60)
    while (command := due_escalations(incident, now, P)) is not None:
        issued.append(command.issued_at)
        apply_command(incident, command, P)
    assert issued == [at(60), at(90), at(100), at(110), at(120), at(130)]
    assert (incident.alert.tier, incident.alert.escalations) == ("severe", P.max_escalations)


def test_acknowledged_incidents_escalate_only_when_the_loop_is_not_closed() -> None:
    _, incident = _incident()
    apply_command(incident, _command("acknowledge", "a", 5), P)
    assert due_escalations(incident, at(47 * 60), P) is None
    command = due_escalations(incident, at(49 * 60), P)
    assert command is not None and command.command_id == "esc-loop-inc-c1-m1"
    assert command.issued_at == at(48 * 60)
    assert apply_command(incident, command, P).tier == "moderate"
    assert due_escalations(incident, at(50 * 60), P) is None


def test_a_timer_escalation_that_crossed_an_acknowledgement_is_rejected() -> None:
    _, incident = _incident()
    command = due_escalations(incident, at(61), P)
    apply_command(incident, _command("acknowledge", "a", 60.5), P)
    assert isinstance(apply_command(incident, command, P), Rejected)
    assert incident.alert.tier == "mild"


def test_upgrades_restart_the_ack_timer() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    table.run([signal(chat("m2", 30, "我要曝光你们", member="u2"), UNSURE)])
    state = table.state()
    assert due_commands(state, at(39), P) == []
    [command] = due_commands(state, at(41), P)
    assert command.issued_at == at(40)  # severe: 10 min after the upgrade, not 60 after opening
    assert handle_command(state, command, P).escalations == 1
