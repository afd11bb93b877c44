"""Helpers for integration tests, and the fixed calendar of every generated test stream."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer

from pipeline.app.settings import Settings, load_settings
from pipeline.compute.escalation import DEFAULT_POLICY
from pipeline.devtools.escalation_replay import episode_tiers, from_stream, in_event_time
from pipeline.devtools.generator import GeneratorConfig, produce
from pipeline.devtools.progress import wait_until_committed as _wait
from pipeline.devtools.report import PipelineReport, read_report
from pipeline.devtools.stack import BrokerProcess, WorkerProcess, free_port, prepare
from pipeline.egress.clickhouse.client import connect
from pipeline.runtime.process import DUMP_STACKS_SIGNAL
from pipeline.topics import ACTIVITY_MINUTE, CHAT_MESSAGES, SENTIMENT_ALERTS, TopicSpec
from schemas.alerts import Alert

REFERENCE_START = datetime(2026, 11, 2, tzinfo=UTC)
"""Monday 00:00 UTC: where every generated stream of the tests starts (or is anchored).

The generator seeds its random streams from ``seed`` and the start, so a start
relative to "now" gave another stream every day.  A fixed past date is valid
input: the edge accepts event times from 2015 up to now + 1 h.  The ClickHouse
tables keep 400 days of event time (TTL) and chdb deletes older rows within a
second or two, so the integration fixture (tests/conftest.py) creates them with
a 55-year retention (``PULSE_CLICKHOUSE_RETENTION_DAYS``, the setting operators
use to backfill old history): the streams' rows stay however old the date becomes.
"""

# One constant per generated stream the tests use; tests/test_calendar.py checks
# that each is the same whatever day the suite runs.
DEFAULT_STREAM = GeneratorConfig(start=REFERENCE_START)
"""Generator tests: the default size, rates and episodes."""
CLEAN_STREAM = GeneratorConfig(seed=3, start=REFERENCE_START, scale=0.3, episodes=False)
"""Generator tests: no negative episodes."""
LONG_STREAM = GeneratorConfig(seed=5, communities=3, days=6, scale=0.12,
                              start=REFERENCE_START - timedelta(days=4))
"""Generator tests: long enough for members to stay silent three days before the end."""
EPISODES_STREAM = GeneratorConfig(seed=7, communities=4, days=1.0, start=REFERENCE_START)
"""Escalation generator and sentiment integration tests: one episode of every tier."""
EPISODES_CLEAN_STREAM = replace(EPISODES_STREAM, episodes=False)
"""The same communities and chat without the negative episodes."""
SPLIT_WORKERS_STREAM = GeneratorConfig(seed=11, communities=3, days=1.0, start=REFERENCE_START)
"""Sentiment integration test of the alert and metrics workers in separate groups."""
FAULTY_STREAM = GeneratorConfig(seed=11, communities=4, days=0.5, late_rate=0.05,
                                duplicate_rate=0.05, malformed_rate=0.01, start=REFERENCE_START)
"""Chat activity integration test: more late, duplicated and malformed records."""
RESUME_STREAM = GeneratorConfig(seed=5, communities=6, days=1.0, start=REFERENCE_START)
"""Chat activity integration test of a worker killed mid-stream."""
SOAK_STREAM = GeneratorConfig(seed=29, communities=6, days=1.0, start=REFERENCE_START)
"""Soak: sliced into the backlogs of many kill-and-restart cycles."""
PII_STREAM = GeneratorConfig(seed=21, communities=3, days=1.0, start=REFERENCE_START)
"""Privacy test: every personal value in the generated chat is masked."""
HEALTH_STREAM = GeneratorConfig(seed=13, communities=4, days=3, scale=0.5, start=REFERENCE_START,
                                stale_rate=0.01, very_late_rate=0.005, snapshots=True,
                                episodes=False)
"""Community health integration tests: three days, stale and very late records, snapshots."""
ANOMALY_STREAM = GeneratorConfig(seed=17, communities=3, days=11, scale=0.3, anomalies=2,
                                 episodes=False, start=REFERENCE_START - timedelta(days=14))
"""Anomaly alerts end to end: a week to warm up, then two injected anomalies per community."""
CAMPAIGN_STREAM = GeneratorConfig(seed=23, communities=4, days=2, scale=0.4, episodes=False,
                                  start=REFERENCE_START)
"""Campaigns and sales end to end: two campaigns (the second with a weak step) and orders."""
PRIVACY_STREAM = GeneratorConfig(seed=36, communities=2, days=1.0, scale=0.4, episodes=False,
                                 start=REFERENCE_START)
"""Member export and erasure end to end: a member who chats, invites, orders and leaves."""

DASHBOARD_STREAM = GeneratorConfig(seed=17, communities=3, days=11, scale=0.3, anomalies=2,
                                   snapshots=True, start=REFERENCE_START - timedelta(days=14))
"""Dashboards on a real run: every family (anomalies, episodes, funnels, orders, snapshots)."""

TEST_STREAMS: dict[str, GeneratorConfig] = {
    "default": DEFAULT_STREAM,
    "clean": CLEAN_STREAM,
    "long": LONG_STREAM,
    "episodes": EPISODES_STREAM,
    "episodes_clean": EPISODES_CLEAN_STREAM,
    "split_workers": SPLIT_WORKERS_STREAM,
    "faulty": FAULTY_STREAM,
    "resume": RESUME_STREAM,
    "soak": SOAK_STREAM,
    "pii": PII_STREAM,
    "health": HEALTH_STREAM,
    "anomalies": ANOMALY_STREAM,
    "campaigns": CAMPAIGN_STREAM,
    "privacy": PRIVACY_STREAM,
    "dashboards": DASHBOARD_STREAM,
}
"""Every named stream above, for tests/test_calendar.py."""


def read_topic(settings: Settings, name: str) -> list:
    consumer = KafkaConsumer(
        settings.topic(name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


def latest_windows(settings: Settings) -> dict[tuple[str, int], tuple[int, int]]:
    """What a downstream service sees on the metric topic: highest revision per key."""
    best: dict[bytes, dict] = {}
    for record in read_topic(settings, ACTIVITY_MINUTE.name):
        value = orjson.loads(record.value)
        if record.key not in best or value["revision"] > best[record.key]["revision"]:
            best[record.key] = value
    return {
        (v["community_id"], int(datetime.fromisoformat(v["window_start"]).timestamp())): (
            v["messages"], v["speakers"]
        )
        for v in best.values()
    }


def settings_on(broker: BrokerProcess, tmp_path: Path, *, bootstrap: str | None = None,
                **changes: Any) -> Settings:
    """Settings of a fresh pipeline on ``broker``: own topics, consumer group, chdb and
    state dirs (the ``pipeline_settings`` fixtures, and tests with a broker of their own).
    ``bootstrap`` picks another listener of the broker; ``changes`` are further settings."""
    run = uuid.uuid4().hex[:8]
    settings = load_settings(
        kafka_bootstrap=bootstrap or broker.bootstrap,
        topic_prefix=f"t{run}.",
        app_id=f"pulse-test-{run}",
        clickhouse_url=f"chdb://{tmp_path / 'clickhouse'}",
        clickhouse_retention_days=20_000,  # streams start on a fixed date that will age
        data_dir=tmp_path / "state",
        web_port=free_port(),
        batch_within_s=0.1,
        **changes,
    )
    prepare(settings)
    return settings


def check_published_contracts(settings: Settings, *specs: TopicSpec) -> dict[str, int]:
    """Consume each topic with plain kafka-python, as a downstream service would, and
    validate every record against the JSON Schema the AsyncAPI document names for it
    (``schemas/json/``); a record that defines its key must be keyed by it.  Returns
    records per topic (each must have some: a test names the topics its run produces)."""
    from jsonschema import Draft202012Validator

    from pipeline.egress.contracts import ASYNCAPI_PATH, TOPIC_RECORDS

    counts = {}
    for spec in specs:
        model = TOPIC_RECORDS[spec.name]
        schema = json.loads((ASYNCAPI_PATH.parent / "json"
                             / f"{model.record_name}.v{model.version}.json").read_text())
        validator = Draft202012Validator(schema)
        records = read_topic(settings, spec.name)
        for record in records:
            value = json.loads(record.value)
            errors = [e.message for e in validator.iter_errors(value)]
            assert not errors, (spec.name, errors[:3], value)
            key = getattr(model.model_validate(value), "key", None)  # records with a key
            assert key is None or record.key.decode() == key, (spec.name, record.key)
        assert records, f"{spec.name}: nothing published"
        counts[spec.name] = len(records)
    return counts


def clickhouse_report(settings: Settings) -> PipelineReport:
    client = connect(settings.clickhouse_url)
    try:
        return read_report(client, settings.clickhouse_database)
    finally:
        client.close()


def alert_records(settings: Settings) -> list[tuple[bytes, Alert]]:
    consumer = KafkaConsumer(
        settings.topic(SENTIMENT_ALERTS.name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
    )
    try:
        return [(r.value, Alert.model_validate_json(r.value)) for r in consumer]
    finally:
        consumer.close()


def latest(records: list[tuple[bytes, Alert]]) -> dict[str, Alert]:
    out: dict[str, Alert] = {}
    for _, alert in records:
        if alert.incident_id not in out or alert.revision > out[alert.incident_id].revision:
            out[alert.incident_id] = alert
    return out


def assert_one_incident_per_episode(stream, incidents: dict[str, Alert]) -> None:
    """The pipeline graded every episode as the pure rules do (``escalation_replay``, in
    event time): one incident of the same tier in each community it touches, or none
    where the rules miss a complaint; moderate and severe episodes are never missed."""
    oracle = episode_tiers(in_event_time(from_stream(stream), DEFAULT_POLICY))
    messages = {json.loads(r.value)["message_id"]: json.loads(r.value)
                for r in stream.records
                if r.topic == CHAT_MESSAGES.name and r.kind != "malformed"}
    matched = set()
    for episode in stream.truth.episodes:
        for community in episode.community_ids:
            expected = oracle[(episode.episode_id, community)]
            if episode.expected_tier != "mild":
                assert expected == episode.expected_tier, (episode.episode_id, expected)
            times = sorted(datetime.fromisoformat(messages[i]["ts"])
                           for i in episode.message_ids
                           if messages[i]["community_id"] == community)
            hits = [a for a in incidents.values() if a.community_id == community
                    and a.window_start <= times[-1] and a.window_end >= times[0]]
            assert [a.tier for a in hits] == ([expected] if expected else []), (
                episode.episode_id, community, hits)
            matched.update(a.incident_id for a in hits)
    false_alarms = [a for a in incidents.values() if a.incident_id not in matched]
    assert len(false_alarms) <= 2 and all(a.tier != "severe" for a in false_alarms)


def wait_until_committed(settings: Settings, worker: WorkerProcess, timeout: float = 300) -> None:
    """Block until the worker's consumer group has committed every input record; on a
    timeout the worker first writes its threads' stacks to its log (a hung worker's
    event loop cannot log anything itself)."""
    try:
        _wait(settings, lambda: worker.process is not None and worker.process.poll() is None,
              timeout)
        rewinds = worker.metric_total("pulse_partition_rewinds_total")
        if rewinds:  # recovered, so the test passes; the loss inside the worker is a bug
            warnings.warn(f"{worker.log_path}: {rewinds:.0f} partition(s) lost records "
                          "inside the worker and were fetched again (DESIGN.md, "
                          "'Recovering what a worker lost')", stacklevel=2)
    except TimeoutError as timeout_error:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.send_signal(DUMP_STACKS_SIGNAL)
            time.sleep(1)
        tail = worker.log_path.read_text(errors="replace").splitlines()[-200:]
        raise TimeoutError(f"{timeout_error}\n--- {worker.log_path} (tail) ---\n"
                           + "\n".join(tail)) from None


def run_until_committed(settings: Settings, records: list, log_path: Path) -> None:
    """Start a worker, produce ``records``, wait until its group committed them, stop it
    (chdb is one process's: readers open the data directory after this)."""
    worker = WorkerProcess(settings, log_path)
    worker.start()
    try:
        produce(records, settings)
        wait_until_committed(settings, worker)
    finally:
        worker.stop()


def kill_midway_and_resume(settings: Settings, total: int, log_dir: Path,
                           produce_input: Callable[[], None], fraction: float = 0.4) -> None:
    """Start a worker, produce the input, SIGKILL the worker once ``fraction`` of the
    ``total`` input records were processed, then run a fresh worker until everything is
    committed: the state it resumes from is whatever the killed one left."""
    first = WorkerProcess(settings, log_dir / "worker-1.log")
    first.start()
    produce_input()
    deadline = time.monotonic() + 120
    while first.metric_total("pulse_events_processed_total") < total * fraction:
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.2)
    first.kill()
    second = WorkerProcess(settings, log_dir / "worker-2.log")
    second.start()
    try:
        wait_until_committed(settings, second)
    finally:
        second.stop()
