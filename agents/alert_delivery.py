"""Alert delivery agent: the alerts topic is the outbox, moderators the destination.

Consumes every Alert revision and hands it to :class:`AlertDeliverer`
(Alertmanager and the WeCom robot), in order per incident.  A record is
acknowledged only after every configured channel accepted it; the deliverer
retries with backoff meanwhile, so a channel outage delays alerts but never
loses one (at-least-once; both channels are idempotent per incident revision).
"""

from __future__ import annotations

import logging
import time

from faust.types import StreamT
from pydantic import ValidationError

from pipeline.context import PipelineContext
from pipeline.delivery import AlertDeliverer, DeliveryConfig, DeliveryHooks
from pipeline.metrics import PipelineMetrics
from pipeline.topics import SENTIMENT_ALERTS
from schemas.alerts import Alert

log = logging.getLogger(__name__)

AGENT_NAME = "alert-delivery"


def delivery_hooks(metrics: PipelineMetrics) -> DeliveryHooks:
    def delivered(channel: str, seconds: float) -> None:
        metrics.alert_deliveries.labels(channel, "delivered").inc()
        metrics.alert_delivery_duration.labels(channel).observe(seconds)

    return DeliveryHooks(
        on_attempt=lambda channel: metrics.alert_deliveries.labels(channel, "attempt").inc(),
        on_failure=lambda channel: metrics.alert_deliveries.labels(channel, "failure").inc(),
        on_delivered=delivered,
    )


def register(ctx: PipelineContext) -> AlertDeliverer:
    """Register the agent; returns the deliverer (the incident timer reposts through it)."""
    deliverer = AlertDeliverer(
        DeliveryConfig.from_settings(ctx.settings), hooks=delivery_hooks(ctx.metrics)
    )

    async def deliver_alerts(stream: StreamT) -> None:
        await deliverer.start()
        async for events in stream.take_events(ctx.settings.batch_max, 0.05):
            started = time.perf_counter()
            for event in events:
                try:
                    alert = Alert.model_validate_json(event.message.value or b"")
                except ValidationError:
                    log.error("unreadable alert record at %s/%d@%d", event.message.topic,
                              event.message.partition, event.message.offset)
                    continue
                await deliverer.deliver(alert)
            ctx.metrics.batch_duration.labels(AGENT_NAME).observe(time.perf_counter() - started)

    ctx.app.agent(ctx.topic(SENTIMENT_ALERTS), name=AGENT_NAME)(deliver_alerts)

    @ctx.app.on_before_shutdown.connect
    async def close_deliverer(sender: object, **_: object) -> None:
        await deliverer.close()

    return deliverer
