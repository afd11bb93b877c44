"""The Faust application: one worker process hosts every agent.

Built by :func:`create_app` from :class:`~pipeline.settings.Settings`, so the
embedded stack, tests and production differ by configuration only.
"""

from __future__ import annotations

import logging
import ssl

import faust
from faust.web import Request, Response, View
from prometheus_client import CollectorRegistry

from agents import alert_delivery, chat, ingest, sentiment, sentiment_store
from pipeline.console.views import register as register_console
from pipeline.context import PipelineContext
from pipeline.faust_sensors import setup_prometheus_sensors
from pipeline.faust_transport import PulseApp
from pipeline.metrics import PipelineMetrics
from pipeline.settings import Settings
from pipeline.sinks.alerts import ClickHouseAlertReader, KafkaCommandSender
from pipeline.sinks.clickhouse import ClickHouseSink
from pipeline.topics import INCIDENT_COMMANDS
from schemas.alerts import TIERS

log = logging.getLogger(__name__)


def _broker_credentials(settings: Settings) -> faust.auth.Credentials | None:
    protocol = settings.kafka_security_protocol
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=password.get_secret_value() if password else "",
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    """A configured app with all agents, tables, metrics and web views registered."""
    data_dir = settings.data_dir / settings.group_id
    data_dir.mkdir(parents=True, exist_ok=True)
    brokers = [f"kafka://{server}" for server in settings.bootstrap_servers]
    app = PulseApp(
        settings,
        settings.group_id,
        broker=brokers,
        broker_credentials=_broker_credentials(settings),
        store=settings.store,
        datadir=str(data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        table_cleanup_interval=60.0,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        producer_acks=-1,
        producer_linger_ms=5,
        stream_buffer_maxsize=settings.batch_max * 2,
    )
    registry = registry if registry is not None else CollectorRegistry()
    setup_prometheus_sensors(app, registry)
    metrics = PipelineMetrics(registry, settings.prometheus_max_communities)
    role = settings.worker_role
    sink = None
    if role != "alerts":
        sink = ClickHouseSink(settings.clickhouse_url, settings.clickhouse_database, metrics)
    ctx = PipelineContext(app=app, settings=settings, metrics=metrics, clickhouse=sink)
    if role in ("all", "alerts"):
        deliverer = alert_delivery.register(ctx)
        sentiment.register(ctx, deliverer)
    if role in ("all", "metrics"):
        chat.register(ctx)
        ingest.register(ctx)
        sentiment_store.register(ctx)
        _register_console(ctx)
    _register_lifecycle(ctx)
    return app


def _register_console(ctx: PipelineContext) -> None:
    """Moderator console: reads incidents from ClickHouse, acts through commands."""
    token = ctx.settings.console_token
    register_console(
        ctx.app,
        ClickHouseAlertReader(ctx.clickhouse),
        KafkaCommandSender(ctx.topic(INCIDENT_COMMANDS)),
        token.get_secret_value() if token else None,
        ctx.settings.public_url,
    )


ALERTMANAGER_STATUSES = ("firing", "resolved")


def _known(value: object, allowed: tuple[str, ...]) -> str:
    """A label value from a fixed set (payloads must not create new series)."""
    return value if isinstance(value, str) and value in allowed else "other"


def _register_lifecycle(ctx: PipelineContext) -> None:
    app = ctx.app

    @app.task
    async def start_sinks() -> None:
        await ctx.ensure_started()

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            assigned = len(app.consumer.assignment()) if app.consumer else 0
            ready = ctx.sinks_started and assigned > 0 and not app.rebalancing
            body = {"status": "ok" if ready else "starting", "assigned_partitions": assigned,
                    "sinks_started": ctx.sinks_started, "rebalancing": app.rebalancing}
            return self.json(body, status=200 if ready else 503)

    @app.page("/alerts/alertmanager")
    class AlertmanagerWebhook(View):
        """Receiver of Alertmanager's ``pulse-worker`` route (deploy/alertmanager).

        The worker owns the incident lifecycle itself; what comes back here is
        counted by tier and status, so a routing or delivery break shows up.
        """

        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                counts = [
                    (_known(a["labels"].get("tier"), TIERS),
                     _known(a.get("status"), ALERTMANAGER_STATUSES))
                    for a in body["alerts"]
                ]
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.json({"error": "not an Alertmanager webhook payload"}, status=400)
            for tier, status in counts:
                ctx.metrics.alertmanager_notifications.labels(tier, status).inc()
            return self.json({"received": len(counts)})

    @app.on_before_shutdown.connect
    async def close_sinks(sender: faust.App, **_: object) -> None:
        if ctx.clickhouse is not None:
            await ctx.clickhouse.close()
