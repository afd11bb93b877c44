"""Incident lifecycle: open → acknowledged (受理) → resolved (解决) → followed_up (回访).

Commands change one incident and yield one Alert record each:

=============  ===========================  ==========================================
command        allowed when                 effect
=============  ===========================  ==========================================
acknowledge    open                         status acknowledged, who/when
resolve        open, acknowledged           status resolved (acknowledges if needed)
follow_up      resolved                     status followed_up: the loop is closed
escalate       not followed up              tier +1 (severe stays, re-notified),
                                            escalations +1
spread         open, acknowledged           other communities added, tier severe
=============  ===========================  ==========================================

Anything else is rejected with a reason.  A command id already applied is a
no-op (``None``), as is a spread that adds nothing.  Notes are masked.  Timer
escalations come from :func:`due_escalations`: deterministic ids and issue
times (the deadline, not the clock), so every worker computes the same command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pipeline.compute.escalation.incident import Incident, tier_rank
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.rules import spread_reason
from pipeline.compute.escalation.signals import excerpt
from schemas.alerts import TIERS, Alert, AlertEvent, IncidentCommand

ACK_TIMER = "esc-ack"
LOOP_TIMER = "esc-loop"
MAX_NOTE_CHARS = 300


@dataclass(frozen=True, slots=True)
class Rejected:
    """A command that does not apply to the incident's current state, and why."""

    command_id: str
    reason: str


Outcome = AlertEvent | Rejected | None


def command_id(prefix: str, *parts: str) -> str:
    """A deterministic command id, hashed when it would exceed an Identifier."""
    plain = "-".join((prefix, *parts))
    if len(plain) <= 128:
        return plain
    digest = hashlib.blake2b(plain.encode(), digest_size=16).hexdigest()
    return f"{prefix}-{digest}"


def _acknowledge(incident: Incident, command: IncidentCommand, _: EscalationPolicy) -> Outcome:
    status = incident.alert.status
    if status != "open":
        return Rejected(command.command_id, f"already {status} / 已{_ZH[status]}")
    incident.update(status="acknowledged", acknowledged_by=command.actor,
                    acknowledged_at=command.issued_at)
    return "acknowledged"


def _resolve(incident: Incident, command: IncidentCommand, _: EscalationPolicy) -> Outcome:
    a = incident.alert
    if a.status in ("resolved", "followed_up"):
        return Rejected(command.command_id, f"already {a.status} / 已{_ZH[a.status]}")
    incident.update(status="resolved", resolved_by=command.actor, resolved_at=command.issued_at,
                    acknowledged_by=a.acknowledged_by or command.actor,
                    acknowledged_at=a.acknowledged_at or command.issued_at)
    return "resolved"


def _follow_up(incident: Incident, command: IncidentCommand, _: EscalationPolicy) -> Outcome:
    status = incident.alert.status
    if status != "resolved":
        why = ("already followed up / 已回访" if status == "followed_up"
               else "follow-up before resolve / 尚未解决，不能回访")
        return Rejected(command.command_id, why)
    incident.update(status="followed_up", followed_up_by=command.actor,
                    followed_up_at=command.issued_at)
    return "followed_up"


def _escalate(incident: Incident, command: IncidentCommand, policy: EscalationPolicy) -> Outcome:
    a = incident.alert
    if a.status == "followed_up":
        return Rejected(command.command_id, "loop already closed / 已回访，事件已关闭")
    if command.command_id.startswith(ACK_TIMER) and a.status != "open":
        return Rejected(command.command_id, f"{a.status} meanwhile / 已{_ZH[a.status]}")
    tier = TIERS[min(tier_rank(a.tier) + 1, len(TIERS) - 1)]
    incident.raise_tier(tier, command.issued_at, policy)
    count = a.escalations + 1
    incident.update(escalations=count)
    incident.set_reason("escalated", incident.alert.tier,
                        f"已升级 {count} 次（{command.actor}）/ escalated {count} time(s)")
    return "escalated"


