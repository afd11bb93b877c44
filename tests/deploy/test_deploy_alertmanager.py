"""Alertmanager: amtool checks, routing per tier, the WeCom template, the config
renderer, and a live Alertmanager delivering to fake WeCom and worker endpoints."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from deploy_support import DEPLOY, assert_ok, load_yaml, run, tool

ALERTMANAGER = DEPLOY / "alertmanager"
CONFIG = ALERTMANAGER / "alertmanager.yml"
RENDER = ALERTMANAGER / "render-config.sh"
WECOM_ENV = {
    "WECOM_CORP_ID": "ww0123456789",
    "WECOM_API_SECRET": "s3cr&t|with'quote\"and\\slash",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_PARTY_MANAGEMENT": "11",
    "WECOM_PARTY_CRISIS_PR": "12",
    "WECOM_PARTY_CROSS_DEPARTMENT": "13",
    "WECOM_PARTY_CUSTOMER_SERVICE": "14",
    "WECOM_PARTY_PLATFORM": "15",
    "WECOM_PARTY_COMMUNITY_OPERATIONS": "16",
    "WECOM_PARTY_CAMPAIGN_OPERATIONS": "17",
}


def test_amtool_check_config(amtool: str) -> None:
    result = run([amtool, "check-config", str(CONFIG)])
    assert_ok(result)
    assert "1 templates" in result.stdout


@pytest.mark.parametrize(("labels", "receivers"), [
    ("tier=severe community=c1 incident=i1", "pulse-worker,management-crisis"),
    ("tier=moderate community=c1 incident=i1", "pulse-worker,cross-department"),
    ("tier=mild community=c1 incident=i1", "pulse-worker,customer-service"),
    ("team=platform alertname=PulseWorkerDown job=pulse-worker", "platform-oncall"),
    ("alertname=CommunityAnomaly community=c1 metric=messages severity=warning anomaly=a1",
     "community-operations"),
    ("alertname=Unexpected", "platform-oncall"),
    ("alertname=PulseSevereIncidentPastSla team=community tier=severe community=c1 "
     "incident=severe-past-sla sla=respond", "pulse-worker,management-crisis"),
    ("alertname=PulseCommunityPositiveShareLow team=community tier=mild community=c1 "
     "incident=positive-share-low", "pulse-worker,customer-service"),
])
def test_routing(amtool: str, labels: str, receivers: str) -> None:
    result = run([amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                  f"--verify.receivers={receivers}", *labels.split()])
    assert_ok(result)
    assert result.stdout.strip() == receivers


def test_tier_routes_group_by_community_and_incident() -> None:
    routes = load_yaml(CONFIG)["route"]["routes"]
    tiers = {route["matchers"][0]: route for route in routes if "tier" in route["matchers"][0]}
    for route in tiers.values():
        assert route["group_by"] == ["community", "incident"]
    severe = tiers['tier="severe"']
    moderate = tiers['tier="moderate"']
    assert severe["group_wait"] == "5s" and severe["repeat_interval"] == "30m"
    assert moderate["repeat_interval"] == "2h"


def test_wechat_template_renders_tier_in_chinese(amtool: str, tmp_path: Path) -> None:
    data = {
        "receiver": "management-crisis", "status": "firing", "externalURL": "http://am",
        "groupLabels": {"community": "c1", "incident": "inc-1"},
        "commonLabels": {"alertname": "NegativeCluster", "tier": "severe", "community": "c1",
                         "incident": "inc-1"},
        "commonAnnotations": {},
        "alerts": [{
            "status": "firing", "labels": {"tier": "severe"}, "fingerprint": "f",
            "annotations": {"summary": "Negative cluster", "summary_zh": "负面聚集"},
            "startsAt": "2024-05-01T02:03:04Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
        }],
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    result = run([amtool, "template", "render", "--template.glob", "templates/*.tmpl",
                  "--template.text", '{{ template "pulse.wechat.message" . }}',
                  "--template.data", str(tmp_path / "data.json")], cwd=ALERTMANAGER)
    assert_ok(result)
    assert "【告警】NegativeCluster ×1" in result.stdout
    assert "级别 Tier: 重度 (severe)" in result.stdout
    assert "负面聚集 / Negative cluster" in result.stdout
    assert "2024-05-01 02:03:04 UTC" in result.stdout


def render(out: Path, env: dict[str, str]) -> Path:
    result = run(["sh", str(RENDER), str(ALERTMANAGER), str(out)],
                 env={"PATH": os.environ["PATH"], **env})
    assert_ok(result)
    return out / "alertmanager.yml"


def test_render_fills_every_placeholder(amtool: str, tmp_path: Path) -> None:
    rendered = render(tmp_path / "am", WECOM_ENV)
    text = rendered.read_text()
    assert re.findall(r"__WECOM_[A-Z_]+__", (ALERTMANAGER / "alertmanager.yml").read_text())
    assert not re.findall(r"__WECOM_[A-Z_]+__", text)
    config = yaml.safe_load(text)
    assert config["global"]["wechat_api_secret"] == WECOM_ENV["WECOM_API_SECRET"]
    assert config["global"]["wechat_api_corp_id"] == WECOM_ENV["WECOM_CORP_ID"]
    parties = {r["name"]: [w["to_party"] for w in r.get("wechat_configs", [])]
               for r in config["receivers"]}
    assert parties["management-crisis"] == ["11", "12"]
    assert parties["customer-service"] == ["14"]
    assert rendered.stat().st_mode & 0o077 == 0, "rendered config holds a secret"
    assert_ok(run([amtool, "check-config", str(rendered)]))


def test_render_secret_from_file_and_unset_values_keep_placeholders(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file")
    rendered = render(tmp_path / "am", {"WECOM_API_SECRET_FILE": str(secret)})
    config = yaml.safe_load(rendered.read_text())
    assert config["global"]["wechat_api_secret"] == "from-a-file"
    assert config["global"]["wechat_api_corp_id"] == "__WECOM_CORP_ID__"
    assert (tmp_path / "am" / "templates" / "pulse.tmpl").is_file()


# --- live Alertmanager ---------------------------------------------------------------

class FakeEndpoints(BaseHTTPRequestHandler):
    """WeCom API (gettoken, message/send) and the worker's webhook, recording requests."""

    requests: list[tuple[str, dict[str, list[str]], Any]] = []

    def _reply(self, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _record(self, body: Any) -> str:
        url = urlsplit(self.path)
        self.requests.append((url.path, parse_qs(url.query), body))
        return url.path

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self._record(None)
        self._reply({"errcode": 0, "errmsg": "ok", "access_token": "token-1"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self._record(json.loads(self.rfile.read(length) or b"null"))
        self._reply({"errcode": 0, "errmsg": "ok"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the per-request log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def http_json(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text else None


@pytest.fixture
def endpoints() -> Iterator[tuple[str, list[tuple[str, dict[str, list[str]], Any]]]]:
    FakeEndpoints.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoints)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeEndpoints.requests
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(tmp_path: Path, endpoints: tuple[str, list[Any]]) -> Iterator[str]:
    """The rendered config, with WeCom and the worker pointed at local fakes."""
    binary = tool("prometheus-alertmanager")
    base, _ = endpoints
    rendered = render(tmp_path / "am", WECOM_ENV)
    config = yaml.safe_load(rendered.read_text())
    config["global"]["wechat_api_url"] = f"{base}/cgi-bin/"
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = hook["url"].replace("http://worker:6066", base)
    rendered.write_text(yaml.safe_dump(config, allow_unicode=True))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={rendered}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "alertmanager.log").read_text()
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_for(ready, 10, "alertmanager to start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def alert(**labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": "PulseNegativeFeedback", **labels},
            "annotations": {"summary": f"{labels.get('tier')} feedback", "summary_zh": "负面反馈"}}


def test_inhibition_and_delivery(alertmanager: str,
                                 endpoints: tuple[str, list[Any]]) -> None:
    _, requests = endpoints
    http_json(f"{alertmanager}/api/v2/alerts", [
        alert(tier="severe", community="c1", incident="i1"),
        alert(tier="moderate", community="c1", incident="i2"),
        alert(tier="mild", community="c1", incident="i3"),
        alert(tier="moderate", community="c2", incident="i4"),
        alert(tier="mild", community="c2", incident="i5"),
        alert(tier="mild", community="c3", incident="i6"),
        {"labels": {"alertname": "PulseWorkerDown", "team": "platform", "job": "pulse-worker",
                    "instance": "w1:6066", "severity": "critical"}},
        {"labels": {"alertname": "PulseNoEventsConsumed", "team": "platform",
                    "job": "pulse-worker", "severity": "warning"}},
        {"labels": {"alertname": "PulseSinkDown", "team": "platform", "job": "other-worker",
                    "sink": "clickhouse", "severity": "critical"}},
        {"labels": {"alertname": "PulseSinkErrors", "team": "platform", "job": "other-worker",
                    "sink": "clickhouse", "severity": "warning"}},
        {"labels": {"alertname": "PulseSinkErrors", "team": "platform", "job": "other-worker",
                    "sink": "kafka", "severity": "warning"}},
    ])
    expected_suppressed = {("c1", "moderate"), ("c1", "mild"), ("c2", "mild"),
                           ("PulseNoEventsConsumed", "pulse-worker"),
                           ("PulseSinkErrors", "clickhouse")}

    def key(labels: dict[str, str]) -> tuple[str, str]:
        if "tier" in labels:
            return labels["community"], labels["tier"]
        return labels["alertname"], labels.get("sink") or labels["job"]

    def states() -> dict[tuple[str, str], str]:
        return {key(a["labels"]): a["status"]["state"]
                for a in http_json(f"{alertmanager}/api/v2/alerts")}

    wait_for(lambda: {k for k, s in states().items() if s == "suppressed"}
             == expected_suppressed, 5, "inhibition")
    assert len(states()) == 11

    # The worker's webhook gets every community alert not inhibited, at once.
    def webhook_alerts() -> set[tuple[str, str]]:
        return {key(a["labels"]) for path, _, body in list(requests)
                if path == "/alerts/alertmanager" for a in body["alerts"]}

    wait_for(lambda: webhook_alerts() == {("c1", "severe"), ("c2", "moderate"), ("c3", "mild")},
             5, "webhook deliveries")

    # Severe (group_wait 5s) reaches WeCom: management and crisis-PR parties.
    def sends() -> list[dict[str, Any]]:
        return [body for path, _, body in list(requests) if path == "/cgi-bin/message/send"]

    wait_for(lambda: len(sends()) >= 2, 10, "WeCom messages for the severe alert")
    severe = sorted(sends(), key=lambda body: body["toparty"])[:2]
    assert [body["toparty"] for body in severe] == ["11", "12"]
    for body in severe:
        assert body["agentid"] == "1000002"
        content = body["text"]["content"]
        assert "重度 (severe)" in content and "社群 Community: c1" in content
    tokens = [query for path, query, _ in list(requests) if path == "/cgi-bin/gettoken"]
    assert tokens and tokens[0]["corpid"] == [WECOM_ENV["WECOM_CORP_ID"]]
    assert tokens[0]["corpsecret"] == [WECOM_ENV["WECOM_API_SECRET"]]
