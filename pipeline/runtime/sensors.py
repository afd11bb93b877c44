"""Faust's Prometheus sensor, minus its per-record bookkeeping.

Faust calls four sensor hooks for every record (in, stream in, stream out,
out); its Prometheus sensor does a dozen counter, gauge and histogram
updates there, about a fifth of an alert worker's time.  Our agents count
per batch instead (``pulse_events_*_total``), so :class:`LeanPrometheusMonitor`
keeps every other Faust metric (commits, end offsets, producer, tables,
rebalances, web) and removes the per-record series from the registry, so
that nothing exported stays at zero.  End offsets, reported with every
record, are exported when ``/metrics`` is scraped.
"""

from __future__ import annotations

from typing import Any

import faust
from aiohttp.web import Response
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, EventT, StreamT
from faust.web import Request, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

PER_RECORD_METRICS = (
    "messages_received", "active_messages", "messages_received_per_topics",
    "messages_received_per_topics_partition", "events_runtime_latency", "total_events",
    "total_active_events", "total_events_per_stream",
)


class LeanPrometheusMonitor(PrometheusMonitor):
    """Keeps the read offset per partition; no per-record metrics or timings."""

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        self.tp_read_offsets[tp] = offset

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict | None:
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        return None

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        """Called for every record read: remembered here, exported when scraped."""
        self.tp_end_offsets[tp] = offset

    def export_end_offsets(self) -> None:
        gauge = self._metrics.topic_partition_end_offset
        for tp, offset in list(self.tp_end_offsets.items()):
            gauge.labels(topic=tp.topic, partition=tp.partition).set(offset)


def setup_prometheus_sensors(
    app: faust.App, registry: CollectorRegistry, name_prefix: str = "faust"
) -> None:
    """Install the lean sensor and serve ``registry`` on ``/metrics``."""
    metrics = FaustMetrics.create(registry, name_prefix)
    for name in PER_RECORD_METRICS:
        registry.unregister(getattr(metrics, name))
    monitor = LeanPrometheusMonitor(metrics=metrics)
    app.monitor = monitor

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            monitor.export_end_offsets()
            return Response(  # type: ignore[return-value]  (what Faust's own sensor does)
                body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )
