"""Where alert latency ends for a moderator: Alertmanager has the alert, the WeCom robot
has the page.

The alert worker's two channels point at a :class:`DeliveryRecorder`: it forwards every
Alertmanager API call to a real Alertmanager (Debian's, the repo's config) and answers
as the WeCom group robot, noting the wall-clock time at which each incident revision
first arrived at each.  Alertmanager's own answer goes back to the worker, so a refusal
is still a refusal; the forwarding costs a local round trip, counted in the latency.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from pipeline.devtools.threaded_server import ThreadedServer
from pipeline.devtools.up import ALERTMANAGER, alertmanager_config, alertmanager_monitor
from pipeline.egress.paging.alertmanager import ALERTNAME

WECOM_PATH = "/cgi-bin/webhook/send"
WECOM_REVISION = re.compile(r"事件 (\S+) · 第 (\d+) 版")
"""How a WeCom page names its incident and revision (pipeline/egress/paging/wecom.py)."""

Arrival = tuple[str, str, int]
"""(channel, incident id, revision)."""


@dataclass
class DeliveryRecorder:
    """First arrival time of every (channel, incident, revision) at the two endpoints."""

    alertmanager_url: str
    arrivals: dict[Arrival, float] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None

    def _note(self, channel: str, incident: str, revision: int, at: float) -> None:
        self.arrivals.setdefault((channel, incident, revision), at)

    async def wecom(self, request: web.Request) -> web.Response:
        at = time.time()
        body = await request.json()
        content = body.get("markdown", {}).get("content", "")
        for incident, revision in WECOM_REVISION.findall(content):
            self._note("wecom", incident, int(revision), at)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def alertmanager(self, request: web.Request) -> web.Response:
        """Forward to Alertmanager; note the alerts of a POST when it arrived."""
        at = time.time()
        raw = await request.read()
        if request.method == "POST" and request.path == "/api/v2/alerts":
            for alert in await request.json():
                labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
                if labels.get("alertname") == ALERTNAME and "revision" in annotations:
                    self._note("alertmanager", labels["incident"], int(annotations["revision"]),
                               at)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(
            request.method, f"{self.alertmanager_url}{request.path_qs}", data=raw or None,
            headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
        ) as answer:
            return web.Response(body=await answer.read(), status=answer.status,
                                content_type=answer.content_type)

    async def receivers(self, request: web.Request) -> web.Response:
        """Alertmanager's own notifications (worker webhook, WeCom API): accepted."""
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": "t"})

    async def close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(WECOM_PATH, self.wecom)
        app.router.add_route("*", "/api/v2/{tail:.*}", self.alertmanager)
        app.router.add_route("*", "/{tail:.*}", self.receivers)
        app.on_cleanup.append(self.close)
        return app


@dataclass
class DeliveryEndpoints:
    """What the alert worker's settings point at: the recorder, as both channels."""

    alertmanager_url: str
    wecom_webhook_url: str
    recorder: DeliveryRecorder


@contextmanager
def recorded_delivery(directory: Path) -> Iterator[DeliveryEndpoints]:
    """A real Alertmanager behind a recorder; both stopped afterwards."""
    binary = shutil.which(ALERTMANAGER)
    if binary is None:
        raise RuntimeError(f"{ALERTMANAGER} not installed (make system-deps)")
    recorder = DeliveryRecorder("")
    server = ThreadedServer(recorder.app())
    url = server.start()
    config = alertmanager_config(url, directory / "config", wechat_api_url=f"{url}/cgi-bin/")
    alertmanager = alertmanager_monitor(config, directory / "data",
                                        directory / "alertmanager.log", binary)
    try:
        alertmanager.start()
        recorder.alertmanager_url = alertmanager.url
        yield DeliveryEndpoints(url, f"{url}{WECOM_PATH}?key=bench", recorder)
    finally:
        alertmanager.stop()
        server.stop()
