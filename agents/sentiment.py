"""Sentiment and incident agents: score chat, grade negativity, own incident state.

Thin Faust wiring around :mod:`agents.escalation` (pure rules) and
:mod:`pipeline.sentiment` (scoring, off the event loop in a process pool).

- ``sentiment-incidents`` consumes chat messages *and* incident commands
  (both keyed by community id, so co-partitioned): the single writer of each
  community's incident state.  Per batch: score (in the pool, while the
  lexicon runs here), build signals, ``assess`` / ``handle_command``, publish
  Alert revisions (alerts topic, awaited; Prometheus), send spread signals and
  scored-message chunks (deferred: confirmed before the commit), then save
  state.  Alerts go out before state is saved, so a crash replays into the
  same revisions.
- ``sentiment-spread`` consumes negative signals keyed by complaint
  fingerprint and sends ``spread`` commands when one complaint shows up in
  several communities.
- A timer turns overdue, unacknowledged incidents into ``escalate`` commands
  and keeps open incidents firing in Alertmanager.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
from faust.types import EventT, StreamT
from pydantic import ValidationError

from agents.escalation import (
    DEFAULT_POLICY,
    CommunityState,
    EscalationPolicy,
    MessageSignal,
    Rejected,
    SpreadSignal,
    SpreadState,
    TermMatch,
    assess,
    due_escalations,
    handle_command,
    match_terms,
    observe,
    scorable,
    signals_for,
    spread_signals,
)
from agents.sentiment_store import ScoredMessage, encode_chunks
from pipeline.context import PipelineContext
from pipeline.delivery import AlertDeliverer
from pipeline.faust_support import acting_for
from pipeline.sentiment.pool import SentimentPool
from pipeline.settings import Settings
from pipeline.topics import (
    CHAT_MESSAGES,
    INCIDENT_COMMANDS,
    NEGATIVE_SIGNALS,
    SENTIMENT_ALERTS,
    SENTIMENT_SCORES,
)
from schemas.alerts import Alert, IncidentCommand
from schemas.decode import Rejection, decode
from schemas.events import ChatMessage

log = logging.getLogger(__name__)

AGENT_NAME = "sentiment-incidents"
SPREAD_AGENT_NAME = "sentiment-spread"


SNOWNLP_MODE_POLICY = {"negative_score": 0.0, "lexicon_max_score": 1.0}
"""SnowNLP's own scores are too noisy on chat to grade on: terms alone decide there."""


def load_policy(settings: Settings) -> EscalationPolicy:
    """Rule defaults for the scorer mode, overridden by the settings' JSON file, if any."""
    values = DEFAULT_POLICY.model_dump()
    if settings.sentiment_mode == "snownlp":
        values |= SNOWNLP_MODE_POLICY
    if settings.escalation_policy_file is not None:
        values |= json.loads(settings.escalation_policy_file.read_text(encoding="utf-8"))
    return EscalationPolicy(**values)


def polarity(score: float, settings: Settings, flagged: bool = False) -> str:
    """Share-metric class of a message; ``flagged``: escalation found it negative."""
    if flagged or score < settings.negative_score:
        return "negative"
    return "positive" if score >= settings.positive_score else "neutral"


