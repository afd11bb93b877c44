"""Community anomalies and campaign conversion alerts to Alertmanager, each on its route.

Consumes ``alerts.community-anomalies.v1`` (``anomaly-delivery``) and
``alerts.campaign-conversion.v1`` (``conversion-delivery``) in role ``alerts``
(paging is the alert worker's job), and posts each record until
Alertmanager accepts it; a record is acknowledged only then, so an outage
delays alerts but never loses one.  The latest revision of each alert is
kept in a table: open ones are re-posted by a timer so they keep firing, and
a replayed opening of a resolved alert is not posted again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from faust.types import EventT

from pipeline.egress.paging.anomalies import anomaly_to_alertmanager
from pipeline.egress.paging.conversions import conversion_to_alertmanager
from pipeline.egress.paging.deliverer import DeliveryConfig
from pipeline.egress.paging.record_pager import RecordPager
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import ANOMALY_ALERTS, CONVERSION_ALERTS, TopicSpec
from schemas.campaigns import ConversionAlert
from schemas.outputs import CommunityAnomaly

CHECK_INTERVAL_S = 60.0


def register(ctx: PipelineContext) -> None:
    register_delivery(ctx, ANOMALY_ALERTS, "anomaly-delivery", "anomaly-delivered",
                      CommunityAnomaly.model_validate_json, anomaly_to_alertmanager)
    register_delivery(ctx, CONVERSION_ALERTS, "conversion-delivery", "conversion-delivered",
                      ConversionAlert.model_validate_json, conversion_to_alertmanager)


def register_delivery(ctx: PipelineContext, spec: TopicSpec, name: str, table_name: str,
                      read_one: Callable[[bytes], Any],
                      payload: Callable[[Any, datetime], dict[str, Any]]) -> None:
    """An agent posting the records of ``spec`` (with ``key``, ``status``, ``revision``)."""
    config = DeliveryConfig.from_settings(ctx.settings)
    pager: RecordPager[Any] = RecordPager(
        config.alertmanager_url,
        lambda: aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=config.request_timeout_s)),
        lambda: datetime.now(UTC),
        payload,
    )
    ctx.starters.append(pager.start)
    ctx.on_shutdown.append(pager.close)
    delivered = ctx.table(table_name)
    """Latest delivered revision per alert (resolved ones stay, so a replayed opening
    never reopens them)."""
    read = one(read_one)

    async def handle(events: list[EventT]) -> None:
        for event in events:
            for record in readable(event, read):
                known = delivered.get(record.key)
                if known is not None and read_one(known).revision >= record.revision:
                    continue  # a replay: Alertmanager has it, the timer keeps it firing
                await pager.post(record)
                with acting_for(event):
                    delivered[record.key] = record.model_dump_json()

    batch_agent(ctx, ctx.topic(spec), name, handle, within_s=0.05)

    async def keep_firing() -> None:
        for wire in list(delivered.values()):
            record = read_one(wire)
            if pager.repost_due(record):
                await pager.post(record)

    keep_firing.__name__ = keep_firing.__qualname__ = f"keep_{name.replace('-', '_')}_firing"
    ctx.app.timer(interval=CHECK_INTERVAL_S)(keep_firing)
