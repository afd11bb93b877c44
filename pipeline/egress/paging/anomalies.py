"""Community anomalies as Alertmanager alerts, on their own route.

Label set ``alertname=CommunityAnomaly, community, metric, anomaly`` (plus
``severity``, which only ever rises) identifies one anomaly, so re-posting is
idempotent.  Like incidents, an open anomaly is posted with ``endsAt`` an
hour ahead and re-posted every 15 minutes; a resolved one gets ``endsAt``
now (:class:`~pipeline.egress.paging.record_pager.RecordPager`).
``deploy/alertmanager/alertmanager.yml`` routes ``CommunityAnomaly`` to community
operations.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline.egress.paging.alertmanager import RESEND_HORIZON
from pipeline.egress.paging.content import beijing_time, iso_utc
from schemas.outputs import CommunityAnomaly

ALERTNAME = "CommunityAnomaly"
METRIC_ZH = {"active_members": "活跃成员", "messages": "消息量", "leaves": "退群人数",
             "joins": "入群人数", "negative_share": "负面消息占比"}
DIRECTION_ZH = {"drop": "骤降", "spike": "激增"}


def anomaly_labels(anomaly: CommunityAnomaly) -> dict[str, str]:
    return {"alertname": ALERTNAME, "community": anomaly.community_id,
            "metric": anomaly.metric, "severity": anomaly.severity,
            "anomaly": anomaly.anomaly_id}


def anomaly_to_alertmanager(anomaly: CommunityAnomaly, now: datetime,
                            horizon: timedelta = RESEND_HORIZON) -> dict[str, Any]:
    starts = min(anomaly.window_start, now)
    ends = now if anomaly.status == "resolved" else now + horizon
    metric = METRIC_ZH.get(anomaly.metric, anomaly.metric)
    move = DIRECTION_ZH[anomaly.direction]
    return {
        "labels": anomaly_labels(anomaly),
        "annotations": {
            "summary": (f"{anomaly.metric} {anomaly.direction} in community "
                        f"{anomaly.community_id}: {anomaly.observed:g} against "
                        f"{anomaly.expected:g} expected (deviation {anomaly.deviation:+.1f})"),
            "summary_zh": (f"社群 {anomaly.community_id} {metric}{move}："
                           f"实际 {anomaly.observed:g}，预期 {anomaly.expected:g}"
                           f"（偏离 {anomaly.deviation:+.1f}）"),
            "window_zh": f"{beijing_time(anomaly.window_start)} 起（北京时间）",
            "status": anomaly.status,
            "window_start": iso_utc(anomaly.window_start),
            "window_end": iso_utc(anomaly.window_end),
        },
        "startsAt": iso_utc(starts),
        "endsAt": iso_utc(max(ends, starts)),
    }
