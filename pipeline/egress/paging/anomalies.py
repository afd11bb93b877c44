"""Community anomalies as Alertmanager alerts, on their own route.

Label set ``alertname=CommunityAnomaly, community, metric, anomaly`` (plus
``severity``, which only ever rises) identifies one anomaly, so re-posting is
idempotent.  Like incidents, an open anomaly is posted with ``endsAt`` an
hour ahead and re-posted every 15 minutes; a resolved one gets ``endsAt``
now.  ``deploy/alertmanager/alertmanager.yml`` routes ``CommunityAnomaly`` to
community operations.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from pipeline.egress.paging.alertmanager import (
    REPOST_INTERVAL,
    RESEND_HORIZON,
    AlertmanagerClient,
)
from pipeline.egress.paging.content import beijing_time, iso_utc
from pipeline.egress.paging.deliverer import Backoff
from schemas.outputs import CommunityAnomaly

logger = logging.getLogger(__name__)

ALERTNAME = "CommunityAnomaly"
METRIC_ZH = {"active_members": "活跃成员", "messages": "消息量", "leaves": "退群人数",
             "joins": "入群人数", "negative_share": "负面消息占比"}
DIRECTION_ZH = {"drop": "骤降", "spike": "激增"}


def anomaly_labels(anomaly: CommunityAnomaly) -> dict[str, str]:
    return {"alertname": ALERTNAME, "community": anomaly.community_id,
            "metric": anomaly.metric, "severity": anomaly.severity,
            "anomaly": anomaly.anomaly_id}


def anomaly_to_alertmanager(anomaly: CommunityAnomaly, now: datetime,
                            horizon: timedelta = RESEND_HORIZON) -> dict[str, Any]:
    starts = min(anomaly.window_start, now)
    ends = now if anomaly.status == "resolved" else now + horizon
    metric = METRIC_ZH.get(anomaly.metric, anomaly.metric)
    move = DIRECTION_ZH[anomaly.direction]
    return {
        "labels": anomaly_labels(anomaly),
        "annotations": {
            "summary": (f"{anomaly.metric} {anomaly.direction} in community "
                        f"{anomaly.community_id}: {anomaly.observed:g} against "
                        f"{anomaly.expected:g} expected (deviation {anomaly.deviation:+.1f})"),
            "summary_zh": (f"社群 {anomaly.community_id} {metric}{move}："
                           f"实际 {anomaly.observed:g}，预期 {anomaly.expected:g}"
                           f"（偏离 {anomaly.deviation:+.1f}）"),
            "window_zh": f"{beijing_time(anomaly.window_start)} 起（北京时间）",
            "status": anomaly.status,
            "window_start": iso_utc(anomaly.window_start),
            "window_end": iso_utc(anomaly.window_end),
        },
        "startsAt": iso_utc(starts),
        "endsAt": iso_utc(max(ends, starts)),
    }


class AnomalyPager:
    """Posts anomalies to Alertmanager until accepted; keeps open ones firing."""

    def __init__(self, url: str | None, session_factory: Callable[[], aiohttp.ClientSession],
                 clock: Callable[[], datetime], backoff: Backoff | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.url = url
        self._session_factory = session_factory
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._rng = random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._posted: dict[str, datetime] = {}

    async def start(self) -> None:
        if self._session is None and self.url:
            self._session = self._session_factory()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def post(self, anomaly: CommunityAnomaly) -> None:
        """Return once Alertmanager accepted the anomaly's current state (retries for ever;
        a shutdown cancels and the record is delivered again after restart)."""
        if not self.url:
            return
        await self.start()
        assert self._session is not None
        client = AlertmanagerClient(self.url, self._session)
        failures = 0
        while True:
            try:
                await client.post([anomaly_to_alertmanager(anomaly, self._clock())])
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                failures += 1
                delay = self._backoff.delay(failures, self._rng)
                logger.warning("alertmanager: anomaly %s not posted (%s); retry in %.1fs",
                               anomaly.anomaly_id, type(exc).__name__, delay)
                await self._sleep(delay)
                continue
            except Exception as exc:  # an HTTP error answer: retried the same way
                failures += 1
                delay = self._backoff.delay(failures, self._rng)
                logger.warning("alertmanager: anomaly %s refused (%s); retry in %.1fs",
                               anomaly.anomaly_id, exc, delay)
                await self._sleep(delay)
                continue
            self._posted[anomaly.anomaly_id] = self._clock()
            if anomaly.status == "resolved":
                self._posted.pop(anomaly.anomaly_id, None)
            return

    def repost_due(self, anomaly: CommunityAnomaly) -> bool:
        if anomaly.status != "open" or not self.url:
            return False
        last = self._posted.get(anomaly.anomaly_id)
        return last is None or self._clock() - last >= REPOST_INTERVAL
