"""One incident's state: the Alert it shows plus the bookkeeping behind it.

``alert`` is an Alert-shaped draft: changes are applied to it in place and
:meth:`Incident.publish` stamps it with the next revision and an event, which
makes it the record to send.  Everything the record must not show (which
member posted how often, which message ids belong to it, applied command ids)
lives beside it.  All of it serialises to plain JSON (``to_wire``/``from_wire``)
for a Faust table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import MessageSignal
from schemas.alerts import TIERS, Alert, AlertEvent, Excerpt, SlaDeadlines, Tier

MAX_MESSAGE_IDS = 1000
"""Negative message ids kept per incident (to credit replies to them as heat)."""

CLOSED = ("resolved", "followed_up")


def tier_rank(tier: Tier) -> int:
    return TIERS.index(tier)


def incident_id(community_id: str, message_id: str) -> str:
    """``inc-<community>-<first message id>``, hashed when that exceeds an Identifier."""
    plain = f"inc-{community_id}-{message_id}"
    if len(plain) <= 128:
        return plain
    return "inc-" + hashlib.blake2b(plain.encode(), digest_size=16).hexdigest()


def select_excerpts(excerpts: list[Excerpt], limit: int) -> list[Excerpt]:
    """The most recent message plus the most negative others, in time order."""
    unique = {e.message_id: e for e in excerpts}.values()
    by_time = sorted(unique, key=lambda e: (e.ts, e.message_id))
    if len(by_time) <= limit:
        return by_time
    latest = by_time[-1]
    rest = sorted(by_time[:-1], key=lambda e: (e.score, -e.ts.timestamp(), e.message_id))
    return sorted([*rest[: limit - 1], latest], key=lambda e: (e.ts, e.message_id))


@dataclass(slots=True)
class Incident:
    """Mutable state of one incident; ``alert`` is the draft of its next record."""

    alert: Alert
    published: int = 0
    """Revision of the last published record (0: nothing published yet)."""
    members: dict[str, int] = field(default_factory=dict)
    """Member reference -> negative messages (never shown: counts only)."""
    messages: dict[str, str] = field(default_factory=dict)
    """Negative message id -> member reference, to credit replies as heat."""
    score_sum: float = 0.0
    reasons: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Rule -> (tier rank, plain words); the alert lists them most severe first."""
    paged_at: datetime | None = None
    """When moderators were last paged (opened, upgraded, escalated): ack timers start here."""
    applied: list[str] = field(default_factory=list)
    """Command ids already applied (replays are no-ops), most recent last."""

    @property
    def incident_id(self) -> str:
        return self.alert.incident_id

    @property
    def closed(self) -> bool:
        """Resolved or followed up: takes no more negatives."""
        return self.alert.status in CLOSED

    @classmethod
    def open(cls, signal: MessageSignal, policy: EscalationPolicy) -> Incident:
        """A new incident whose first negative is ``signal`` (not yet published)."""
        opened = signal.ts
        alert = Alert(
            incident_id=incident_id(signal.community_id, signal.message_id),
            revision=1,
            event="opened",
            tier="mild",
            status="open",
            community_id=signal.community_id,
            community_ids=[signal.community_id],
            window_start=opened,
            window_end=opened,
            opened_at=opened,
            updated_at=opened,
            reasons=[],
            matched_terms=[],
            negative_messages=0,
            members=0,
            min_score=1.0,
            mean_score=1.0,
            heat=0,
            excerpts=[],
            sla=SlaDeadlines(
                respond_by=opened + timedelta(hours=policy.respond_hours),
                close_loop_by=opened + timedelta(hours=policy.close_loop_hours),
            ),
        )
        incident = cls(alert=alert)
        incident.add_negative(signal, policy)
        return incident

    def update(self, **changes: Any) -> None:
        self.alert = self.alert.model_copy(update=changes)

    def add_negative(self, signal: MessageSignal, policy: EscalationPolicy) -> None:
        a = self.alert
        self.members[signal.member_ref] = self.members.get(signal.member_ref, 0) + 1
        self.messages[signal.message_id] = signal.member_ref
        while len(self.messages) > MAX_MESSAGE_IDS:
            del self.messages[next(iter(self.messages))]
        self.score_sum += signal.score
        count = a.negative_messages + 1
        new_terms = [t for t in signal.terms.graded if t not in a.matched_terms]
        excerpt = Excerpt(message_id=signal.message_id, member_ref=signal.member_ref,
                          ts=signal.ts, text=signal.excerpt, score=signal.score,
                          terms=list(signal.terms.all))
        self.update(
            window_start=min(a.window_start, signal.ts),
            window_end=max(a.window_end, signal.ts),
            negative_messages=count,
            members=len(self.members),
            min_score=min(a.min_score, signal.score),
            mean_score=round(min(1.0, max(0.0, self.score_sum / count)), 4),
            matched_terms=[*a.matched_terms, *new_terms],
            excerpts=select_excerpts([*a.excerpts, excerpt], policy.max_excerpts),
        )

    def set_reason(self, rule: str, tier: Tier, text: str) -> None:
        self.reasons[rule] = (tier_rank(tier), text)
        ranked = sorted(self.reasons.values(), key=lambda r: -r[0])
        self.update(reasons=[text for _, text in ranked])

    def raise_tier(self, tier: Tier, at: datetime, policy: EscalationPolicy) -> bool:
        """Raise the tier (never lower it); a severe one gets its statement deadline."""
        if tier_rank(tier) <= tier_rank(self.alert.tier):
            return False
        sla = self.alert.sla
        if tier == "severe" and sla.statement_by is None:
            statement_by = at + timedelta(hours=policy.statement_hours)
            sla = sla.model_copy(update={"statement_by": statement_by})
        self.update(tier=tier, sla=sla)
        return True

    def publish(self, event: AlertEvent, at: datetime) -> Alert:
        """Stamp the draft as the next record; paging events restart the ack timer."""
        self.published += 1
        self.update(revision=self.published, event=event,
                    updated_at=max(self.alert.updated_at, at))
        if event in ("opened", "upgraded", "escalated"):
            self.paged_at = at
        return self.alert

    def remember_command(self, command_id: str, policy: EscalationPolicy) -> None:
        self.applied.append(command_id)
        del self.applied[: -policy.max_applied_commands]

    def to_wire(self) -> dict[str, Any]:
        return {
            "alert": self.alert.model_dump(mode="json"),
            "rev": self.published,
            "members": dict(self.members),
            "messages": dict(self.messages),
            "score_sum": self.score_sum,
            "reasons": [[rule, rank, text] for rule, (rank, text) in self.reasons.items()],
            "paged_at": self.paged_at.isoformat() if self.paged_at else None,
            "applied": list(self.applied),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Incident:
        paged = data.get("paged_at")
        return cls(
            alert=Alert.model_validate(data["alert"]),
            published=int(data.get("rev", 0)),
            members={k: int(v) for k, v in data.get("members", {}).items()},
            messages=dict(data.get("messages", {})),
            score_sum=float(data.get("score_sum", 0.0)),
            reasons={rule: (int(rank), text) for rule, rank, text in data.get("reasons", [])},
            paged_at=datetime.fromisoformat(paged) if paged else None,
            applied=list(data.get("applied", [])),
        )
