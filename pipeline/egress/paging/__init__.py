"""Alert delivery to moderators: Alertmanager (routing, grouping, inhibition,
silences) and a WeCom group robot, at least once, retried until accepted."""

from pipeline.egress.paging.alertmanager import (
    ALERTNAME,
    REPOST_INTERVAL,
    RESEND_HORIZON,
    AlertmanagerClient,
    AlertmanagerError,
    repost_due,
    to_alertmanager,
)
from pipeline.egress.paging.deliverer import (
    ALERTMANAGER,
    WECOM,
    AlertDeliverer,
    Backoff,
    DeliveryConfig,
    DeliveryHooks,
)
from pipeline.egress.paging.wecom import WeComClient, WeComError, render_markdown

__all__ = [
    "ALERTMANAGER",
    "ALERTNAME",
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
