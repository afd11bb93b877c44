"""Alertmanager API v2 client and the mapping of an incident onto an alert.

Alertmanager identifies an alert by its label set, so re-posting a revision is
idempotent: annotations and ``endsAt`` are updated in place.  The labels are
the ones ``deploy/alertmanager/alertmanager.yml`` routes, groups and inhibits
on: ``tier`` (routing per tier, inhibition severe > moderate > mild),
``community`` (inhibition scope) and ``incident`` (grouping with community).

Alertmanager resolves an alert whose ``endsAt`` has passed.  An open incident
is therefore posted with ``endsAt = now + RESEND_HORIZON`` and must be posted
again before that (``repost_due``, every ``REPOST_INTERVAL``), the way
Prometheus re-sends firing alerts; a closed incident gets an ``endsAt`` in the
past and is resolved at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from pipeline.egress.paging.content import (
    STATUS_NAMES_ZH,
    beijing_time,
    closed_at,
    console_url,
    is_closed,
    iso_utc,
    joined,
    safe_excerpt,
    tier_zh,
    truncate,
)
from schemas.alerts import Alert
from schemas.base import utc_now

ALERTNAME = "CommunityNegativeSentiment"
SEVERITY: dict[str, str] = {"mild": "info", "moderate": "warning", "severe": "critical"}
"""Generic severity for tools that know no tiers; ``critical``/``warning`` are the
values the pipeline-health rules use too.  Routing and inhibition use ``tier``."""

RESEND_HORIZON = timedelta(hours=1)
"""How long Alertmanager keeps an open incident firing without a re-post."""
REPOST_INTERVAL = timedelta(minutes=15)
"""Re-post open incidents this often: four chances before the horizon passes."""

MAX_EXCERPTS = 3
EXCERPT_CHARS = 120


def alert_labels(alert: Alert) -> dict[str, str]:
    """The identity of the incident's alert in Alertmanager (changes with the tier)."""
    return {
        "alertname": ALERTNAME,
        "tier": alert.tier,
        "severity": SEVERITY[alert.tier],
        "community": alert.community_id,
        "incident": alert.incident_id,
    }


def describe(alert: Alert) -> str:
    """Multi-line context for moderators: Chinese first, masked excerpts only."""
    lines = [
        f"{tier_zh(alert.tier)}负面反馈（{alert.tier}）· 社群 {alert.community_id}"
        + (f"（涉及 {joined(alert.community_ids, 10)}）" if len(alert.community_ids) > 1 else ""),
        f"状态 {STATUS_NAMES_ZH.get(alert.status, alert.status)} · 第 {alert.revision} 版"
        + (f" · 已超时升级 {alert.escalations} 次" if alert.escalations else ""),
        f"负面消息 {alert.negative_messages} 条 / 成员 {alert.members} 人 / "
        f"最低分 {alert.min_score:.2f} / 平均分 {alert.mean_score:.2f} / 热度 {alert.heat}",
    ]
    if alert.matched_terms:
        lines.append(f"关键词 Terms: {joined(alert.matched_terms, 15)}")
    if alert.reasons:
        lines.append("原因 Reasons: " + "；".join(truncate(r, 100) for r in alert.reasons[:5]))
    for excerpt in alert.excerpts[:MAX_EXCERPTS]:
        lines.append(f"摘录: 「{safe_excerpt(excerpt, EXCERPT_CHARS)}」({excerpt.score:.2f})")
    lines.append(
        f"{alert.negative_messages} negative messages from {alert.members} members, "
        f"min score {alert.min_score:.2f}, heat {alert.heat}."
    )
    return "\n".join(lines)


def alert_annotations(alert: Alert, public_url: str) -> dict[str, str]:
    link = console_url(public_url, alert.incident_id)
    tier = tier_zh(alert.tier)
    sla = alert.sla
    annotations = {
        "summary": (
            f"{alert.tier.capitalize()} negative sentiment in community {alert.community_id}: "
            f"{alert.negative_messages} negative messages from {alert.members} members"
        ),
        "summary_zh": (
            f"社群 {alert.community_id} 出现{tier}负面反馈："
            f"{alert.members} 位成员 {alert.negative_messages} 条负面消息"
        ),
        "description": describe(alert),
        "status": alert.status,
        "event": alert.event,
        "revision": str(alert.revision),
        "communities": ",".join(alert.community_ids),
        "respond_by": iso_utc(sla.respond_by),
        "close_loop_by": iso_utc(sla.close_loop_by),
        "deadlines_zh": (
            f"回应 {beijing_time(sla.respond_by)}，闭环 {beijing_time(sla.close_loop_by)}"
            + (f"，声明 {beijing_time(sla.statement_by)}" if sla.statement_by else "")
            + "（北京时间）"
        ),
        "console_url": link,
    }
    if sla.statement_by is not None:
        annotations["statement_by"] = iso_utc(sla.statement_by)
    return annotations


