"""Helpers for the console tests: sample alerts, a fixed clock, a real web server, raw HTTP.

The server is a real ``faust.App`` with only the console views registered; its
aiohttp application (what the Faust worker serves) runs in a background thread,
so no broker is needed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import faust
from aiohttp import web

from pipeline.console.access import AccessPolicy, load_access
from pipeline.console.memory import MemoryAlertReader, MemoryCommandSender
from pipeline.console.views import Console, register
from schemas.alerts import Alert, Excerpt, SlaDeadlines

TOKEN = "test-console-token-0123456789"
NOW = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)


class FakeClock:
    """A settable clock: countdowns and session expiry become exact in tests."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_alert(incident_id: str, *, tier: str = "mild", status: str = "open",
               community: str = "wx-group-1", opened_ago: timedelta = timedelta(minutes=10),
               text: str = "客服一直不回复，太差了", terms: tuple[str, ...] = ("投诉",),
               **changes: Any) -> Alert:
    """An alert as the incident agent would publish it, opened ``opened_ago`` before NOW."""
    opened = NOW - opened_ago
    alert = Alert(
        incident_id=incident_id, revision=1, event="opened", tier=tier, status=status,
        community_id=community, community_ids=[community], window_start=opened,
        window_end=opened + timedelta(minutes=5), opened_at=opened, updated_at=opened,
        reasons=["多名成员集中负面 negative cluster", f"关键词 terms: {', '.join(terms)}"],
        matched_terms=list(terms), negative_messages=6, members=4, min_score=0.02,
        mean_score=0.11, heat=9,
        excerpts=[Excerpt(message_id=f"{incident_id}-m1", member_ref="m#a1b2c3", ts=opened,
                          text=text, score=0.02, terms=list(terms))],
        sla=SlaDeadlines(
            respond_by=opened + timedelta(hours=3), close_loop_by=opened + timedelta(hours=48),
            statement_by=opened + timedelta(hours=24) if tier == "severe" else None,
        ),
    )
    return alert.model_copy(update=changes)


def sample_alerts() -> list[Alert]:
    """One incident per tier (severe overdue to respond), plus a closed one."""
    return [
        make_alert("inc-mild", tier="mild", community="qq-fans", opened_ago=timedelta(minutes=10)),
        make_alert("inc-severe", tier="severe", community="wx-crisis",
                   opened_ago=timedelta(hours=4), terms=("食物中毒", "曝光")),
        make_alert("inc-moderate", tier="moderate", status="acknowledged", community="wecom-vip",
                   opened_ago=timedelta(hours=1), acknowledged_by="李雷",
                   acknowledged_at=NOW - timedelta(minutes=50), terms=("退款",)),
        make_alert("inc-closed", tier="moderate", status="followed_up", community="wx-done",
                   opened_ago=timedelta(hours=30), acknowledged_by="a", resolved_by="b",
                   followed_up_by="韩梅梅", acknowledged_at=NOW - timedelta(hours=29),
                   resolved_at=NOW - timedelta(hours=20), followed_up_at=NOW - timedelta(hours=2),
                   updated_at=NOW - timedelta(hours=2)),
    ]


@dataclass
class RunningConsole:
    """A console served on 127.0.0.1 with in-memory read model and sender."""

    url: str
    store: MemoryAlertReader
    sender: MemoryCommandSender
    console: Console
    clock: FakeClock
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _runner: web.AppRunner = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def serve(app_id: str, token: str | None = TOKEN, *, apply: bool = True,
          public_url: str = "http://127.0.0.1:6066", sender: MemoryCommandSender | None = None,
          access: AccessPolicy | None = None) -> RunningConsole:
    """Register the console on a fresh Faust app and serve its web app in a thread.

    ``access`` replaces the accounts; by default ``token`` is the shared admin token.
    """
    store = MemoryAlertReader(sample_alerts())
    sender = sender or MemoryCommandSender(store, apply=apply)
    clock = FakeClock()
    app = faust.App(app_id, broker="kafka://127.0.0.1:9", web_enabled=True)
    access = access if access is not None else load_access(None, token, {})
    console = register(app, store, sender, access, public_url, clock=clock)
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def start() -> None:
        runner = web.AppRunner(await app.web.wsgi())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        ready["runner"], ready["port"] = runner, runner.addresses[0][1]

    def run() -> None:
        try:
            loop.run_until_complete(start())
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name=f"console-{app_id}", daemon=True)
    thread.start()
    if not started.wait(20) or "port" not in ready:
        raise RuntimeError("console web server did not start")
    return RunningConsole(f"http://127.0.0.1:{ready['port']}", store, sender, console, clock,
                          loop, ready["runner"], thread)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    def cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        for header in self.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return jar


def request(method: str, url: str, *, headers: dict[str, str] | None = None,
            form: dict[str, str] | None = None, body: Any = None,
            cookies: dict[str, str] | None = None) -> Reply:
    """One HTTP request, redirects not followed (the tests check them)."""
    parts = urlsplit(url)
    sent = dict(headers or {})
    data: bytes | None = None
    if form is not None:
        data = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        connection.close()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


LI_TOKEN = "li-lei-token-0123456789abcdef"
HAN_TOKEN = "han-meimei-token-0123456789abc"
LEAD_TOKEN = "ops-lead-token-0123456789abcdef"
ENV = {"PULSE_CONSOLE_TOKEN_LI": LI_TOKEN, "PULSE_CONSOLE_TOKEN_HAN": HAN_TOKEN,
       "PULSE_CONSOLE_TOKEN_LEAD": LEAD_TOKEN}
ACCESS_FILE = """
[groups]
fans = ["qq-*"]
vip = ["wecom-vip"]
crisis = ["wx-crisis"]

[accounts.li-lei]
groups = ["fans", "vip"]
token_env = "PULSE_CONSOLE_TOKEN_LI"

[accounts."han.meimei"]
groups = ["crisis"]
communities = ["wx-done"]
token_env = "PULSE_CONSOLE_TOKEN_HAN"

[accounts.ops-lead]
role = "admin"
token_env = "PULSE_CONSOLE_TOKEN_LEAD"
"""
"""Moderators li-lei (qq-*, wecom-vip) and han.meimei (wx-crisis, wx-done), an admin."""


def graded_policy(directory: Path) -> AccessPolicy:
    """The accounts of ``ACCESS_FILE`` plus the shared admin token."""
    path = directory / "access.toml"
    path.write_text(ACCESS_FILE)
    return load_access(path, TOKEN, ENV)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
