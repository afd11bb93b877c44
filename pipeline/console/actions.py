"""The moderator actions of the 受理 → 解决 → 回访 loop, as the console offers them.

The console enables an action only where the incident lifecycle
(``pipeline/compute/escalation/lifecycle.py``) accepts it, and answers 409 for the others
before any command is sent: acknowledge an open incident, resolve an open or
acknowledged one (resolving acknowledges too), follow up a resolved one.  The
incident agent stays the authority: it may still refuse a command that raced
with another moderator's.
"""

from __future__ import annotations

from typing import Literal

from schemas.alerts import Alert, AlertStatus

Action = Literal["acknowledge", "resolve", "follow_up"]

ACTIONS: tuple[Action, ...] = ("acknowledge", "resolve", "follow_up")

STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged", "resolved", "followed_up")

ALLOWED_FROM: dict[Action, tuple[AlertStatus, ...]] = {
    "acknowledge": ("open",),
    "resolve": ("open", "acknowledged"),
    "follow_up": ("resolved",),
}
"""The statuses in which the incident lifecycle accepts each action."""

RESULTS: dict[Action, AlertStatus] = {
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "follow_up": "followed_up",
}

ACTION_LABELS: dict[Action, tuple[str, str]] = {
    "acknowledge": ("受理", "Acknowledge"),
    "resolve": ("解决", "Resolve"),
    "follow_up": ("回访", "Follow up"),
}

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("待受理", "open"),
    "acknowledged": ("已受理", "acknowledged"),
    "resolved": ("已解决", "resolved"),
    "followed_up": ("已回访", "followed up"),
}

TIER_LABELS: dict[str, tuple[str, str]] = {
    "severe": ("重度", "severe"),
    "moderate": ("中度", "moderate"),
    "mild": ("轻度", "mild"),
}

TIER_ORDER: dict[str, int] = {"severe": 0, "moderate": 1, "mild": 2}

ACTOR_MAX = 64
NOTE_MAX = 1000


def parse_action(name: str) -> Action | None:
    """The action named in a URL (``follow-up`` and ``follow_up`` both work), or None."""
    canonical = name.strip().lower().replace("-", "_")
    return next((a for a in ACTIONS if a == canonical), None)


def allowed(alert: Alert, action: Action) -> bool:
    """Whether the lifecycle accepts ``action`` in the incident's current status."""
    return alert.status in ALLOWED_FROM[action]


def reached(alert: Alert, action: Action) -> bool:
    """Whether the incident already is at or past the status ``action`` leads to."""
    return STATUSES.index(alert.status) >= STATUSES.index(RESULTS[action])


def clean_actor(raw: str | None) -> str | None:
    """The trimmed moderator name, or None when empty, too long or not printable."""
    actor = (raw or "").strip()
    if not actor or len(actor) > ACTOR_MAX or not actor.isprintable():
        return None
    return actor


def clean_note(raw: str | None) -> str | None:
    """The trimmed note ('' when absent), or None when over the record's limit."""
    note = (raw or "").strip().replace("\r\n", "\n")
    return note if len(note) <= NOTE_MAX else None


def sort_key(alert: Alert) -> tuple[int, object]:
    """Severe first, then the oldest incident first (it has the least time left)."""
    return (TIER_ORDER.get(alert.tier, 9), alert.opened_at)
