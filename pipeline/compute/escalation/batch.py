"""One batch of the incident owner, and what its timer owes: grouping and arithmetic.

The ``sentiment-incidents`` agent is the single writer of every community's
incident state; per batch it hands this module the batch's signals and
commands and gets back the Alert records to publish and the states to save.
The escalation timer asks :func:`due_commands` which incidents are overdue.
Pure: no Kafka, no Faust, no clock (``now`` and the notification times come in).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.compute.escalation.community import CommunityState
from pipeline.compute.escalation.grading import assess, handle_command
from pipeline.compute.escalation.incident import Incident
from pipeline.compute.escalation.lifecycle import Rejected, due_escalations
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import MessageSignal
from schemas.alerts import TIERS, Alert, IncidentCommand, Tier


@dataclass(slots=True)
class BatchOutcome:
    """What one batch changes: records to publish, states to save, commands refused."""

    alerts: list[Alert] = field(default_factory=list)
    states: dict[str, CommunityState] = field(default_factory=dict)
    rejected: list[tuple[IncidentCommand, Rejected]] = field(default_factory=list)

    def opened(self, community_id: str) -> list[str]:
        """Incidents the batch opened in ``community_id`` (their moderators are told now)."""
        return [a.incident_id for a in self.alerts
                if a.event == "opened" and a.community_id == community_id]


def grade_batch(
    load: Callable[[str], CommunityState],
    signals: Iterable[MessageSignal],
    commands: Iterable[IncidentCommand],
    policy: EscalationPolicy,
) -> BatchOutcome:
    """Per community (in id order): assess its signals, then apply its commands in order.

    ``load`` returns a community's saved state; every community touched by a
    signal or a command is in ``outcome.states``, changed in place.
    """
    signals_by_community: dict[str, list[MessageSignal]] = defaultdict(list)
    for signal in signals:
        signals_by_community[signal.community_id].append(signal)
    commands_by_community: dict[str, list[IncidentCommand]] = defaultdict(list)
    for command in commands:
        commands_by_community[command.community_id].append(command)
    outcome = BatchOutcome()
    for community in sorted(set(signals_by_community) | set(commands_by_community)):
        state = load(community)
        outcome.alerts += assess(state, signals_by_community.get(community, []), policy)
        for command in commands_by_community.get(community, []):
            result = handle_command(state, command, policy)
            if isinstance(result, Rejected):
                outcome.rejected.append((command, result))
            elif result is not None:
                outcome.alerts.append(result)
        outcome.states[community] = state
    return outcome


def incident_clock(incident: Incident, told_at: datetime | None, now: datetime) -> datetime:
    """An incident's "now" for its deadlines: opened time plus wall time since moderators
    were first told.

    Deadlines are in event time (the SLA counts from the first negative
    message), but acknowledgement timeouts must run from when someone could
    act: replayed, old history must not escalate everything at once.  An
    incident nobody was told about yet owes nothing.
    """
    elapsed = now - told_at if told_at is not None else timedelta(0)
    return incident.alert.opened_at + elapsed


def due_commands(
    state: CommunityState,
    now: datetime,
    policy: EscalationPolicy,
    told_at: Mapping[str, datetime] | None = None,
) -> list[IncidentCommand]:
    """Escalations owed at ``now`` by the community's incidents, oldest incident first.

    With ``told_at`` (incident id → when it was first published, wall clock),
    each incident runs on :func:`incident_clock`; without it ``now`` is taken
    as event time directly.  Resolved incidents are included: they owe a follow-up.
    """
    incidents = sorted(state.incidents.values(), key=lambda i: (i.alert.opened_at, i.incident_id))
    due = []
    for incident in incidents:
        clock = now if told_at is None else incident_clock(
            incident, told_at.get(incident.incident_id), now
        )
        command = due_escalations(incident, clock, policy)
        if command is not None:
            due.append(command)
    return due


SLAS = ("respond", "close_loop")
"""The deadlines a worker can judge: respond (受理) within 3 h and close the loop (回访)
within 48 h.  The statement deadline of a severe incident is not here: no event records
a statement."""


def past_sla(states: Iterable[CommunityState], now: datetime,
             ) -> dict[tuple[str, Tier, str], int]:
    """Incidents whose deadline has passed with its step not done, per (community, tier,
    SLA): not acknowledged by ``respond_by``, not followed up by ``close_loop_by``."""
    counts: Counter[tuple[str, Tier, str]] = Counter()
    for state in states:
        for incident in state.incidents.values():
            alert = incident.alert
            if alert.status == "open" and now > alert.sla.respond_by:
                counts[(alert.community_id, alert.tier, "respond")] += 1
            if alert.status != "followed_up" and now > alert.sla.close_loop_by:
                counts[(alert.community_id, alert.tier, "close_loop")] += 1
    return dict(counts)


def open_by_tier(states: Iterable[CommunityState]) -> dict[Tier, int]:
    """Open incidents per tier (every tier present, zeros included, for the gauges)."""
    counts: Counter[str] = Counter(
        incident.alert.tier for state in states for incident in state.open_incidents()
    )
    return {tier: counts[tier] for tier in TIERS}
