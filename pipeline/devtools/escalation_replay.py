"""Grade chat through the pure escalation engine, without Kafka: for tests and ``make eval``.

Messages are scored with ``pipeline.compute.sentiment`` and fed per community in
batches through ``assess``; spread signals go through ``observe`` and the commands
back through ``handle_command``, as the Faust wiring does (``agents/``).  No timers:
only what the messages themselves grade.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.compute.escalation import (
    CommunityState,
    EscalationPolicy,
    Rejected,
    SpreadState,
    assess,
    handle_command,
    observe,
    scorable,
    signals_for,
    spread_signals,
)
from pipeline.compute.escalation.incident import tier_rank
from pipeline.compute.sentiment import score
from pipeline.devtools.generator import GeneratedStream, GeneratorConfig, generate
from pipeline.topics import CHAT_MESSAGES
from schemas.alerts import Alert
from schemas.events import ChatMessage

BATCH = timedelta(minutes=2)


@dataclass
class Replay:
    messages: dict[str, ChatMessage]
    """Every valid chat message once, by id."""
    delivered: list[ChatMessage]
    """Valid chat messages in delivery order: late ones late, duplicates twice."""
    scores: dict[str, float]
    stream: GeneratedStream | None = None
    records: list[Alert] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def final(self) -> dict[str, Alert]:
        """The last revision of every incident."""
        best: dict[str, Alert] = {}
        for r in self.records:
            if r.incident_id not in best or r.revision > best[r.incident_id].revision:
                best[r.incident_id] = r
        return best

    def reached(self, incident_id: str, tier: str) -> datetime:
        """Event time of the first record at ``tier`` or above."""
        return min(r.updated_at for r in self.records
                   if r.incident_id == incident_id and tier_rank(r.tier) >= tier_rank(tier))


def scored(delivered: list[ChatMessage], mode: str = "improved",
           stream: GeneratedStream | None = None) -> Replay:
    """A replay of ``delivered`` messages, every scorable one scored once."""
    messages = {m.message_id: m for m in delivered}
    texts = [m for m in messages.values() if scorable(m)]
    scores = dict(zip([m.message_id for m in texts], score([m.text for m in texts], mode=mode),
                      strict=True))
    return Replay(messages, delivered, scores, stream)


def from_stream(stream: GeneratedStream, mode: str = "improved") -> Replay:
    """The valid chat of a generated stream (late and duplicated ones as delivered)."""
    delivered = [ChatMessage.model_validate_json(r.value) for r in stream.records
                 if r.topic == CHAT_MESSAGES.name and r.kind != "malformed"]
    return scored(delivered, mode, stream)


def generated(config: GeneratorConfig, mode: str = "improved") -> Replay:
    return from_stream(generate(config), mode)


def episode_tiers(run: Replay) -> dict[tuple[str, str], str | None]:
    """(episode id, community id) -> the tier of the one incident over its messages, or
    None when no incident covers them (a complaint the rules missed)."""
    assert run.stream is not None
    final = run.final()
    tiers: dict[tuple[str, str], str | None] = {}
    for episode in run.stream.truth.episodes:
        for community in episode.community_ids:
            own = sorted(run.messages[i].ts for i in episode.message_ids
                         if run.messages[i].community_id == community)
            hits = [a for a in final.values() if a.community_id == community
                    and a.window_start <= own[-1] and a.window_end >= own[0]]
            if len(hits) > 1:
                raise AssertionError((episode.episode_id, community, hits))
            tiers[(episode.episode_id, community)] = hits[0].tier if hits else None
    return tiers


def feed(replay: Replay, batches: list[list[ChatMessage]], policy: EscalationPolicy) -> Replay:
    """Run batches (each of one community) like the Faust agents, states on the wire."""
    run = Replay(replay.messages, replay.delivered, replay.scores, replay.stream)
    states: dict[str, dict] = {}
    spread: dict[str, SpreadState] = defaultdict(SpreadState)
    for batch in batches:
        community = batch[0].community_id
        signals = signals_for(batch, run.scores, policy)
        state = CommunityState.from_wire(states.get(community))
        run.records += assess(state, signals, policy)
        states[community] = state.to_wire()
        for s in signals:
            for key in spread_signals(s):
                for command in observe(spread[key.fingerprint], key, policy):
                    target = CommunityState.from_wire(states.get(command.community_id))
                    result = handle_command(target, command, policy)
                    states[command.community_id] = target.to_wire()
                    if isinstance(result, Rejected):
                        run.rejected.append(result)
                    elif result is not None:
                        run.records.append(result)
    return run


def in_event_time(replay: Replay, policy: EscalationPolicy) -> Replay:
    """Per community, in event-time order, two minutes of chat per batch."""
    batches: dict[tuple[int, str], list[ChatMessage]] = defaultdict(list)
    for m in sorted(replay.messages.values(), key=lambda m: (m.ts, m.message_id)):
        batches[(int(m.ts.timestamp() // BATCH.total_seconds()), m.community_id)].append(m)
    return feed(replay, [batches[key] for key in sorted(batches)], policy)


def as_delivered(replay: Replay, policy: EscalationPolicy, size: int = 300) -> Replay:
    """In delivery order (late, duplicated), each chunk split by community."""
    batches = []
    for i in range(0, len(replay.delivered), size):
        by_community: dict[str, list[ChatMessage]] = defaultdict(list)
        for m in replay.delivered[i:i + size]:
            by_community[m.community_id].append(m)
        batches += list(by_community.values())
    return feed(replay, batches, policy)
