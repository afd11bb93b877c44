"""Wording shared by every channel: Chinese names, times, links, safe excerpts.

Moderators read alerts in Chinese first, on their phones, in Beijing time; the
text that leaves the pipeline carries only masked excerpts and no member or
moderator identities (docs/product.md, "Data protection": minimum necessary data).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from pipeline.compute.display import visible
from pipeline.compute.privacy import mask_pii
from schemas.alerts import TIER_NAMES_ZH, Alert, Excerpt

EVENT_NAMES_ZH: dict[str, str] = {
    "opened": "新事件",
    "upgraded": "级别上调",
    "updated": "情况更新",
    "acknowledged": "已受理",
    "escalated": "超时升级",
    "resolved": "已解决",
    "followed_up": "已回访",
}
STATUS_NAMES_ZH: dict[str, str] = {
    "open": "待受理",
    "acknowledged": "已受理",
    "resolved": "已解决",
    "followed_up": "已回访",
}
CLOSED_STATUSES = frozenset({"resolved", "followed_up"})

BEIJING = timezone(timedelta(hours=8), "UTC+8")
"""China has one time zone and no daylight saving: a fixed offset is exact."""

_SPACES = re.compile(r"\s+")
_MARKUP = str.maketrans({"<": "＜", ">": "＞", "`": "'", "[": "【", "]": "】"})


def tier_zh(tier: str) -> str:
    return TIER_NAMES_ZH.get(tier, tier)


def is_closed(alert: Alert) -> bool:
    """Resolved or followed up: nothing left for Alertmanager to page about."""
    return alert.status in CLOSED_STATUSES


def closed_at(alert: Alert) -> datetime:
    """When the incident stopped needing attention (resolution, else follow-up)."""
    return alert.resolved_at or alert.followed_up_at or alert.updated_at


def console_url(public_url: str, incident_id: str) -> str:
    """Link to the incident in the moderator console (the token is asked there)."""
    return f"{public_url.rstrip('/')}/console/alerts/{quote(incident_id, safe='')}"


def beijing_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC, the form Alertmanager's API parses."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)] + "…"


def truncate_bytes(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` of UTF-8, on a character boundary."""
    if len(text.encode()) <= max_bytes:
        return text
    ellipsis = "…"
    budget = max_bytes - len(ellipsis.encode())
    if budget <= 0:
        return ""
    cut = text.encode()[:budget].decode(errors="ignore")
    return cut + ellipsis


def safe_excerpt(excerpt: Excerpt, max_chars: int) -> str:
    """One line of excerpt text that cannot carry markup or unmasked personal data.

    Excerpts are masked upstream; masking again is cheap and idempotent, and it
    keeps a gap upstream from reaching a moderator's phone.  Markup characters
    are swapped for look-alikes so a member's message cannot restyle the alert
    or plant a link.
    """
    text = _SPACES.sub(" ", mask_pii(visible(excerpt.text))).strip().translate(_MARKUP)
    return truncate(text, max_chars)


def joined(items: list[str], limit: int, separator: str = "、") -> str:
    """At most ``limit`` items, with a count of the rest (bounded message size)."""
    shown = separator.join(items[:limit])
    rest = len(items) - limit
    return f"{shown} 等 {len(items)} 个" if rest > 0 else shown
