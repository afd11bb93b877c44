"""The worker's own web routes: readiness and Alertmanager's webhook receiver.

(The Prometheus ``/metrics`` route is Faust's, fed by ``pipeline.runtime.sensors``;
the moderator console registers its routes in ``pipeline.console.views``.)
"""

from __future__ import annotations

from faust.web import Request, Response, View

from pipeline.runtime.context import PipelineContext
from schemas.alerts import TIERS

ALERTMANAGER_STATUSES = ("firing", "resolved")


def known(value: object, allowed: tuple[str, ...]) -> str:
    """A label value from a fixed set (payloads must not create new series)."""
    return value if isinstance(value, str) and value in allowed else "other"


def register(ctx: PipelineContext) -> None:
    app = ctx.app

    @app.page("/health")
    class Health(View):
        """503 until the sinks and scorers are started and partitions are assigned."""

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
                    (known(a["labels"].get("tier"), TIERS),
                     known(a.get("status"), ALERTMANAGER_STATUSES))
                    for a in body["alerts"]
                ]
            except (ValueError, KeyError, TypeError, AttributeError):
                return self.json({"error": "not an Alertmanager webhook payload"}, status=400)
            for tier, status in counts:
                ctx.prometheus.alertmanager_notifications.labels(tier, status).inc()
            return self.json({"received": len(counts)})
