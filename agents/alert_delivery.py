"""``alert-delivery``: the alerts topic is the outbox, moderators the destination.

Consumes every Alert revision and hands it to
:class:`~pipeline.egress.paging.AlertDeliverer` (Alertmanager and the WeCom
robot), in order per incident.  A record is acknowledged only after every
configured channel accepted it; the deliverer retries with backoff
meanwhile, so a channel outage delays alerts but never loses one
(at-least-once; both channels are idempotent per incident revision).
"""

from __future__ import annotations

from faust.types import EventT

from pipeline.egress.paging import AlertDeliverer, DeliveryConfig, DeliveryHooks
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.topics import SENTIMENT_ALERTS
from schemas.alerts import Alert

AGENT_NAME = "alert-delivery"
LINGER_S = 0.01
"""Alerts are few: hand each batch on quickly (the wait is part of the latency to the
moderator; 0.05 s cost ~25 ms on average in ``python -m bench.latency``)."""


def delivery_hooks(prometheus: PrometheusSeries) -> DeliveryHooks:
    def delivered(channel: str, seconds: float) -> None:
        prometheus.alert_deliveries.labels(channel, "delivered").inc()
        prometheus.alert_delivery_duration.labels(channel).observe(seconds)

    return DeliveryHooks(
        on_attempt=lambda channel: prometheus.alert_deliveries.labels(channel, "attempt").inc(),
        on_failure=lambda channel: prometheus.alert_deliveries.labels(channel, "failure").inc(),
        on_delivered=delivered,
    )


def register(ctx: PipelineContext) -> AlertDeliverer:
    """Register the agent; returns the deliverer (the escalation timer reposts through it)."""
    deliverer = AlertDeliverer(
        DeliveryConfig.from_settings(ctx.settings), hooks=delivery_hooks(ctx.prometheus)
    )
    for channel in deliverer.channels:  # 0, not "no data", on a dashboard
        for outcome in ("attempt", "delivered", "failure"):
            ctx.prometheus.alert_deliveries.labels(channel, outcome)
    ctx.starters.append(deliverer.start)
    ctx.on_shutdown.append(deliverer.close)
    read_alert = one(Alert.model_validate_json)

    async def handle(events: list[EventT]) -> None:
        for event in events:
            for alert in readable(event, read_alert):
                await deliverer.deliver(alert)

    batch_agent(ctx, ctx.topic(SENTIMENT_ALERTS), AGENT_NAME, handle, within_s=LINGER_S)
    return deliverer
