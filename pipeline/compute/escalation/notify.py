"""Which alert records page moderators, and the short text a page carries.

Paging (Alertmanager, WeCom) is for changes someone must act on: a new
incident, a higher tier, an escalation, and a resolution (so the team knows the
loop moved).  Routine changes (more negatives, acknowledgement, follow-up)
only update the alert records and the console.
"""

from __future__ import annotations

from schemas.alerts import TIER_NAMES_ZH, Alert, AlertEvent

PAGING_EVENTS: frozenset[AlertEvent] = frozenset({"opened", "upgraded", "escalated", "resolved"})
EVENT_NAMES_ZH: dict[str, str] = {
    "opened": "新事件", "upgraded": "升级", "updated": "更新", "acknowledged": "已受理",
    "escalated": "超时升级", "resolved": "已解决", "followed_up": "已回访",
}


def should_page(alert: Alert) -> bool:
    """True when the record must reach moderators now, False for console-only updates."""
    return alert.event in PAGING_EVENTS


def summary(alert: Alert) -> str:
    """A page's text: tier, place, counts, reasons, terms, one excerpt, deadlines."""
    where = alert.community_id
    if len(alert.community_ids) > 1:
        where += f" 等 {len(alert.community_ids)} 个社群 / {len(alert.community_ids)} communities"
    lines = [
        f"【{TIER_NAMES_ZH[alert.tier]} {alert.tier}】{EVENT_NAMES_ZH[alert.event]} "
        f"{alert.event} · {where}",
        f"负面 {alert.negative_messages} 条 / {alert.members} 人，最低分 {alert.min_score:.2f}，"
        f"热度 {alert.heat}",
    ]
    if alert.reasons:
        lines.append("原因 / why: " + "；".join(alert.reasons[:3]))
    if alert.matched_terms:
        lines.append("关键词 / terms: " + ", ".join(alert.matched_terms[:8]))
    if alert.excerpts:
        lines.append(f"摘录 / excerpt: {alert.excerpts[-1].text}")
    deadlines = f"响应 / respond by {alert.sla.respond_by:%m-%d %H:%M} UTC"
    if alert.sla.statement_by is not None:
        deadlines += f"，声明 / statement by {alert.sla.statement_by:%m-%d %H:%M} UTC"
    lines.append(deadlines)
    lines.append(f"事件 / incident {alert.incident_id} r{alert.revision}")
    return "\n".join(lines)
