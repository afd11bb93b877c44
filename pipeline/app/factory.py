"""The Faust application of one worker, built from settings.

:func:`create_app` configures Faust, the Prometheus series and the sinks,
then registers the agents of the worker's role (:mod:`pipeline.app.roles`);
the embedded stack, tests and production differ by configuration only.
"""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from pipeline.app import web
from pipeline.app.roles import register_role, uses_clickhouse
from pipeline.app.settings import Settings
from pipeline.egress.clickhouse.client import ClickHouseSink
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.kafka_clients import faust_credentials
from pipeline.runtime.sensors import setup_prometheus_sensors
from pipeline.runtime.transport import PulseApp
from pipeline.runtime.watchdog_timer import install_watchdog


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    """A configured app with the role's agents, tables, Prometheus series and web views."""
    data_dir = settings.data_dir / settings.group_id
    data_dir.mkdir(parents=True, exist_ok=True)
    app = PulseApp(
        settings,
        settings.group_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=faust_credentials(settings),
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
    prometheus = PrometheusSeries(registry, settings.prometheus_max_communities)
    sink = None
    if uses_clickhouse(settings.worker_role):
        sink = ClickHouseSink(settings.clickhouse_url, settings.clickhouse_database, prometheus,
                              retention_days=settings.clickhouse_retention_days)
    ctx = PipelineContext(app=app, settings=settings, prometheus=prometheus, clickhouse=sink)
    register_role(ctx, settings.worker_role)
    web.register(ctx)
    install_watchdog(ctx)

    # Sinks and scorers start while the consumer joins the group and the tables
    # recover (early_starters); the task (after recovery) waits for them.
    app.early_starters.append(ctx.ensure_started)

    @app.task
    async def start_sinks() -> None:
        await ctx.ensure_started()

    @app.on_before_shutdown.connect
    async def stop_sinks(sender: faust.App, **_: object) -> None:
        await ctx.shutdown()

    return app
