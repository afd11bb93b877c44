"""Sentiment to moderators, end to end: real broker, Faust worker, chdb, Alertmanager.

The generator's negative episodes must each raise the expected tier, alerts
must reach Alertmanager (labels tier/community/incident) and the WeCom robot,
carry no personal data, and a moderator's acknowledgement through the console
API must come back as a new alert revision, recorded under the moderator's account,
whose list holds exactly the incidents of its assigned community.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import orjson
import pytest
from kafka import TopicPartition
from selenium import webdriver
from selenium.webdriver.common.by import By

from pipeline.app.settings import Settings
from pipeline.console.views import AUDIT_PREFIX
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.progress import committed_offsets
from pipeline.devtools.progress import wait_until_committed as wait_until_committed_all
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess, free_port
from pipeline.topics import CHAT_MESSAGES, INCIDENT_COMMANDS, SENTIMENT_ALERTS
from tests.browser_support import submit, wait_for_text
from tests.deploy.deploy_support import DEPLOY, load_yaml
from tests.live_alertmanager import live_alertmanager
from tests.support import (
    EPISODES_CLEAN_STREAM,
    EPISODES_STREAM,
    SPLIT_WORKERS_STREAM,
    alert_records,
    assert_one_incident_per_episode,
    check_published_contracts,
    clickhouse_report,
    latest,
    run_until_committed,
    wait_until_committed,
)

pytestmark = pytest.mark.integration
TOKEN = "moderator-secret"
MODERATOR_TOKEN = "wang-xiaoming-0123456789abcdef"


def api(
    worker: WorkerProcess, path: str, body: dict | None = None, token: str | None = TOKEN
) -> tuple[int, object]:
    """Status and JSON body of a worker endpoint (errors included)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{worker.url}{path}", method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None, headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_episodes_become_graded_alerts_delivered_to_moderators(
    pipeline_settings: Settings, tmp_path: Path, browser: webdriver.Chrome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = generate(EPISODES_STREAM)
    episodes = stream.truth.episodes
    assert {e.expected_tier for e in episodes} == {"mild", "moderate", "severe"}
    # a moderator account for the severe episode's community (pipeline/console/access.py)
    assigned = next(e for e in episodes if e.expected_tier == "severe").community_ids[0]
    access_file = tmp_path / "console-access.toml"
    access_file.write_text(f'[accounts."wang.xiaoming"]\ncommunities = ["{assigned}"]\n'
                           'token_env = "PULSE_TEST_MODERATOR_TOKEN"\n')
    monkeypatch.setenv("PULSE_TEST_MODERATOR_TOKEN", MODERATOR_TOKEN)
    with live_alertmanager(tmp_path / "alertmanager") as alertmanager:
        settings = pipeline_settings.model_copy(update={
            "alertmanager_url": alertmanager.url,
            "wecom_webhook_url": f"{alertmanager.receivers_url}/cgi-bin/webhook/send?key=k",
            "console_token": TOKEN,
            "console_access_file": access_file,
        })
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            produce(stream.records, settings)
            wait_until_committed(settings, worker)
            records = alert_records(settings)
            incidents = latest(records)

            assert_one_incident_per_episode(stream, incidents)

            # no personal data in any alert revision
            pii_values = [v for p in stream.truth.pii_messages for v in p.values]
            member_ids = {json.loads(r.value)["member_id"] for r in stream.records
                          if r.topic == CHAT_MESSAGES.name and r.kind != "malformed"}
            for raw, _ in records:
                text = raw.decode()
                assert not any(value in text for value in pii_values)
                assert not any(f'"{m}"' in text for m in member_ids)

            # Alertmanager has them, labelled for routing and inhibition
            with urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts", timeout=5) as r:
                firing = json.loads(r.read())
            labels = [a["labels"] for a in firing if a["labels"].get("alertname")
                      == "CommunityNegativeSentiment"]
            assert {lbl["incident"] for lbl in labels} >= {
                a.incident_id for a in incidents.values() if a.status == "open"
            }
            assert all({"tier", "community", "incident"} <= set(lbl) for lbl in labels)

            # the WeCom robot was paged for openings and upgrades, Chinese first
            pages = alertmanager.received.bodies("POST", "/cgi-bin/webhook/send")
            assert pages and all(p["msgtype"] == "markdown" for p in pages)
            assert any("重度" in p["markdown"]["content"] for p in pages)
            assert not any(v in json.dumps(pages, ensure_ascii=False) for v in pii_values)

            # the moderator account lists exactly its community's open incidents ...
            _, mine = api(worker, "/api/alerts", token=MODERATOR_TOKEN)
            assert {a["incident_id"] for a in mine} == {
                a.incident_id for a in incidents.values()
                if assigned in a.community_ids and a.status != "followed_up"}
            others = [a for a in incidents.values() if assigned not in a.community_ids]
            assert others, "the stream has incidents in other communities"
            status, refused = api(worker, f"/api/alerts/{others[0].incident_id}/acknowledge",
                                  {"note": "x"}, token=MODERATOR_TOKEN)
            assert status == 403 and "wang.xiaoming" in refused["error"]

            # ... and acknowledges the severe incident through the console API
            severe = next(a for a in incidents.values() if a.tier == "severe")
            assert severe.community_id == assigned
            status, _ = api(worker, f"/api/alerts/{severe.incident_id}/acknowledge",
                            {"note": "已联系群主 13912345678"}, token=MODERATOR_TOKEN)
            assert status == 202
            deadline = time.monotonic() + 60
            while True:
                current = latest(alert_records(settings))[severe.incident_id]
                if current.status == "acknowledged":
                    break
                assert time.monotonic() < deadline, "acknowledgement never applied"
                time.sleep(0.5)
            assert current.acknowledged_by == "wang.xiaoming"
            assert current.revision > severe.revision
            assert "13912345678" not in current.model_dump_json()
            _, shown = api(worker, f"/api/alerts/{severe.incident_id}")
            assert shown["status"] == "acknowledged"

            # ... and resolves it in the console, in a real browser
            browser.get(f"{worker.url}/console?token={TOKEN}")
            wait_for_text(browser, "h1", "待处理告警")
            rows = browser.find_elements(By.CSS_SELECTOR, "#open-alerts tbody tr")
            assert rows[0].get_attribute("data-incident") in {
                a.incident_id for a in incidents.values() if a.tier == "severe"
            }
            browser.get(f"{worker.url}/console/alerts/{severe.incident_id}")
            wait_for_text(browser, "h1 .status", "已受理")
            submit(browser, "resolve", "王小明", "已退款并致歉，电话 13700001111")
            wait_for_text(browser, "h1 .status", "已解决")
            resolved = latest(alert_records(settings))[severe.incident_id]
            assert resolved.status == "resolved" and resolved.resolved_by == "王小明"
            assert "13700001111" not in resolved.model_dump_json()
        finally:
            worker.stop()
        log = (tmp_path / "worker.log").read_text()
        assert not [v for v in [*pii_values, "13912345678", "13700001111"] if v in log]
        audit = [json.loads(line.split(AUDIT_PREFIX, 1)[1])
                 for line in log.splitlines() if AUDIT_PREFIX in line]
        assert [(e["account"], e["outcome"].split(":")[0]) for e in audit] == [
            ("wang.xiaoming", "refused"), ("wang.xiaoming", "submitted"), ("admin", "submitted")]
        check_published_contracts(settings, SENTIMENT_ALERTS, INCIDENT_COMMANDS)


