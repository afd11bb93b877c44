"""The worker's own web routes: readiness and Alertmanager's webhook receiver.

(The Prometheus ``/metrics`` route is Faust's, fed by ``pipeline.runtime.sensors``;
the moderator console registers its routes in ``pipeline.console.views``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.web import Request, Response, View

from pipeline.runtime.context import PipelineContext
from pipeline.runtime.watchdog import Stall
from schemas.alerts import TIERS

ALERTMANAGER_STATUSES = ("firing", "resolved")


def known(value: object, allowed: tuple[str, ...]) -> str:
    """A label value from a fixed set (payloads must not create new series)."""
    return value if isinstance(value, str) and value in allowed else "other"


def health(assigned: int, sinks_started: bool, rebalancing: bool,
           stalls: Sequence[Stall]) -> tuple[dict[str, Any], int]:
    """``/health``'s body and status: 503 while starting, and whenever a partition has
    stopped committing (:mod:`pipeline.runtime.watchdog`), so a silent stall is seen."""
    ready = sinks_started and assigned > 0 and not rebalancing
    status = "stalled" if stalls else "ok" if ready else "starting"
    body = {"status": status, "assigned_partitions": assigned, "sinks_started": sinks_started,
            "rebalancing": rebalancing,
            "stalled_partitions": [{"topic": s.topic, "partition": s.partition,
                                    "seconds": round(s.seconds, 1)} for s in stalls]}
    return body, 200 if status == "ok" else 503


def register(ctx: PipelineContext) -> None:
    app = ctx.app

    @app.page("/health")
    class Health(View):
        """503 until the sinks and scorers are started and partitions are assigned, and
        while a partition is stalled (see :func:`health`)."""

        async def get(self, request: Request) -> Response:
            assigned = len(app.consumer.assignment()) if app.consumer else 0
            stalls = ctx.commit_watchdog.last.stalled if ctx.commit_watchdog else ()
            body, status = health(assigned, ctx.sinks_started, app.rebalancing, stalls)
            return self.json(body, status=status)

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
                    (known(a["labels"].get("tier"), TIERS),
                     known(a.get("status"), ALERTMANAGER_STATUSES))
                    for a in body["alerts"]
                ]
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.json({"error": "not an Alertmanager webhook payload"}, status=400)
            for tier, status in counts:
                ctx.prometheus.alertmanager_notifications.labels(tier, status).inc()
            return self.json({"received": len(counts)})