def to_alertmanager(
    alert: Alert, public_url: str, now: datetime, horizon: timedelta = RESEND_HORIZON
) -> dict[str, Any]:
    """One postable alert.  Times are clamped to ``now`` so an incident stamped
    with a skewed event clock is never rejected (``endsAt`` before ``startsAt``)
    and a closed one is always resolved at once."""
    starts = min(alert.opened_at, now)
    ends = max(min(closed_at(alert), now), starts) if is_closed(alert) else now + horizon
    link = console_url(public_url, alert.incident_id)
    return {
        "labels": alert_labels(alert),
        "annotations": alert_annotations(alert, public_url),
        "startsAt": iso_utc(starts),
        "endsAt": iso_utc(ends),
        "generatorURL": link,
    }


def ended(existing: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """An alert as returned by GET /api/v2/alerts, resolved now."""
    return {
        "labels": dict(existing["labels"]),
        "annotations": dict(existing.get("annotations") or {}),
        "startsAt": existing["startsAt"],
        "endsAt": iso_utc(now),
        "generatorURL": existing.get("generatorURL", ""),
    }


def repost_due(
    alert: Alert, last_posted: datetime | None, now: datetime,
    interval: timedelta = REPOST_INTERVAL,
) -> bool:
    """Whether an incident must be posted again to keep it firing."""
    if is_closed(alert):
        return False
    return last_posted is None or now - last_posted >= interval


def _quote_matcher(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


class AlertmanagerError(Exception):
    """A non-2xx answer; the message holds the status and Alertmanager's reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {truncate(reason.strip(), 200)}")
        self.status = status


class AlertmanagerClient:
    """Thin client of the API v2 endpoints the pipeline and its tests use."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self._session.request(method, f"{self.base_url}{path}", **kwargs) as resp:
            text = await resp.text()
            if resp.status // 100 != 2:
                raise AlertmanagerError(resp.status, text)
            return await resp.json(content_type=None) if text.strip() else None

    async def post(self, alerts: list[dict[str, Any]]) -> None:
        await self._request("POST", "/api/v2/alerts", json=alerts)

    async def push(self, alert: Alert, public_url: str, now: datetime | None = None) -> None:
        """Post the incident's current state and resolve its alerts of other tiers.

        A tier change changes the label set, i.e. makes a new alert; the alert of
        the old tier would otherwise fire on (inhibited) until its horizon and
        come back when the incident is resolved.
        """
        now = now or utc_now()
        current = to_alertmanager(alert, public_url, now)
        stale = [
            ended(existing, now)
            for existing in await self.alerts({"alertname": ALERTNAME,
                                                "incident": alert.incident_id})
            if existing["labels"].get("tier") != alert.tier
        ]
        await self.post([current, *stale])

    async def alerts(
        self, filter: Mapping[str, str] | None = None, *,
        active: bool = True, silenced: bool = True, inhibited: bool = True,
        unprocessed: bool = True, receiver: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts not yet resolved whose labels equal ``filter`` (GET /api/v2/alerts)."""
        params: list[tuple[str, str]] = [
            ("active", str(active).lower()), ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()), ("unprocessed", str(unprocessed).lower()),
        ]
        params += [("filter", _quote_matcher(k, v)) for k, v in (filter or {}).items()]
        if receiver is not None:
            params.append(("receiver", receiver))
        return list(await self._request("GET", "/api/v2/alerts", params=params) or [])

    async def silence(
        self, matchers: Mapping[str, str], *, created_by: str, comment: str,
        duration: timedelta = timedelta(hours=1), starts_at: datetime | None = None,
    ) -> str:
        """Mute alerts whose labels equal ``matchers``; returns the silence id."""
        starts = starts_at or utc_now()
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                         for k, v in matchers.items()],
            "startsAt": iso_utc(starts),
            "endsAt": iso_utc(starts + duration),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = await self._request("POST", "/api/v2/silences", json=body)
        return str(answer["silenceID"])

    async def expire_silence(self, silence_id: str) -> None:
        await self._request("DELETE", f"/api/v2/silence/{quote(silence_id, safe='')}")