def test_clean_stream_raises_no_severe_alert(pipeline_settings: Settings, tmp_path: Path) -> None:
    stream = generate(EPISODES_CLEAN_STREAM)
    run_until_committed(pipeline_settings, stream.records, tmp_path / "worker.log")
    incidents = latest(alert_records(pipeline_settings))
    assert not [a for a in incidents.values() if a.tier == "severe"]
    assert all(orjson.loads(a.model_dump_json())["community_id"] for a in incidents.values())


def start_split_workers(settings: Settings, tmp_path: Path, **update: object,
                        ) -> tuple[dict[str, Settings], dict[str, WorkerProcess]]:
    """The production topology: an ``alerts`` and a ``metrics`` worker, each its own
    consumer group, port and state directory (``update``: more settings for both)."""
    roles = {
        role: settings.model_copy(update={
            "worker_role": role, "web_port": free_port(), "data_dir": tmp_path / f"state-{role}",
            **update,
        })
        for role in ("alerts", "metrics")
    }
    workers = {role: WorkerProcess(s, tmp_path / f"{role}-1.log") for role, s in roles.items()}
    for worker in workers.values():
        worker.start()
    return roles, workers


def test_split_alert_and_metrics_workers(any_pipeline_settings: Settings,
                                         tmp_path: Path) -> None:
    """The production topology: the alert path and the metrics path in separate worker
    groups; the alert worker has no ClickHouse, the metrics worker stores its output.
    On both brokers: the sentiment and alert path and the split roles as production runs
    them on Apache Kafka."""
    pipeline_settings = any_pipeline_settings
    stream = generate(SPLIT_WORKERS_STREAM)
    roles, workers = start_split_workers(pipeline_settings, tmp_path, console_token=TOKEN)
    try:
        produce(stream.records, pipeline_settings)
        wait_until_committed_all(list(roles.values()),
                                 lambda: all(w.process.poll() is None for w in workers.values()))
        incidents = latest(alert_records(pipeline_settings))
        assert_one_incident_per_episode(stream, incidents)
        # the metrics worker stored every incident (the console reads ClickHouse) ...
        _, listed = api(workers["metrics"], "/api/alerts?recent=500")
        assert {a["incident_id"] for a in listed} == set(incidents)
        # ... and the scored messages, counted by polarity
        scored = workers["metrics"].metric_total("pulse_sentiment_messages_total")
        assert scored > 0
        assert workers["alerts"].metric_total("pulse_sentiment_messages_total") == 0
        # Alertmanager's route back to the worker (deploy/alertmanager) is served
        hook = load_yaml(DEPLOY / "alertmanager" / "alertmanager.yml")["receivers"]
        path = urlparse(next(r for r in hook if r["name"] == "pulse-worker")
                        ["webhook_configs"][0]["url"]).path
        payload = {"alerts": [{"status": "firing", "labels": {"tier": "severe"}},
                              {"status": "resolved", "labels": {"tier": "bogus"}}]}
        assert api(workers["metrics"], path, payload, token=None) == (200, {"received": 2})
        assert api(workers["metrics"], path, {"nope": 1}, token=None)[0] == 400
        seen = workers["metrics"].prometheus_samples()
        assert seen['pulse_alertmanager_notifications_total{status="firing",tier="severe"}'] == 1
        assert seen['pulse_alertmanager_notifications_total{status="resolved",tier="other"}'] == 1
    finally:
        for worker in workers.values():
            worker.stop()
    assert not (roles["alerts"].data_dir / "clickhouse").exists()


