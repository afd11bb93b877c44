"""Campaign conversion alerts as Alertmanager alerts, on the campaign operations route.

Label set ``alertname=CampaignConversionLow, campaign, transition, alert``
identifies one alert, so re-posting is idempotent;
``deploy/alertmanager/alertmanager.yml`` routes it to campaign operations.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline.egress.paging.alertmanager import RESEND_HORIZON
from pipeline.egress.paging.content import beijing_time, iso_utc
from schemas.campaigns import ConversionAlert

ALERTNAME = "CampaignConversionLow"


def conversion_labels(alert: ConversionAlert) -> dict[str, str]:
    return {"alertname": ALERTNAME, "campaign": alert.campaign_id,
            "transition": f"{alert.from_step}->{alert.to_step}", "severity": "warning",
            "alert": alert.alert_id}


def conversion_to_alertmanager(alert: ConversionAlert, now: datetime,
                               horizon: timedelta = RESEND_HORIZON) -> dict[str, Any]:
    starts = min(alert.opened_at, now)
    ends = now if alert.status == "resolved" else now + horizon
    name = alert.campaign_name or alert.campaign_id
    return {
        "labels": conversion_labels(alert),
        "annotations": {
            "summary": (f"campaign {name}: {alert.from_step} -> {alert.to_step} converts "
                        f"{alert.rate:.0%} ({alert.converted}/{alert.entered}), target "
                        f"{alert.threshold:.0%}"),
            "summary_zh": (f"活动「{name}」{alert.from_step} → {alert.to_step} 转化率 "
                           f"{alert.rate:.0%}（{alert.converted}/{alert.entered}），"
                           f"低于目标 {alert.threshold:.0%}"),
            "opened_zh": f"{beijing_time(alert.opened_at)} 起（北京时间，事件时间）",
            "status": alert.status,
        },
        "startsAt": iso_utc(starts),
        "endsAt": iso_utc(max(ends, starts)),
    }
