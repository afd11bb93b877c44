"""``anomaly-delivery``: community anomalies to Alertmanager, on their own route.

Consumes ``alerts.community-anomalies.v1`` (role ``alerts``: paging is the
alert worker's job) and posts each record until Alertmanager accepts it; a
record is acknowledged only then, so an outage delays anomalies but never
loses one.  The latest revision of each anomaly is kept in a table: open
ones are re-posted by a timer so they keep firing, and a replayed opening of
a resolved anomaly is not posted again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from faust.types import EventT

from pipeline.egress.paging.anomalies import AnomalyPager
from pipeline.egress.paging.deliverer import DeliveryConfig
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import ANOMALY_ALERTS
from schemas.outputs import CommunityAnomaly

AGENT_NAME = "anomaly-delivery"
CHECK_INTERVAL_S = 60.0


def register(ctx: PipelineContext) -> None:
    config = DeliveryConfig.from_settings(ctx.settings)
    pager = AnomalyPager(
        config.alertmanager_url,
        lambda: aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=config.request_timeout_s)),
        lambda: datetime.now(UTC),
    )
    ctx.starters.append(pager.start)
    ctx.on_shutdown.append(pager.close)
    anomalies = ctx.table("anomaly-delivered")
    """Latest delivered revision per anomaly (resolved ones stay, so a replayed opening
    never reopens them)."""
    read_one = CommunityAnomaly.model_validate_json
    read = one(read_one)

    async def handle(events: list[EventT]) -> None:
        for event in events:
            for anomaly in readable(event, read):
                known = anomalies.get(anomaly.anomaly_id)
                if known is not None and read_one(known).revision >= anomaly.revision:
                    continue  # a replay: Alertmanager has it, the timer keeps it firing
                await pager.post(anomaly)
                with acting_for(event):
                    anomalies[anomaly.anomaly_id] = anomaly.model_dump_json()

    batch_agent(ctx, ctx.topic(ANOMALY_ALERTS), AGENT_NAME, handle, within_s=0.05)

    @ctx.app.timer(interval=CHECK_INTERVAL_S)
    async def keep_anomalies_firing() -> None:
        for wire in list(anomalies.values()):
            anomaly = read_one(wire)
            if pager.repost_due(anomaly):
                await pager.post(anomaly)