def committed_chat(settings: Settings, chat: str) -> int:
    """Chat records the worker's group has committed, over all partitions."""
    partitions = [TopicPartition(chat, p) for p in range(settings.topic_partitions)]
    return sum(committed_offsets(settings, partitions).values())


def test_each_split_worker_killed_mid_stream_resumes_exactly(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    """SIGKILL the metrics worker and the alert worker, each mid-stream: incidents keep
    one id per episode (none lost, none graded twice), a replay republishes a revision
    unchanged, and every minute count is exact."""
    stream = generate(SPLIT_WORKERS_STREAM)
    roles, workers = start_split_workers(pipeline_settings, tmp_path, store="rocksdb://")
    # Paced input (about 20 s): a worker cannot finish the stream before it is killed.
    feed = threading.Thread(target=produce, args=(stream.records, pipeline_settings),
                            kwargs={"rate": len(stream.records) / 20})
    try:
        feed.start()
        chat = pipeline_settings.topic(CHAT_MESSAGES.name)
        chat_total = sum(1 for r in stream.records if r.topic == CHAT_MESSAGES.name)
        alive, deadline = set(roles), time.monotonic() + 120
        while alive:  # each worker dies once it has committed 30% of the chat
            assert time.monotonic() < deadline, f"{sorted(alive)}: no progress"
            for role in sorted(alive):
                done = committed_chat(roles[role], chat)
                if done >= chat_total * 0.3:
                    workers[role].kill()
                    assert done < chat_total, f"the {role} worker must die mid-stream"
                    alive.discard(role)
            time.sleep(0.05)
        for role, settings in roles.items():
            workers[role] = WorkerProcess(settings, tmp_path / f"{role}-2.log")
            workers[role].start()
        feed.join()
        wait_until_committed_all(list(roles.values()),
                                 lambda: all(w.process.poll() is None for w in workers.values()))
    finally:
        for worker in workers.values():
            worker.stop()
    records = alert_records(pipeline_settings)
    incidents = latest(records)
    assert_one_incident_per_episode(stream, incidents)
    assert records, "no alert published"
    payloads: dict[tuple[str, int], set[bytes]] = {}
    for raw, alert in records:
        payloads.setdefault((alert.incident_id, alert.revision), set()).add(raw)
    changed = [key for key, versions in payloads.items() if len(versions) > 1]
    assert changed == [], "a replay published another version of the same revision"
    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(clickhouse_report(roles["metrics"]).minute_counts, expected) == []
