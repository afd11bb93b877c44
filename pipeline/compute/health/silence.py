"""Silent members: churn risk after 3 days without a real interaction, win-back after 30.

A present member's silence starts at their last real interaction (docs/metrics.md,
"Interactions"), or when they became present if they never interacted since
(a member silent since joining counts from the join).  Statuses and their
transitions, per (community, member):

- ``active`` → ``churn_risk`` at silence start + 3 days;
- ``churn_risk`` → ``win_back`` at silence start + 30 days;
- ``churn_risk`` / ``win_back`` → ``reactivated`` (then active) at their first real
  interaction;
- any → ``left`` when they leave, are removed or are missing from a snapshot;
- ``left`` → ``active`` when they are present again (a new join or a snapshot).

Time is the partition's fold horizon (event time), which moves with the
partition's watermarks whatever community the events belong to: a community that
goes fully quiet still advances while its partition receives events.  Silence is
judged at every hour boundary the horizon passes, after the hour before it was
folded, so every transition is found at the same boundary however the input was
batched, and a replay produces the same transitions.  The transition's time is
exact (silence start + 3 or 30 days); a member who speaks within the hour after
that instant is not flagged (the judgement is hourly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.compute.health.members import MemberRecord
from schemas.members import STATUS_CODES, MemberStatusChange

DAY_MS = 24 * 3_600_000
CHURN_RISK_MS = 3 * DAY_MS
WIN_BACK_MS = 30 * DAY_MS

STATUS_NAMES = ("active", "churn_risk", "win_back", "left")
"""Stored statuses by code: the record's codes (``schemas.members.STATUS_CODES``)."""
ACTIVE, CHURN_RISK, WIN_BACK, LEFT = (STATUS_CODES[name] for name in STATUS_NAMES)
REACTIVATED = "reactivated"
NEVER = 2**62


@dataclass(frozen=True, slots=True)
class MemberTransition:
    community_id: str
    member_id: str
    status: str
    """churn_risk, win_back, reactivated, left or active (present again after leaving)."""
    previous: str
    at_ms: int
    silent_since_ms: int | None
    """Start of the silence behind churn_risk / win_back / reactivated."""


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def status_change(transition: MemberTransition) -> MemberStatusChange:
    """The published record; its revision orders a member's changes by event time."""
    since = transition.silent_since_ms
    return MemberStatusChange(
        community_id=transition.community_id, member_id=transition.member_id,
        status=transition.status, previous=transition.previous,  # type: ignore[arg-type]
        at=_time(transition.at_ms), silent_since=None if since is None else _time(since),
        revision=transition.at_ms * 8 + STATUS_CODES[transition.status])


def status_counts(present: dict[str, int], record: Callable[[str], MemberRecord | None],
                  ) -> tuple[int, int]:
    """(churn_risk, win_back) members among the present ones."""
    churn = win_back = 0
    for member_id in present:
        current = record(member_id)
        if current is not None:
            churn += current.status == CHURN_RISK
            win_back += current.status == WIN_BACK
    return churn, win_back


def silence_start(present_since_ms: int, record: MemberRecord | None) -> int:
    last = record.last_active_ms if record is not None else 0
    return max(present_since_ms, last)


def next_deadline(status: int, since_ms: int) -> int:
    if status == ACTIVE:
        return since_ms + CHURN_RISK_MS
    if status == CHURN_RISK:
        return since_ms + WIN_BACK_MS
    return NEVER


def judge_silence(community_id: str, present: dict[str, int],
                  record: Callable[[str], MemberRecord | None],
                  create: Callable[[str], MemberRecord], at_ms: int,
                  ) -> tuple[list[MemberTransition], int]:
    """Transitions due by ``at_ms`` among the present members (their records updated), and
    the community's next deadline."""
    found: list[MemberTransition] = []
    due = NEVER
    for member_id, present_since in present.items():
        current = record(member_id)
        status = current.status if current is not None else ACTIVE
        since = silence_start(present_since, current)
        while (deadline := next_deadline(status, since)) <= at_ms:
            new = CHURN_RISK if status == ACTIVE else WIN_BACK
            found.append(MemberTransition(community_id, member_id, STATUS_NAMES[new],
                                          STATUS_NAMES[status], deadline, since))
            status = new
            current = current if current is not None else create(member_id)
            current.status = new
        due = min(due, deadline)
    found.sort(key=lambda t: (t.at_ms, t.member_id, t.status))
    return found, due
