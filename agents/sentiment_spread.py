"""``sentiment-spread``: one complaint turning up in several communities at once.

Negative messages arrive re-keyed by complaint fingerprint (a shared
complaint/crisis term or a normalised text shingle), so every community's
copy of one complaint meets on one partition; :func:`~pipeline.compute.escalation.observe`
counts communities and returns ``spread`` commands, which go to the
communities' incident owners as incident commands.
"""

from __future__ import annotations

import orjson
from faust.types import EventT

from pipeline.compute.escalation import EscalationPolicy, SpreadSignal, SpreadState, observe
from pipeline.egress.encoders import command_record
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import INCIDENT_COMMANDS, NEGATIVE_SIGNALS
from schemas.alerts import IncidentCommand

AGENT_NAME = "sentiment-spread"


def _signal(value: bytes) -> list[SpreadSignal]:
    return [SpreadSignal.from_wire(orjson.loads(value))]


def register(ctx: PipelineContext, policy: EscalationPolicy) -> None:
    settings = ctx.settings
    spread_states = ctx.table("spread-state")

    async def handle(events: list[EventT]) -> None:
        commands: list[IncidentCommand] = []
        touched: dict[str, tuple[EventT, SpreadState]] = {}
        for event in events:
            for signal in readable(event, _signal):
                entry = touched.get(signal.fingerprint)
                state = entry[1] if entry else SpreadState.from_wire(
                    spread_states.get(signal.fingerprint)
                )
                commands += observe(state, signal, policy)
                touched[signal.fingerprint] = (event, state)
        await ctx.publish(INCIDENT_COMMANDS, [command_record(c) for c in commands])
        for fingerprint, (event, state) in touched.items():
            with acting_for(event):
                spread_states[fingerprint] = state.to_wire()

    batch_agent(ctx, ctx.topic(NEGATIVE_SIGNALS), AGENT_NAME, handle,
                within_s=settings.alert_batch_within_s)
