"""Grading negative feedback into incidents: what one batch of signals publishes.

Per batch of one community: signals are taken in event-time order; each
negative joins the current incident, or opens one when there is none (or the
current one is closed, or its last negative is older than
``incident_gap_minutes``); a supporting (probably negative) message only counts
towards the current incident's cluster rule; replies and @mentions of an open incident's
messages or members add heat; after each signal the rules (``rules.py``) may
raise the tier.  Records: one ``opened`` and one ``upgraded`` per tier change,
each stamped with the event time of the message that caused it, plus at most
one ``updated`` per incident per batch for everything else, so twenty
negatives never make twenty records.

Idempotence: every signal's message id goes into ``state.seen``, a seen id
changes nothing, and input older than the dedup memory is ignored, so
redelivery is harmless; the same batch on the same state gives the same
records (ids, revisions, content).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pipeline.compute.escalation.community import CommunityState, RecentNegative
from pipeline.compute.escalation.incident import Incident, tier_rank
from pipeline.compute.escalation.lifecycle import Rejected, apply_command
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.rules import evaluate
from pipeline.compute.escalation.signals import MessageSignal, to_ms
from schemas.alerts import Alert, AlertEvent, IncidentCommand


class _Records:
    """Records of one call, and incidents changed since their last record."""

    def __init__(self) -> None:
        self.out: list[Alert] = []
        self.dirty: dict[str, tuple[Incident, datetime]] = {}

    def publish(self, incident: Incident, event: AlertEvent, at: datetime) -> None:
        self.dirty.pop(incident.incident_id, None)
        self.out.append(incident.publish(event, at))

    def touch(self, incident: Incident, at: datetime) -> None:
        previous = self.dirty.get(incident.incident_id)
        self.dirty[incident.incident_id] = (incident, max(at, previous[1]) if previous else at)

    def finish(self) -> list[Alert]:
        for incident, at in list(self.dirty.values()):
            self.publish(incident, "updated", at)
        return self.out


def _fresh(state: CommunityState, signals: Iterable[MessageSignal],
           policy: EscalationPolicy) -> list[MessageSignal]:
    """Signals in event-time order, without those already seen or too old to tell apart."""
    horizon = state.watermark_ms - int(policy.dedup_ttl.total_seconds() * 1000)
    batch = [s for s in signals if s.message_id not in state.seen and s.ts_ms >= horizon]
    return sorted(batch, key=lambda s: (s.ts_ms, s.message_id))


def _take_negative(state: CommunityState, signal: MessageSignal,
                   policy: EscalationPolicy) -> tuple[Incident, bool]:
    """The incident the negative joins (opened if needed), and whether it was opened."""
    current = state.current()
    gap_ms = int(policy.incident_gap.total_seconds() * 1000)
    if current is None or signal.ts_ms > to_ms(current.alert.window_end) + gap_ms:
        incident = Incident.open(signal, policy)
        state.add(incident)
        opened = True
    else:
        incident = current
        incident.add_negative(signal, policy)
        opened = False
    state.recent.append(RecentNegative(signal.message_id, signal.ts_ms, signal.member_ref,
                                       incident.incident_id, signal.terms.complaint))
    state.baseline.observe(signal.ts_ms, int(policy.burst_window.total_seconds() * 1000),
                           policy.baseline_alpha)
    early = [ref for _, ref, _ in state.pending.pop(signal.message_id, ())
             if ref != signal.member_ref]
    if early:  # replies delivered before the message they answer
        incident.update(heat=incident.alert.heat + len(early))
    return incident, opened


def _take_supporting(state: CommunityState, signal: MessageSignal,
                     policy: EscalationPolicy) -> Incident | None:
    """Remember a probably-negative message for the cluster rule; the current incident,
    when it is active (its latest negative within the cluster window), is re-graded.

    It never opens an incident: one message the scorer is unsure of is no feedback, but
    the same unease from several members next to a clear complaint is a cluster.
    """
    state.recent.append(RecentNegative(signal.message_id, signal.ts_ms, signal.member_ref,
                                       "", supporting=True))
    current = state.current()
    if current is None or signal.ts > current.alert.window_end + policy.cluster_window:
        return None
    return current


def _heat(state: CommunityState, signal: MessageSignal,
          policy: EscalationPolicy) -> Incident | None:
    """Credit a reply to, or @mention of, an open incident's message or member.

    Only while the incident is active (within the cluster window of its latest
    negative): later mentions of its members are ordinary conversation.  A
    reply to a message not seen yet waits in ``state.pending`` for it.
    """
    candidates = state.open_incidents()
    current = state.current()
    if current is not None:
        candidates = [current] + [i for i in candidates if i is not current]
    replied = False
    for incident in candidates:
        target = incident.messages.get(signal.reply_to or "")
        replied = replied or target is not None
        if signal.ts > incident.alert.window_end + policy.cluster_window:
            continue
        gained = int(target is not None and target != signal.member_ref)
        gained += sum(1 for ref in signal.mention_refs
                      if ref != signal.member_ref and ref in incident.members)
        if gained:
            incident.update(heat=incident.alert.heat + gained)
            return incident
    if signal.reply_to and not replied:
        state.pending.setdefault(signal.reply_to, []).append(
            (signal.message_id, signal.member_ref, signal.ts_ms))
    return None


def _grade(state: CommunityState, incident: Incident, at: datetime,
           policy: EscalationPolicy) -> bool:
    """Record every rule met and raise the tier to the highest; True when it rose."""
    hits = evaluate(state, incident, policy)
    for hit in hits:
        incident.set_reason(hit.rule, hit.tier, hit.text)
    top = max(hits, key=lambda h: tier_rank(h.tier))
    return incident.raise_tier(top.tier, at, policy)


def assess(state: CommunityState, signals: Iterable[MessageSignal],
           policy: EscalationPolicy) -> list[Alert]:
    """Apply one community's signals to ``state`` (in place); the records to publish."""
    batch = _fresh(state, signals, policy)
    if len({s.community_id for s in batch}) > 1:
        raise ValueError("assess takes the signals of one community at a time")
    records = _Records()
    for signal in batch:
        if signal.message_id in state.seen:
            continue  # delivered twice within the batch
        state.watermark_ms = max(state.watermark_ms, signal.ts_ms)
        state.seen[signal.message_id] = signal.ts_ms
        touched: list[Incident] = []
        opened = None
        if signal.negative:
            incident, is_new = _take_negative(state, signal, policy)
            opened = incident if is_new else None
            touched.append(incident)
        elif signal.supporting:
            supported = _take_supporting(state, signal, policy)
            if supported is not None:
                touched.append(supported)
        heated = _heat(state, signal, policy) if signal.reply_to or signal.mention_refs else None
        if heated is not None and heated not in touched:
            touched.append(heated)
        for incident in touched:
            rose = _grade(state, incident, signal.ts, policy)
            if incident is opened:
                records.publish(incident, "opened", signal.ts)
            elif rose:
                records.publish(incident, "upgraded", signal.ts)
            else:
                records.touch(incident, signal.ts)
    state.prune(policy)
    return records.finish()


def _target(state: CommunityState, command: IncidentCommand) -> Incident | None:
    if command.incident_id is not None:
        return state.incidents.get(command.incident_id)
    return state.current()


def handle_command(state: CommunityState, command: IncidentCommand,
                   policy: EscalationPolicy) -> Alert | Rejected | None:
    """Apply a command to the community's incident it names (spread: the current one)."""
    incident = _target(state, command)
    if incident is None:
        what = command.incident_id or "open incident"
        return Rejected(command.command_id, f"no such incident: {what} / 无此事件")
    return apply_command(incident, command, policy)

