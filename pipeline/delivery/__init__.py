"""Alert delivery to moderators: Alertmanager (routing, grouping, inhibition,
silences) and a WeCom group robot, at least once, retried until accepted."""

from pipeline.delivery.alertmanager import (
    ALERTNAME,
    REPOST_INTERVAL,
    RESEND_HORIZON,
    AlertmanagerClient,
    AlertmanagerError,
    repost_due,
    to_alertmanager,
)
from pipeline.delivery.deliverer import (
    ALERTMANAGER,
    PAGING_EVENTS,
    WECOM,
    AlertDeliverer,
    Backoff,
    DeliveryConfig,
    DeliveryHooks,
)
from pipeline.delivery.wecom import WeComClient, WeComError, render_markdown

__all__ = [
    "ALERTMANAGER",
    "ALERTNAME",
    "PAGING_EVENTS",
    "REPOST_INTERVAL",
    "RESEND_HORIZON",
    "WECOM",
    "AlertDeliverer",
    "AlertmanagerClient",
    "AlertmanagerError",
    "Backoff",
    "DeliveryConfig",
    "DeliveryHooks",
    "WeComClient",
    "WeComError",
    "render_markdown",
    "repost_due",
    "to_alertmanager",
]
