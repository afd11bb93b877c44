"""WeCom group robot (企业微信群机器人): one markdown message per paging event.

The robot answers HTTP 200 even when it refuses a message; the verdict is the
body's ``errcode`` (0 = sent, 45009 = rate limited, ...), so anything else is
a failure for the deliverer to retry.  Markdown content is limited to 4096
bytes of UTF-8: the excerpts give way, never the deadlines or the link.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from pipeline.egress.paging.content import (
    EVENT_NAMES_ZH,
    STATUS_NAMES_ZH,
    beijing_time,
    console_url,
    joined,
    safe_excerpt,
    tier_zh,
    truncate,
    truncate_bytes,
)
from schemas.alerts import Alert

MAX_MARKDOWN_BYTES = 4096
MAX_EXCERPTS = 3
EXCERPT_CHARS = 150
MIN_EXCERPT_BYTES = 48
"""Below this an excerpt says nothing useful: drop it rather than show a stub."""

TIER_COLOURS: dict[str, str] = {"mild": "comment", "moderate": "warning", "severe": "warning"}
"""WeCom markdown knows three font colours: info (green), comment (grey), warning (red)."""
TIER_DUTIES: dict[str, str] = {
    "mild": "客服直接处理",
    "moderate": "需跨部门协同",
    "severe": "启动危机公关预案，上报管理层",
}


def _what_happened(alert: Alert) -> str:
    event = EVENT_NAMES_ZH.get(alert.event, alert.event)
    if alert.event == "escalated":
        return f"{event}：超过处理时限未闭环（第 {alert.escalations} 次升级）"
    if alert.event == "upgraded":
        return f"{event}：级别升至{tier_zh(alert.tier)}"
    return event


def _head(alert: Alert) -> list[str]:
    tier = tier_zh(alert.tier)
    if alert.event == "resolved":
        title = f'## <font color="info">【已解决】{tier}社群负面舆情</font>'
    else:
        colour = TIER_COLOURS.get(alert.tier, "warning")
        event = EVENT_NAMES_ZH.get(alert.event, alert.event)
        title = f'## <font color="{colour}">【{tier}】社群负面舆情 · {event}</font>'
    communities = truncate(alert.community_id, 64)
    others = [truncate(c, 64) for c in alert.community_ids if c != alert.community_id]
    if others:
        communities += f"（扩散至 {joined(others, 10)}）"
    lines = [
        title,
        f'**级别**：<font color="{TIER_COLOURS.get(alert.tier, "warning")}">{tier}</font>'
        f"（{alert.tier}，{TIER_DUTIES.get(alert.tier, '')}）",
        f"**社群**：{communities}",
        f"**事件**：{_what_happened(alert)}",
        f"**状态**：{STATUS_NAMES_ZH.get(alert.status, alert.status)}",
        f"**概况**：负面消息 {alert.negative_messages} 条 · 涉及成员 {alert.members} 人 · "
        f"最低分 {alert.min_score:.2f} · 平均分 {alert.mean_score:.2f} · 热度 {alert.heat}",
    ]
    if alert.matched_terms:
        terms = [truncate(t, 20) for t in alert.matched_terms]
        lines.append(f'**关键词**：<font color="warning">{joined(terms, 15)}</font>')
    if alert.reasons:
        lines.append("**原因**：" + "；".join(truncate(r, 80) for r in alert.reasons[:3]))
    if alert.resolved_at is not None:
        lines.append(f"**解决时间**：{beijing_time(alert.resolved_at)}")
    return lines


def _tail(alert: Alert, public_url: str) -> list[str]:
    sla = alert.sla
    lines = [
        "**处理时限**（北京时间）：",
        f"> 回应 respond by：{beijing_time(sla.respond_by)}",
        f"> 闭环 close loop by（受理→解决→回访）：{beijing_time(sla.close_loop_by)}",
    ]
    if sla.statement_by is not None:
        lines.append(f"> 官方声明 statement by：{beijing_time(sla.statement_by)}")
    lines += [
        f"[打开处理台 Open console]({console_url(public_url, alert.incident_id)})",
        f'<font color="comment">事件 {alert.incident_id} · 第 {alert.revision} 版 '
        f"(r{alert.revision})</font>",
    ]
    return lines


def _excerpt_lines(alert: Alert, budget: int) -> list[str]:
    """Up to three excerpts sharing ``budget`` bytes; later ones drop first."""
    chosen = alert.excerpts[:MAX_EXCERPTS]
    header = "**摘录**（已脱敏）："
    budget -= len(header.encode()) + 1
    lines: list[str] = []
    for index, excerpt in enumerate(chosen):
        share = budget // (len(chosen) - index)
        frame = f"> 「」（{excerpt.score:.2f}）"
        room = share - len(frame.encode()) - 1
        if room < MIN_EXCERPT_BYTES:
            break
        text = truncate_bytes(safe_excerpt(excerpt, EXCERPT_CHARS), room)
        line = f"> 「{text}」（{excerpt.score:.2f}）"
        lines.append(line)
        budget -= len(line.encode()) + 1
    return [header, *lines] if lines else []


def render_markdown(alert: Alert, public_url: str, max_bytes: int = MAX_MARKDOWN_BYTES) -> str:
    """The robot message: Chinese first, masked excerpts, no member identities."""
    head, tail = _head(alert), _tail(alert, public_url)
    fixed = len("\n".join(head + tail).encode()) + 1
    excerpts = _excerpt_lines(alert, max_bytes - fixed)
    return truncate_bytes("\n".join(head + excerpts + tail), max_bytes)


class WeComError(Exception):
    """The robot refused the message (HTTP status or non-zero errcode)."""

    def __init__(self, reason: str, errcode: int | None = None) -> None:
        super().__init__(reason)
        self.errcode = errcode


class WeComClient:
    """Posts to one robot webhook; the URL holds the robot key, so it is never logged."""

    def __init__(self, webhook_url: str, session: aiohttp.ClientSession) -> None:
        self._url = webhook_url
        self._session = session

    async def send_markdown(self, content: str) -> None:
        body = {"msgtype": "markdown", "markdown": {"content": content}}
        async with self._session.post(self._url, json=body) as resp:
            if resp.status != 200:
                raise WeComError(f"HTTP {resp.status}")
            try:
                answer: Any = await resp.json(content_type=None)
            except ValueError as exc:
                raise WeComError("response is not JSON") from exc
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            errmsg = str(answer.get("errmsg", "")) if isinstance(answer, dict) else ""
            raise WeComError(f"errcode {errcode}: {truncate(errmsg, 200)}", errcode)

    async def send_alert(self, alert: Alert, public_url: str) -> None:
        await self.send_markdown(render_markdown(alert, public_url))
