"""``sentiment-incidents``: score chat, grade negative feedback, own incident state.

Thin Faust wiring around :mod:`pipeline.compute.escalation` (pure rules) and
:mod:`pipeline.compute.sentiment` (scoring, off the event loop in a process
pool).  The agent consumes chat messages *and* incident commands (both keyed
by community id, so co-partitioned): it is the single writer of each
community's incident state.  Per batch:

1. score (in the pool, while the lexicon runs here) and build signals;
2. grade them and apply the commands (:func:`~pipeline.compute.escalation.grade_batch`);
3. publish Alert revisions (alerts topic, awaited; Prometheus);
4. send spread signals and scored-message chunks (deferred: confirmed before
   the commit, :mod:`pipeline.runtime.deferred_sends`);
5. save state.

Alerts go out before state is saved, so a crash replays into the same revisions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from faust.types import EventT, TableT

from pipeline.app.settings import Settings
from pipeline.compute.escalation import (
    CommunityState,
    EscalationPolicy,
    grade_batch,
    match_terms,
    scorable,
    signals_for,
    spread_signals,
)
from pipeline.compute.escalation.evidence import thresholds
from pipeline.compute.sentiment_share import scored_messages
from pipeline.egress.encoders import alert_record, score_chunk_records, spread_record
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.runtime.scoring_pool import SentimentPool
from pipeline.topics import (
    CHAT_MESSAGES,
    INCIDENT_COMMANDS,
    NEGATIVE_SIGNALS,
    SENTIMENT_ALERTS,
    SENTIMENT_SCORES,
)
from schemas.alerts import IncidentCommand
from schemas.decode import Rejection, decode
from schemas.events import ChatMessage

log = logging.getLogger(__name__)

AGENT_NAME = "sentiment-incidents"

def load_policy(settings: Settings) -> EscalationPolicy:
    """Rule defaults with the scorer mode's calibrated thresholds, overridden by the
    settings' JSON file, if any."""
    overrides = {}
    if settings.escalation_policy_file is not None:
        overrides = json.loads(settings.escalation_policy_file.read_text(encoding="utf-8"))
    return EscalationPolicy.for_mode(settings.sentiment_mode, **overrides)


@dataclass(frozen=True, slots=True)
class IncidentTables:
    """The incident owner's state, shared with the escalation timer (same worker)."""

    states: TableT
    """Community id → :class:`CommunityState` (wire form)."""
    told_at: TableT
    """Incident id → wall-clock time (epoch s) it was first published: acknowledgement
    timeouts run from when moderators were told, not from the (possibly replayed) event time."""


def register(ctx: PipelineContext) -> IncidentTables:
    """Register the agent; returns its tables for :mod:`agents.escalation_timer`."""
    settings = ctx.settings
    app = ctx.app
    policy = load_policy(settings)
    positive_at = settings.positive_score
    if positive_at is None:
        positive_at = thresholds(settings.sentiment_mode)["positive_score"]
    tables = IncidentTables(
        states=ctx.table("incident-state"),
        told_at=ctx.table("incident-notified"),
    )
    pool = SentimentPool(workers=settings.sentiment_workers, mode=settings.sentiment_mode)
    ctx.starters.append(pool.start)
    chat_name = settings.topic(CHAT_MESSAGES.name)
    sources = app.topic(
        chat_name, settings.topic(INCIDENT_COMMANDS.name),
        key_serializer="raw", value_serializer="raw",
    )
    read_command = one(IncidentCommand.model_validate_json)

    async def handle(events: list[EventT]) -> None:
        now = datetime.now(UTC)
        messages: list[tuple[EventT, ChatMessage]] = []
        commands: list[tuple[EventT, IncidentCommand]] = []
        for event in events:
            if event.message.topic == chat_name:
                message = decode(event.message.value, ChatMessage, ctx.policy, now)
                if not isinstance(message, Rejection):  # chat-activity dead-letters it
                    messages.append((event, message))
            else:
                commands += [(event, command) for command in readable(event, read_command)]
        chat = [m for _, m in messages]
        candidates = [m for m in chat if scorable(m)]
        scoring = asyncio.ensure_future(pool.score([m.text for m in candidates]))
        terms = {m.message_id: match_terms(m.text, policy) for m in candidates}  # meanwhile
        scores = {m.message_id: value
                  for m, value in zip(candidates, await scoring, strict=True)}
        signals = signals_for(chat, scores, terms=terms, policy=policy)

        outcome = grade_batch(
            lambda community: CommunityState.from_wire(tables.states.get(community)),
            signals, [command for _, command in commands], policy,
        )
        for command, rejected in outcome.rejected:
            log.info("command %s rejected: %s", command.command_id, rejected.reason)

        prometheus = ctx.prometheus
        await ctx.publish(SENTIMENT_ALERTS, [alert_record(a) for a in outcome.alerts])
        published = time.time()
        for alert in outcome.alerts:
            prometheus.alerts.labels(alert.tier, alert.event).inc()
        trigger_times = [e.message.timestamp for e, _ in messages]
        if outcome.alerts and trigger_times:
            prometheus.alert_latency.observe(max(0.0, published - max(trigger_times)))
        spread = [s for signal in signals for s in spread_signals(signal)]
        await ctx.publish(NEGATIVE_SIGNALS, [spread_record(s) for s in spread], wait=False)
        scored = scored_messages(chat, scores, terms, signals, positive_at,
                                 settings.negative_score)
        await ctx.publish(SENTIMENT_SCORES, score_chunk_records(scored), wait=False)

        anchor = {m.community_id: e for e, m in messages}
        anchor |= {c.community_id: e for e, c in commands}
        for community, state in outcome.states.items():
            with acting_for(anchor[community]):
                tables.states[community] = state.to_wire()
                for incident_id in outcome.opened(community):
                    tables.told_at[incident_id] = published

    batch_agent(ctx, sources, AGENT_NAME, handle, within_s=settings.alert_batch_within_s)
    ctx.on_shutdown.append(pool.close)
    return tables
