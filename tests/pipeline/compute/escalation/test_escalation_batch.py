"""The incident owner's batch and the timer's arithmetic, without Faust."""

from __future__ import annotations

from datetime import timedelta

from pipeline.compute.escalation import (
    DEFAULT_POLICY,
    CommunityState,
    due_commands,
    grade_batch,
    incident_clock,
    open_by_tier,
    past_sla,
)
from schemas.alerts import IncidentCommand
from tests.pipeline.compute.escalation.factory import Table, at, negative, wire_copy

P = DEFAULT_POLICY


def loader(wire: dict[str, dict]):
    return lambda community: CommunityState.from_wire(wire.get(community))


def command(
    command_id: str, kind: str, community: str, minutes: float, **fields: object
) -> IncidentCommand:
    return IncidentCommand(command_id=command_id, kind=kind, community_id=community,
                           actor="小美", issued_at=at(minutes), **fields)


def test_signals_and_commands_are_graded_per_community_in_id_order() -> None:
    signals = [negative("m1", 0, community="c2"), negative("m2", 0, community="c1")]
    outcome = grade_batch(loader({}), signals, [], P)
    assert list(outcome.states) == ["c1", "c2"]
    assert [(a.community_id, a.event) for a in outcome.alerts] == [
        ("c1", "opened"), ("c2", "opened")]
    assert outcome.opened("c1") == [outcome.alerts[0].incident_id]
    assert outcome.opened("c3") == []


def test_a_command_applies_after_the_same_batchs_signals_and_bad_ones_are_refused() -> None:
    opened = grade_batch(loader({}), [negative("m1", 0)], [], P)
    incident_id = opened.alerts[0].incident_id
    wire = {"c1": wire_copy(opened.states["c1"].to_wire())}
    ack = command("k1", "acknowledge", "c1", 5, incident_id=incident_id)
    unknown = command("k2", "acknowledge", "c9", 5, incident_id="inc-c9-x")
    outcome = grade_batch(loader(wire), [negative("m2", 4)], [ack, unknown], P)
    assert [a.event for a in outcome.alerts] == ["updated", "acknowledged"]
    assert [(c.command_id, "no such incident" in r.reason) for c, r in outcome.rejected] == [
        ("k2", True)]
    assert set(outcome.states) == {"c1", "c9"}


def test_replaying_a_batch_on_saved_state_publishes_nothing_new() -> None:
    first = grade_batch(loader({}), [negative("m1", 0)], [], P)
    wire = {"c1": wire_copy(first.states["c1"].to_wire())}
    assert grade_batch(loader(wire), [negative("m1", 0)], [], P).alerts == []


def test_incident_clock_runs_from_when_moderators_were_told() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    [incident] = table.state().incidents.values()
    now = at(24 * 60)  # a day later on the wall clock
    assert incident_clock(incident, None, now) == incident.alert.opened_at
    told = now - timedelta(minutes=61)
    assert incident_clock(incident, told, now) == incident.alert.opened_at + timedelta(minutes=61)


def test_replayed_history_escalates_only_after_the_timeout_since_telling() -> None:
    table = Table()
    table.run([negative("m1", 0)])  # mild: 60 min to acknowledge
    state = table.state()
    [incident_id] = state.incidents
    now = at(3 * 24 * 60)  # event time long past, as when old history is replayed
    assert len(due_commands(state, now, P)) == 1  # on event time alone it is overdue
    assert due_commands(state, now, P, {}) == []  # nobody was told yet
    told_recently = {incident_id: now - timedelta(minutes=59)}
    assert due_commands(state, now, P, told_recently) == []
    told_long_ago = {incident_id: now - timedelta(minutes=61)}
    [escalate] = due_commands(state, now, P, told_long_ago)
    assert (escalate.kind, escalate.incident_id) == ("escalate", incident_id)


def test_open_incidents_are_counted_for_every_tier() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    table.run([negative("m9", 0, community="c2")], community="c2")
    counts = open_by_tier([table.state("c1"), table.state("c2")])
    assert counts == {"mild": 2, "moderate": 0, "severe": 0}
    assert open_by_tier([]) == {"mild": 0, "moderate": 0, "severe": 0}


def test_incidents_past_their_sla_are_counted_per_community_tier_and_deadline() -> None:
    table = Table()
    table.run([negative("m1", 0)])
    table.run([negative("m9", 0, community="c2")], community="c2")
    states = [table.state("c1"), table.state("c2")]
    assert past_sla(states, at(179)) == {}
    assert past_sla(states, at(181)) == {("c1", "mild", "respond"): 1,
                                         ("c2", "mild", "respond"): 1}
    (c1_incident,) = states[0].incidents.values()
    c1_incident.alert = c1_incident.alert.model_copy(update={"status": "acknowledged"})
    (c2_incident,) = states[1].incidents.values()
    c2_incident.alert = c2_incident.alert.model_copy(update={"status": "followed_up"})
    assert past_sla(states, at(181)) == {}
    assert past_sla(states, at(48 * 60 + 1)) == {("c1", "mild", "close_loop"): 1}
