"""Alertmanager and the WeCom robot down while incidents open: every alert arrives once
they are back, each paging revision once, in order per incident.

Alertmanager is a real process (Debian's prometheus-alertmanager, the repo's config),
frozen with SIGSTOP for the outage, so requests hang until they time out; the WeCom
robot is a local endpoint that answers 503 meanwhile.  ``make test`` runs a 45-second
outage; ``make soak`` the 5-minute one.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from aiohttp import web

from pipeline.app.settings import Settings
from pipeline.compute.escalation.notify import PAGING_EVENTS
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.stack import WorkerProcess
from pipeline.devtools.threaded_server import ThreadedServer
from tests.live_alertmanager import live_alertmanager
from tests.support import EPISODES_STREAM, alert_records, latest, wait_until_committed

pytestmark = pytest.mark.integration
PAGE = re.compile(r"事件 (\S+) · 第 (\d+) 版")


class Robot:
    """A WeCom group robot that can be down (HTTP 503) or up (errcode 0, recorded)."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.pages: list[tuple[str, int]] = []
        self.refused = 0

    def app(self) -> web.Application:
        async def send(request: web.Request) -> web.Response:
            body = await request.json()
            if self.down.is_set():
                self.refused += 1
                return web.Response(status=503, text="upstream unavailable")
            incident, revision = PAGE.search(body["markdown"]["content"]).groups()
            self.pages.append((incident, int(revision)))
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", send)
        return app


@pytest.mark.parametrize("outage_s", [
    45, pytest.param(300, marks=pytest.mark.soak, id="5min")])
def test_alerts_arrive_once_in_order_after_an_outage(
    pipeline_settings: Settings, tmp_path: Path, outage_s: int
) -> None:
    stream = generate(EPISODES_STREAM)
    robot = Robot()
    server = ThreadedServer(robot.app())
    robot_url = server.start()
    try:
        with live_alertmanager(tmp_path / "alertmanager") as alertmanager:
            settings = pipeline_settings.model_copy(update={
                "alertmanager_url": alertmanager.url,
                "wecom_webhook_url": f"{robot_url}/cgi-bin/webhook/send?key=k"})
            worker = WorkerProcess(settings, tmp_path / "worker.log")
            worker.start()
            try:
                robot.down.set()
                alertmanager.process.send_signal(signal.SIGSTOP)
                started = time.monotonic()
                produce(stream.records, settings)
                time.sleep(max(0.0, outage_s - (time.monotonic() - started)))
                during = worker.prometheus_samples()
                assert robot.pages == []
                alertmanager.process.send_signal(signal.SIGCONT)
                robot.down.clear()
                wait_until_committed(settings, worker)
                with urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts",
                                            timeout=5) as response:
                    firing = json.loads(response.read())
            finally:
                worker.stop()
    finally:
        server.stop()

    records = [alert for _, alert in alert_records(settings)]
    paged = [(a.incident_id, a.revision) for a in records if a.event in PAGING_EVENTS]
    assert paged and robot.refused > 0
    assert sorted(robot.pages) == sorted(set(paged))  # each paging revision exactly once
    by_incident: dict[str, list[int]] = defaultdict(list)
    for incident, revision in robot.pages:
        by_incident[incident].append(revision)
    assert all(revisions == sorted(revisions) for revisions in by_incident.values())
    incidents = latest([(b"", a) for a in records])
    shown = {a["labels"].get("incident") for a in firing}
    assert {i for i, a in incidents.items() if a.status == "open"} <= shown
    failures = sum(v for k, v in during.items()
                   if k.startswith("pulse_alert_deliveries_total") and 'outcome="failure"' in k)
    assert failures > 0  # what PulseAlertDeliveryFailing alerts on