def register(ctx: PipelineContext, deliverer: AlertDeliverer) -> None:
    settings = ctx.settings
    app = ctx.app
    policy = load_policy(settings)
    linger_s = settings.alert_batch_within_s
    states = app.Table("incident-state", default=None, partitions=settings.topic_partitions)
    notified = app.Table("incident-notified", default=None, partitions=settings.topic_partitions)
    """Wall-clock time an incident was first published: acknowledgement timeouts run from
    when moderators were told, not from the (possibly replayed, old) event time."""
    spread_states = app.Table("spread-state", default=None, partitions=settings.topic_partitions)
    pool = SentimentPool(workers=settings.sentiment_workers, mode=settings.sentiment_mode)
    ctx.starters.append(pool.start)
    chat_name = settings.topic(CHAT_MESSAGES.name)
    sources = app.topic(
        chat_name, settings.topic(INCIDENT_COMMANDS.name),
        key_serializer="raw", value_serializer="raw",
    )

    async def incidents(stream: StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, linger_s):
            await ctx.ensure_started()
            started = time.perf_counter()
            await handle_batch(events)
            ctx.metrics.batch_duration.labels(AGENT_NAME).observe(time.perf_counter() - started)

    async def handle_batch(events: list[EventT]) -> None:
        now = datetime.now(UTC)
        messages: list[tuple[EventT, ChatMessage]] = []
        commands: list[tuple[EventT, IncidentCommand]] = []
        for event in events:
            if event.message.topic == chat_name:
                message = decode(event.message.value, ChatMessage, ctx.policy, now)
                if not isinstance(message, Rejection):  # chat-activity dead-letters it
                    messages.append((event, message))
            else:
                try:
                    commands.append(
                        (event, IncidentCommand.model_validate_json(event.message.value or b""))
                    )
                except ValidationError:
                    log.error("unreadable incident command at %s/%d@%d", event.message.topic,
                              event.message.partition, event.message.offset)
        candidates = [m for _, m in messages if scorable(m)]
        scoring = asyncio.ensure_future(pool.score([m.text for m in candidates]))
        terms = {m.message_id: match_terms(m.text, policy) for m in candidates}  # meanwhile
        scores = {m.message_id: value
                  for m, value in zip(candidates, await scoring, strict=True)}
        signals = signals_for([m for _, m in messages], scores, policy, terms)

        anchor: dict[str, EventT] = {}
        by_community: dict[str, list] = defaultdict(list)
        for event, message in messages:
            anchor[message.community_id] = event
        for signal in signals:
            by_community[signal.community_id].append(signal)
        command_by_community: dict[str, list[IncidentCommand]] = defaultdict(list)
        for event, command in commands:
            anchor[command.community_id] = event
            command_by_community[command.community_id].append(command)

        alerts: list[Alert] = []
        changed: dict[str, CommunityState] = {}
        for community in sorted(set(by_community) | set(command_by_community)):
            state = CommunityState.from_wire(states.get(community))
            alerts += assess(state, by_community.get(community, []), policy)
            for command in command_by_community.get(community, []):
                result = handle_command(state, command, policy)
                if isinstance(result, Rejected):
                    log.info("command %s rejected: %s", command.command_id, result.reason)
                elif result is not None:
                    alerts.append(result)
            changed[community] = state

        spread = [s for signal in signals for s in spread_signals(signal)]
        await publish_outputs(messages, scores, terms, signals, alerts, spread, events)
        told_at = time.time()
        for community, state in changed.items():
            with acting_for(anchor[community]):
                states[community] = state.to_wire()
                for alert in alerts:
                    if alert.event == "opened" and alert.community_id == community:
                        notified[alert.incident_id] = told_at

    async def publish_outputs(
        messages: list[tuple[EventT, ChatMessage]],
        scores: dict[str, float],
        terms: dict[str, TermMatch],
        signals: list[MessageSignal],
        alerts: list[Alert],
        spread: list[SpreadSignal],
        events: list[EventT],
    ) -> None:
        """Alerts are awaited (state is saved after them); the rest is settled before the
        commit (:mod:`pipeline.deferred_sends`): a replay regenerates it from the input."""
        metrics = ctx.metrics
        await ctx.publish(
            SENTIMENT_ALERTS, [(a.incident_id.encode(), a.to_json(), None) for a in alerts]
        )
        published = time.time()
        await ctx.publish(
            NEGATIVE_SIGNALS,
            [(s.fingerprint.encode(), orjson.dumps(s.to_wire()), None) for s in spread],
            wait=False,
        )
        for alert in alerts:
            metrics.alerts.labels(alert.tier, alert.event).inc()
        trigger_times = [e.message.timestamp for e in events if e.message.topic == chat_name]
        if alerts and trigger_times:
            metrics.alert_latency.observe(max(0.0, published - max(trigger_times)))
        await ctx.publish(
            SENTIMENT_SCORES,
            [(key, value, None) for key, value in encode_chunks(scored_messages(
                messages, scores, terms, signals))],
            wait=False,
        )

    def scored_messages(
        messages: list[tuple[EventT, ChatMessage]],
        scores: dict[str, float],
        terms: dict[str, TermMatch],
        signals: list[MessageSignal],
    ) -> list[ScoredMessage]:
        negative = {signal.message_id for signal in signals if signal.negative}
        scored = []
        for _, message in messages:
            score = scores.get(message.message_id)
            if score is None:
                continue
            matched = terms[message.message_id]
            scored.append(ScoredMessage(
                message_id=message.message_id, community_id=message.community_id,
                sender_role=message.sender_role, ts_ms=int(message.ts.timestamp() * 1000),
                score=score,
                polarity=polarity(score, settings, message.message_id in negative),
                complaint_terms=matched.complaint, crisis_terms=matched.crisis,
            ))
        return scored

    app.agent(sources, name=AGENT_NAME)(incidents)

    async def spread_detector(stream: StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, linger_s):
            commands: list[IncidentCommand] = []
            touched: dict[str, tuple[EventT, SpreadState]] = {}
            for event in events:
                signal = SpreadSignal.from_wire(orjson.loads(event.message.value))
                entry = touched.get(signal.fingerprint)
                state = entry[1] if entry else SpreadState.from_wire(
                    spread_states.get(signal.fingerprint)
                )
                commands += observe(state, signal, policy)
                touched[signal.fingerprint] = (event, state)
            await ctx.publish(
                INCIDENT_COMMANDS,
                [(c.community_id.encode(), c.to_json(), None) for c in commands],
            )
            for fingerprint, (event, state) in touched.items():
                with acting_for(event):
                    spread_states[fingerprint] = state.to_wire()

    app.agent(ctx.topic(NEGATIVE_SIGNALS), name=SPREAD_AGENT_NAME)(spread_detector)

    @app.timer(interval=settings.escalation_check_interval_s)
    async def escalate_overdue() -> None:
        """Escalation commands for overdue incidents; keep open ones firing."""
        now = datetime.now(UTC)
        await deliverer.start()
        commands: list[IncidentCommand] = []
        open_by_tier: Counter[str] = Counter()
        for wire in list(states.values()):
            state = CommunityState.from_wire(wire)
            for incident in state.incidents.values():  # resolved ones owe a follow-up
                told = notified.get(incident.incident_id)
                elapsed = now - datetime.fromtimestamp(told, UTC) if told else timedelta(0)
                due = due_escalations(incident, incident.alert.opened_at + elapsed, policy)
                if due is not None:
                    commands.append(due)
            for incident in state.open_incidents():
                open_by_tier[incident.alert.tier] += 1
                if deliverer.repost_due(incident.alert):
                    await deliverer.repost(incident.alert)
        for tier in ("mild", "moderate", "severe"):
            ctx.metrics.open_incidents.labels(tier).set(open_by_tier[tier])
        await ctx.publish(
            INCIDENT_COMMANDS, [(c.community_id.encode(), c.to_json(), None) for c in commands]
        )

    @app.on_before_shutdown.connect
    async def close_pool(sender: object, **_: object) -> None:
        pool.close()
