"""``pulse up``: the stack for your own producers, in the foreground, until Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.topics import CHAT_MESSAGES

pytestmark = pytest.mark.integration
TS = "2026-11-02T10:00:00+08:00"


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def until(probe, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen within {timeout:.0f}s")


def port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_pulse_up_serves_your_events_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    directory = tmp_path / "up"
    process = subprocess.Popen(
        [sys.executable, "-c", "from pipeline.cli import main; main()", "up",
         "--directory", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        endpoints = until(lambda: (directory / "endpoints.json").exists() and json.loads(
            (directory / "endpoints.json").read_text()), "endpoints.json", 180)
        assert {"kafka_bootstrap", "console", "metrics", "clickhouse", "prometheus",
                "alertmanager"} <= set(endpoints)
        with_cookies = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with with_cookies.open(endpoints["console"], timeout=5) as page:  # token -> cookie
            assert page.status == 200 and "待处理告警" in page.read().decode()
        events = tmp_path / "mine.jsonl"
        events.write_text("\n".join(json.dumps(
            {"message_id": f"m{i}", "community_id": "c1", "member_id": f"u{i % 3}",
             "text": "今天的活动几点开始", "ts": TS}, ensure_ascii=False) for i in range(20)))
        done = CliRunner().invoke(app, ["replay", str(events)],
                                  env={"PULSE_KAFKA_BOOTSTRAP": endpoints["kafka_bootstrap"]})
        assert done.exit_code == 0, done.output
        series = f'pulse_events_valid_total{{topic="{CHAT_MESSAGES.name}"}} 20.0'
        until(lambda: series in get(endpoints["metrics"])[1].decode(), "20 valid messages")
        query = urllib.parse.quote('up{job="pulse-worker"}')
        scraped = until(lambda: json.loads(get(
            f"{endpoints['prometheus']}/api/v1/query?query={query}")[1])["data"]["result"],
            "Prometheus scraping the worker")
        assert scraped[0]["value"][1] == "1"
        assert get(f"{endpoints['alertmanager']}/-/ready")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "everything stopped" in output
    assert not port_open(endpoints["kafka_bootstrap"])
    assert not port_open(urllib.parse.urlparse(endpoints["metrics"]).netloc)
