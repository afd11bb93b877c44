"""Every dashboard panel against a real run: a generated stream (chat, members, snapshots,
funnels, orders, negative episodes, injected anomalies) through a real worker, its
ClickHouse panels run on the worker's chdb, its Prometheus panels on a real Prometheus
that scraped the worker during the run.  ``test_deploy_grafana.py`` checks exact values
on crafted rows; this checks that what a real run writes is what the panels read.

A panel may come back empty only for a reason listed in ``EMPTY_BY_DESIGN``: something
this run does not produce (and a test elsewhere shows the panel reading it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_deploy_grafana import (
    CLICKHOUSE_QUERIES,
    PROMQL_QUERIES,
    RUNNER,
    expand_clickhouse,
    expand_promql,
)

from pipeline.devtools.generator import GeneratedStream, generate, produce
from pipeline.devtools.generator.io import registry_text
from pipeline.devtools.generator.stream import OutRecord
from pipeline.devtools.stack import Broker, WorkerProcess
from pipeline.devtools.up import prometheus_config, prometheus_monitor
from pipeline.topics import MEMBER_EVENTS
from tests.live_alertmanager import live_alertmanager
from tests.support import DASHBOARD_STREAM, settings_on, wait_until_committed

pytestmark = pytest.mark.integration

EMPTY_BY_DESIGN: dict[str, str] = {
    "Firing alerts by name": "no Prometheus rule fires on a healthy run within its `for`; "
                             "tests/deploy/test_deploy_prometheus.py fires every rule",
}
"""Panel title fragment -> why a generated run leaves it empty."""
PROMETHEUS_WAIT_S = 60.0


def with_membership_conflict(stream: GeneratedStream) -> list[OutRecord]:
    """The stream's records plus one member joining twice on day 3 (a join while present):
    the generator's membership is consistent, so the conflict panels need one of ours."""
    first = next(r for r in stream.records if r.topic == MEMBER_EVENTS.name and r.kind == "valid")
    event = json.loads(first.value)
    records = list(stream.records)
    for n in (1, 2):
        ts_ms = int((stream.truth.start + timedelta(days=3, hours=n)).timestamp() * 1000)
        value = {**event, "event_id": f"me-conflict-{n}", "member_id": "u-joins-twice",
                 "action": "join", "inviter_id": None,
                 "ts": datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat()}
        at = next(i for i, r in enumerate(records) if r.timestamp_ms >= ts_ms)
        records.insert(at, replace(first, value=json.dumps(value).encode(), timestamp_ms=ts_ms))
    return records


def _empty_reason(name: str) -> str | None:
    return next((why for title, why in EMPTY_BY_DESIGN.items() if f"/{title}/" in name), None)


def _prometheus_query(url: str, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def _scraped(url: str) -> bool:
    """The worker's metrics reached Prometheus (its target is up and has pulse series)."""
    try:
        return bool(_prometheus_query(url, 'up{job="pulse-worker"} == 1')) and bool(
            _prometheus_query(url, "pulse_community_messages_total"))
    except OSError:
        return False


@pytest.fixture(scope="module")
def run(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One generated run, its alerts delivered to a real Alertmanager (and a WeCom
    stand-in): PromQL results taken while the worker runs, then chdb results."""
    with ExitStack() as stack:
        yield _run(broker, tmp_path_factory, stack)


def _run(broker: Broker, tmp_path_factory: pytest.TempPathFactory,
         stack: ExitStack) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("dashboards")
    stream = generate(DASHBOARD_STREAM)
    registry = directory / "campaigns.toml"
    registry.write_text(registry_text(stream.truth), encoding="utf-8")
    alertmanager = stack.enter_context(live_alertmanager(directory / "alertmanager"))
    settings = settings_on(broker, directory, campaigns_file=registry,
                           alertmanager_url=alertmanager.url,
                           wecom_webhook_url=f"{alertmanager.receivers_url}"
                                             "/cgi-bin/webhook/send?key=k")
    campaign = stream.truth.funnels[0].campaign_id
    communities = ",".join(f"'{c.community_id}'" for c in stream.truth.communities)
    config = prometheus_config(f"127.0.0.1:{settings.web_port}", None, directory / "prometheus")
    prometheus = prometheus_monitor(config, directory / "prometheus" / "data",
                                    directory / "prometheus.log")
    worker = WorkerProcess(settings, directory / "worker.log")
    prometheus.start()
    try:
        worker.start()
        try:
            produce(with_membership_conflict(stream), settings)
            wait_until_committed(settings, worker)
            deadline = time.monotonic() + PROMETHEUS_WAIT_S
            while not _scraped(prometheus.url):
                assert time.monotonic() < deadline, "Prometheus never scraped the worker"
                time.sleep(1)
            time.sleep(6)   # one more scrape after the last record: rates have two samples
            promql = {name: _prometheus_query(
                          prometheus.url, expand_promql(expr.replace("$campaign", campaign)))
                      for name, expr in PROMQL_QUERIES.items()}
        finally:
            worker.stop()
    finally:
        prometheus.stop()

    # the stream's event times, and up to now: dead letters are stamped when they arrive
    start, end = int(stream.truth.start.timestamp()), int(time.time()) + 3600
    jobs = {name: expand_clickhouse(  # Grafana's "All": every community, every channel
                sql.replace("${campaign:singlequote}", f"'{campaign}'")
                   .replace("${community:singlequote}", communities), None, start, end)
            for name, sql in CLICKHOUSE_QUERIES.items()}
    path = Path(settings.clickhouse_url.removeprefix("chdb://"))
    done = subprocess.run([sys.executable, str(RUNNER)],
                          input=json.dumps({"path": str(path), "queries": jobs}),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {"clickhouse": json.loads(done.stdout), "promql": promql}


@pytest.mark.parametrize("name", sorted(CLICKHOUSE_QUERIES))
def test_clickhouse_panel_reads_the_run(run: dict[str, Any], name: str) -> None:
    result = run["clickhouse"][name]
    assert "error" not in result, result.get("error")
    reason = _empty_reason(name)
    if reason is None:
        assert result["rows"], "no rows from a generated run"


@pytest.mark.parametrize("name", sorted(PROMQL_QUERIES))
def test_prometheus_panel_reads_the_run(run: dict[str, Any], name: str) -> None:
    reason = _empty_reason(name)
    if reason is None:
        assert run["promql"][name], "no series from the scraped worker"


def test_empty_by_design_still_holds() -> None:
    """Every exemption names a panel that exists: a renamed panel must not keep one."""
    names = [*CLICKHOUSE_QUERIES, *PROMQL_QUERIES]
    for title in EMPTY_BY_DESIGN:
        assert any(f"/{title}/" in name for name in names), title
