"""Ages, SLA countdowns and local times, shared by the HTML pages and the CLI.

Deadlines come from the alert record (docs/product.md, "SLAs": respond within 3 h, close the loop
within 48 h, a crisis statement within 24 h); the console only decides whether
each one is still running, overdue, or met (and whether it was met in time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal, overload

from schemas.alerts import Alert

BEIJING = timezone(timedelta(hours=8), "UTC+8")
"""Operators work on Beijing time; China has no daylight saving, so a fixed offset is exact."""

DeadlineState = Literal["pending", "overdue", "met", "late", "closed"]


@dataclass(frozen=True)
class Deadline:
    """One SLA clock of an incident."""

    key: Literal["respond", "close_loop", "statement"]
    label_zh: str
    label_en: str
    due: datetime
    done_at: datetime | None
    verifiable: bool = True
    """False when the record cannot tell whether the deadline was met, only that it stopped."""

    def state(self, now: datetime) -> DeadlineState:
        if self.done_at is not None:
            if not self.verifiable:
                return "closed"
            return "met" if self.done_at <= self.due else "late"
        return "pending" if now <= self.due else "overdue"

    def countdown(self, now: datetime) -> str:
        """Short bilingual text: time left, time overdue, or when it was met."""
        state = self.state(now)
        if state == "pending":
            return f"剩 {duration(self.due - now)} left"
        if state == "overdue":
            return f"超时 {duration(now - self.due)} overdue"
        if state == "met":
            return "✓ 按时 met"
        if state == "closed":
            return "已闭环 loop closed"
        return f"逾期完成 late by {duration(self.done_at - self.due)}"  # type: ignore[operator]


def deadlines(alert: Alert) -> list[Deadline]:
    """The incident's SLA clocks, each with the moment it was satisfied (if it was).

    Responding is satisfied by the first moderator action (受理, or 解决 which
    implies it); the loop is closed by 回访.  The record has no field for the
    statement itself, so its clock merely stops at 回访 ("closed", not "met").
    """
    responded = aware(alert.acknowledged_at or alert.resolved_at or alert.followed_up_at)
    closed = aware(alert.followed_up_at)
    clocks = [
        Deadline("respond", "响应", "respond", aware(alert.sla.respond_by), responded),
        Deadline("close_loop", "闭环", "close loop", aware(alert.sla.close_loop_by), closed),
    ]
    if alert.sla.statement_by is not None:
        clocks.append(Deadline("statement", "声明", "statement",
                               aware(alert.sla.statement_by), closed, verifiable=False))
    return clocks


def age(alert: Alert, now: datetime) -> timedelta:
    """How long the incident has been open."""
    return now - aware(alert.opened_at)


def overdue(alert: Alert, now: datetime) -> bool:
    """Whether any SLA clock of the incident has run out."""
    return any(d.state(now) == "overdue" for d in deadlines(alert))


@overload
def aware(ts: datetime) -> datetime: ...
@overload
def aware(ts: None) -> None: ...
def aware(ts: datetime | None) -> datetime | None:
    """The time with a zone: records should carry one, a naive one is taken as UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=UTC)


def duration(delta: timedelta) -> str:
    """Compact duration: ``45s``, ``12m``, ``2h05m``, ``3d04h`` (sign dropped)."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def local(ts: datetime | None) -> str:
    """Beijing time, minute precision, for display ('—' when absent)."""
    if ts is None:
        return "—"
    return aware(ts).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