def _spread(incident: Incident, command: IncidentCommand, policy: EscalationPolicy) -> Outcome:
    a = incident.alert
    if incident.closed:
        return Rejected(command.command_id, f"incident {a.status} / 事件已{_ZH[a.status]}")
    added = [c for c in dict.fromkeys(command.related_communities) if c not in a.community_ids]
    upgraded = incident.raise_tier("severe", command.issued_at, policy)
    if not added and not upgraded:
        return None
    incident.update(community_ids=[*a.community_ids, *added])
    hit = spread_reason(len(incident.alert.community_ids), list(command.terms))
    incident.set_reason(hit.rule, hit.tier, hit.text)
    return "upgraded" if upgraded else "updated"


_ZH = {"open": "待受理", "acknowledged": "受理", "resolved": "解决", "followed_up": "回访"}
_HANDLERS: dict[str, Callable[[Incident, IncidentCommand, EscalationPolicy], Outcome]] = {
    "acknowledge": _acknowledge,
    "resolve": _resolve,
    "follow_up": _follow_up,
    "escalate": _escalate,
    "spread": _spread,
}


def apply_command(incident: Incident, command: IncidentCommand,
                  policy: EscalationPolicy) -> Alert | Rejected | None:
    """Apply ``command`` in place: the record to publish, a rejection, or None (no-op)."""
    if command.command_id in incident.applied:
        return None
    a = incident.alert
    if command.incident_id not in (None, a.incident_id):
        return Rejected(command.command_id, f"command is for {command.incident_id}")
    if command.community_id != a.community_id:
        return Rejected(command.command_id, f"incident belongs to {a.community_id}")
    outcome = _HANDLERS[command.kind](incident, command, policy)
    if isinstance(outcome, Rejected):
        return outcome
    incident.remember_command(command.command_id, policy)
    if outcome is None:
        return None
    note = mask_note(command.note)
    if note:
        notes = [*incident.alert.notes, f"{command.kind} · {command.actor}: {note}"]
        incident.update(notes=notes[-policy.max_notes:])
    return incident.publish(outcome, command.issued_at)


def mask_note(note: str) -> str:
    """A moderator note without personal data, bounded."""
    return excerpt(note, MAX_NOTE_CHARS)


def due_escalations(incident: Incident, now: datetime,
                    policy: EscalationPolicy) -> IncidentCommand | None:
    """The escalation a timer owes ``incident`` at ``now``, if any.

    Unacknowledged past the tier's ack timeout (counted from the last page:
    opened, upgraded or escalated) → escalate, at most ``max_escalations``
    times; acknowledged or resolved but not followed up by the close-loop
    deadline → escalate once.
    """
    a = incident.alert
    if a.status == "open" and a.escalations < policy.max_escalations:
        deadline = (incident.paged_at or a.opened_at) + policy.ack_timeout(a.tier)
        if now >= deadline:
            minutes = int(policy.ack_timeout(a.tier).total_seconds() // 60)
            return _system_escalation(
                incident, command_id(ACK_TIMER, a.incident_id, str(a.escalations + 1)),
                deadline, f"{minutes} 分钟未受理 / not acknowledged within {minutes} min")
    if a.status in ("acknowledged", "resolved") and now >= a.sla.close_loop_by:
        cid = command_id(LOOP_TIMER, a.incident_id)
        if cid not in incident.applied:
            return _system_escalation(incident, cid, a.sla.close_loop_by,
                                      "闭环超时（未回访）/ loop not closed in time")
    return None


def _system_escalation(incident: Incident, cid: str, at: datetime,
                       note: str) -> IncidentCommand:
    a = incident.alert
    return IncidentCommand(command_id=cid, kind="escalate", incident_id=a.incident_id,
                           community_id=a.community_id, actor="system", note=note,
                           issued_at=at)

