"""The escalation timer: overdue, unacknowledged incidents become ``escalate`` commands.

Every ``escalation_check_interval_s`` it asks
:func:`~pipeline.compute.escalation.due_commands` which incidents of this
worker's partitions are overdue (deadlines counted from when moderators were
told, see :func:`~pipeline.compute.escalation.incident_clock`) and sends
the commands to the incident owner; it never changes incident state itself.
It also keeps open incidents firing in Alertmanager and the open-incident
gauges current.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agents.sentiment_incidents import IncidentTables
from pipeline.compute.escalation import (
    CommunityState,
    EscalationPolicy,
    due_commands,
    open_by_tier,
    past_sla,
)
from pipeline.egress.encoders import command_record
from pipeline.egress.paging import AlertDeliverer
from pipeline.runtime.context import PipelineContext
from pipeline.topics import INCIDENT_COMMANDS
from schemas.alerts import TIERS


def register(
    ctx: PipelineContext, tables: IncidentTables, deliverer: AlertDeliverer,
    policy: EscalationPolicy,
) -> None:
    for tier in TIERS:  # 0 until the first round (30 s in), not "no data" on a dashboard
        ctx.prometheus.open_incidents.labels(tier).set(0)

    @ctx.app.timer(interval=ctx.settings.escalation_check_interval_s)
    async def escalate_overdue() -> None:
        now = datetime.now(UTC)
        await deliverer.start()
        states = [CommunityState.from_wire(wire) for wire in list(tables.states.values())]
        told_at = {
            incident.incident_id: datetime.fromtimestamp(told, UTC)
            for state in states for incident in state.incidents.values()
            if (told := tables.told_at.get(incident.incident_id))
        }
        commands = [c for state in states for c in due_commands(state, now, policy, told_at)]
        for state in states:
            for incident in state.open_incidents():
                if deliverer.repost_due(incident.alert):
                    await deliverer.repost(incident.alert)
        for tier, count in open_by_tier(states).items():
            ctx.prometheus.open_incidents.labels(tier).set(count)
        ctx.prometheus.set_incidents_past_sla(past_sla(states, now))
        await ctx.publish(INCIDENT_COMMANDS, [command_record(c) for c in commands])
