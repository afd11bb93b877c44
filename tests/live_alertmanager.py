"""A real Alertmanager (Debian's prometheus-alertmanager) running the repo's config,
with its receivers (worker webhook, WeCom API) pointed at a local recorder."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from pipeline.devtools.threaded_server import ThreadedServer
from pipeline.devtools.up import alertmanager_config, alertmanager_monitor
from tests.deploy.deploy_support import tool
from tests.pipeline.egress.paging.delivery_support import Recorder


@dataclass
class LiveAlertmanager:
    url: str
    received: Recorder
    receivers_url: str = ""
    """Base URL of the fake receivers (also usable as a WeCom robot endpoint)."""
    process: subprocess.Popen[bytes] | None = None
    """The Alertmanager process (fault tests stop and continue it)."""


def fake_receivers(recorder: Recorder) -> web.Application:
    """The worker's webhook and WeCom's API (token, message/send), all answering OK."""

    async def handle(request: web.Request) -> web.Response:
        await recorder.record(request)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": "t"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def local_config(receivers_url: str, directory: Path) -> Path:
    """The repo's alertmanager.yml, with its receivers pointed at the local fakes."""
    return alertmanager_config(receivers_url, directory, wechat_api_url=f"{receivers_url}/cgi-bin/")


@contextmanager
def live_alertmanager(directory: Path) -> Iterator[LiveAlertmanager]:
    """Start Alertmanager and the fake receivers; stop both afterwards."""
    binary = tool("prometheus-alertmanager")
    recorder = Recorder()
    receivers = ThreadedServer(fake_receivers(recorder))
    receivers_url = receivers.start()
    config = local_config(receivers_url, directory / "config")
    alertmanager = alertmanager_monitor(config, directory / "data",
                                        directory / "alertmanager.log", binary)
    try:
        alertmanager.start()
        yield LiveAlertmanager(alertmanager.url, recorder, receivers_url, alertmanager.process)
    finally:
        if alertmanager.process is not None:
            alertmanager.process.send_signal(signal.SIGCONT)  # if a test left it stopped
        alertmanager.stop()
        receivers.stop()
