"""What leaves the module: paging decisions, page text, privacy of records, the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.compute.escalation import DEFAULT_POLICY as P
from pipeline.compute.escalation import (
    EscalationPolicy,
    Rejected,
    SpreadState,
    apply_command,
    handle_command,
    observe,
    should_page,
    spread_signals,
    summary,
)
from schemas.alerts import IncidentCommand
from tests.pipeline.compute.escalation.factory import UNSURE, Table, at, chat, negative, signal
from tests.pipeline.compute.escalation.test_escalation_signals import PII, RAW


def _story() -> Table:
    """A crisis with personal data, replies, mentions, spread and the whole loop."""
    table = Table()
    members = [f"secret-member-{i:03d}" for i in range(10)]
    batch = [signal(chat("m0", 0, PII, member=members[0], community="a"), UNSURE)]
    batch += [negative(f"m{i}", i, member=members[i], community="a", reply_to="m0",
                       mentions=[members[0]]) for i in range(1, 10)]
    table.run(batch, community="a")
    table.run([negative("b1", 3, member=members[3], community="b",
                        text=f"{PII}，我要曝光")], community="b")
    spread = SpreadState()
    for s in batch + [signal(chat("b2", 4, "大家一起维权", member="x", community="b"), UNSURE)]:
        for key in spread_signals(s):
            for command in observe(spread, key, P):
                state = table.state(command.community_id)
                result = handle_command(state, command, P)
                assert not isinstance(result, Rejected)
                if result is not None:
                    table.records.append(result)
                table.save(command.community_id, state)
    state = table.state("a")
    incident = state.incidents["inc-a-m0"]
    for i, kind in enumerate(("acknowledge", "resolve", "follow_up")):
        command = IncidentCommand(command_id=f"c{i}", kind=kind, incident_id="inc-a-m0",
                                  community_id="a", actor="小美", issued_at=at(30 + i),
                                  note="已联系，电话13812345678，微信号 lily_1234")
        table.records.append(apply_command(incident, command, P))
    return table


def test_records_carry_no_member_ids_and_no_personal_data() -> None:
    table = _story()
    assert {r.event for r in table.records} >= {"opened", "upgraded", "acknowledged",
                                                  "resolved", "followed_up"}
    for record in table.records:
        text = record.model_dump_json()
        assert "secret-member" not in text
        for raw in RAW:
            assert raw not in text
        assert record.excerpts and len(record.excerpts) <= 5


def test_paging_events_and_summary() -> None:
    table = _story()
    paged = {r.event for r in table.records if should_page(r)}
    quiet = {r.event for r in table.records if not should_page(r)}
    assert paged == {"opened", "upgraded", "resolved"} and quiet >= {"acknowledged",
                                                                      "followed_up"}
    record = table.records[0]
    for event in ("opened", "upgraded", "escalated", "resolved"):
        assert should_page(record.model_copy(update={"event": event})), event
    for event in ("updated", "acknowledged", "followed_up"):
        assert not should_page(record.model_copy(update={"event": event})), event
    severe = next(r for r in table.records if r.tier == "severe" and r.community_id == "a")
    text = summary(severe)
    assert text.startswith("【重度 severe】")
    assert "· a\n" in text and "8 位成员" in text and "statement by" in text
    assert "secret-member" not in text and "13812345678" not in text


def test_policy_is_frozen_and_checked() -> None:
    with pytest.raises(ValidationError):
        EscalationPolicy(moderate_members=5, severe_members=4)
    with pytest.raises(ValidationError):
        EscalationPolicy(negative_score=0.7, lexicon_max_score=0.6)
    with pytest.raises(ValidationError):
        P.severe_members = 3  # type: ignore[misc]


def test_operators_readme_states_the_defaults() -> None:
    readme = (Path(__file__).parents[4] / "pipeline/compute/escalation/README.md").read_text()
    for snippet in (
        f"score < **{P.negative_score}**",
        f"evidence and score < **{P.evidence_max_score}**",
        f"crisis term and score < **{P.lexicon_max_score}**",
        f"evidence and score < **{P.supporting_score}**",
        f"{P.severe_members} within {P.cluster_window_minutes} min",
        f"{P.moderate_members} within {P.cluster_window_minutes} min",
        f"≥ max({P.burst_min_negatives}, {P.burst_factor:g} × baseline) in "
        f"{P.burst_window_minutes} min",
        f"| {P.heat_severe} |",
        f"mild {P.ack_mild_minutes} min, moderate {P.ack_moderate_minutes} min, "
        f"severe {P.ack_severe_minutes} min",
        f"**{P.incident_gap_minutes} min**",
    ):
        assert snippet in readme, snippet
    for term in P.complaint_terms + P.crisis_terms:
        assert term in readme, term
