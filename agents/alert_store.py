"""``alert-store``: every Alert revision into ClickHouse ``sentiment_alerts``.

The incident timeline the console and dashboards read (an incident's state is
its highest revision).  A row is identified by (incident, revision), and the
insert's token by the revisions it holds, so a replay folds.
"""

from __future__ import annotations

from faust.types import EventT

from pipeline.egress.clickhouse.tables import SENTIMENT_ALERTS, alerts_identity
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.topics import SENTIMENT_ALERTS as ALERTS_TOPIC
from schemas.alerts import Alert

AGENT_NAME = "alert-store"


def register(ctx: PipelineContext) -> None:
    read_alert = one(Alert.model_validate_json)

    async def handle(events: list[EventT]) -> None:
        alerts = [a for event in events for a in readable(event, read_alert)]
        await SENTIMENT_ALERTS.write(ctx.clickhouse, alerts, alerts_identity(alerts))

    batch_agent(ctx, ctx.topic(ALERTS_TOPIC), AGENT_NAME, handle)
