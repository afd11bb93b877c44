"""Helpers of the delivery tests: Alert fixtures, local HTTP servers, polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from pipeline.compute.privacy import mask_pii
from schemas.alerts import Alert, Excerpt, SlaDeadlines

T = TypeVar("T")

OPENED = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
RAW_PHONE = "13812345678"
MEMBER_REF = "m-5f2c9a71e0"
MESSAGE_ID = "msg-000123"


def excerpt(text: str, score: float = 0.04, **overrides: Any) -> Excerpt:
    values: dict[str, Any] = {
        "message_id": MESSAGE_ID, "member_ref": MEMBER_REF, "ts": OPENED, "text": mask_pii(text),
        "score": score, "terms": ["投诉"],
    }
    return Excerpt(**{**values, **overrides})


def make_alert(**overrides: Any) -> Alert:
    """A complete Alert: every field set, excerpts masked as the incident agent does."""
    values: dict[str, Any] = {
        "schema_version": 1,
        "incident_id": "inc-1",
        "revision": 1,
        "event": "opened",
        "tier": "severe",
        "status": "open",
        "community_id": "c-1",
        "community_ids": ["c-1", "c-2"],
        "window_start": OPENED - timedelta(minutes=9),
        "window_end": OPENED,
        "opened_at": OPENED,
        "updated_at": OPENED,
        "reasons": ["多名成员集中负面 (negative cluster)", "出现危机词：曝光、食物中毒"],
        "matched_terms": ["投诉", "退款", "曝光", "食物中毒"],
        "negative_messages": 12,
        "members": 8,
        "min_score": 0.02,
        "mean_score": 0.11,
        "heat": 37,
        "excerpts": [
            excerpt(f"吃完拉肚子，我要投诉曝光！电话{RAW_PHONE}", 0.02),
            excerpt("退款到现在还没到账，再不处理就找媒体", 0.05, message_id="msg-000124"),
            excerpt("群主不回消息，是不是骗子", 0.08, message_id="msg-000125"),
            excerpt("第四条不应出现在消息里", 0.09, message_id="msg-000126"),
        ],
        "sla": SlaDeadlines(
            respond_by=OPENED + timedelta(hours=3),
            close_loop_by=OPENED + timedelta(hours=48),
            statement_by=OPENED + timedelta(hours=24),
        ),
        "escalations": 0,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_by": None,
        "resolved_at": None,
        "followed_up_by": None,
        "followed_up_at": None,
        "notes": [],
    }
    return Alert(**{**values, **overrides})


def resolved(alert: Alert, revision: int) -> Alert:
    """The same incident, resolved by a moderator."""
    at = alert.updated_at + timedelta(hours=1)
    return alert.model_copy(update={
        "revision": revision, "event": "resolved", "status": "resolved", "updated_at": at,
        "acknowledged_by": "moderator-wang", "acknowledged_at": at - timedelta(minutes=30),
        "resolved_by": "moderator-wang", "resolved_at": at,
        "notes": ["已联系顾客退款 13912345678"],
    })


@dataclass
class Recorder:
    """Requests a fake endpoint received: (method, path, query, JSON body)."""

    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [body for m, p, _, body in list(self.requests) if m == method and p == path]

    async def record(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, dict(request.query), body))
        return body


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free local port in the running loop; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str,
    timeout: float = 10.0,
) -> T:
    """Poll ``probe`` until ``accept`` holds; the timeout only bounds a failing test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)
