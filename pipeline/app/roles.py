"""Which agents each worker role runs: the one place that decides a worker's shape.

- ``alerts``: chat to incidents, spread, escalation timer, alert, anomaly and conversion
  alert delivery (latency-critical; no ClickHouse);
- ``metrics``: community activity and health, campaign funnels, sales, raw storage, the
  ClickHouse stores of the sentiment path, the moderator console;
- ``all``: both, in one process (demo, most tests).

Every role also runs ``privacy-erasures``, which erases a member from the tables of the
role's agents on request (``pulse members delete``).

Split roles are separate consumer groups, so alerts never queue behind
metrics; the topics each role consumes are declared in
``pipeline.topics.ROLE_TOPICS`` (a test checks that the agents match).
"""

from __future__ import annotations

import os

from agents import (
    alert_delivery,
    alert_store,
    campaign_funnels,
    community_activity,
    escalation_timer,
    metric_alert_delivery,
    privacy_erasures,
    raw_events,
    sales_ledgers,
    sales_totals,
    sentiment_incidents,
    sentiment_spread,
    sentiment_store,
)
from pipeline.compute.escalation.signals import member_ref
from pipeline.console.access import load_access
from pipeline.console.adapters import ClickHouseAlertReader, KafkaCommandSender
from pipeline.console.views import register as register_console
from pipeline.runtime.context import PipelineContext
from pipeline.topics import INCIDENT_COMMANDS

ROLES = ("all", "alerts", "metrics")


def uses_clickhouse(role: str) -> bool:
    return role != "alerts"


def register_alert_path(ctx: PipelineContext) -> None:
    deliverer = alert_delivery.register(ctx)
    policy = sentiment_incidents.load_policy(ctx.settings)
    tables = sentiment_incidents.register(ctx)
    sentiment_spread.register(ctx, policy)
    escalation_timer.register(ctx, tables, deliverer, policy)
    metric_alert_delivery.register(ctx)


def register_metrics_path(ctx: PipelineContext) -> None:
    policy = sentiment_incidents.load_policy(ctx.settings)  # alerts' member references
    community_activity.register(ctx, lambda member_id: member_ref(member_id, policy))
    raw_events.register(ctx)
    campaign_funnels.register(ctx)
    sales_ledgers.register(ctx)
    sales_totals.register(ctx)
    sentiment_store.register(ctx)
    alert_store.register(ctx)
    token = ctx.settings.console_token
    access = load_access(ctx.settings.console_access_file,
                         token.get_secret_value() if token else None, os.environ)
    register_console(
        ctx.app,
        ClickHouseAlertReader(ctx.clickhouse),
        KafkaCommandSender(ctx.topic(INCIDENT_COMMANDS)),
        access,
        ctx.settings.public_url,
    )


def register_role(ctx: PipelineContext, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; one of {ROLES}")
    if role in ("all", "alerts"):
        register_alert_path(ctx)
    if role in ("all", "metrics"):
        register_metrics_path(ctx)
    privacy_erasures.register(ctx)  # last: edits the tables the agents above opened
