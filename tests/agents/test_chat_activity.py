"""End to end through a real broker, a real Faust worker process and chdb.

The generator's ground truth is the oracle: per-minute counts must be exact
although the stream carries late, duplicated and malformed records, and a
worker killed with SIGKILL mid-stream must resume to the same exact result.
Both run on the embedded Tansu broker and on Apache Kafka, the production broker
(``any_pipeline_settings``: test ids end in ``[tansu]`` / ``[kafka]``).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.progress import log_end_offsets
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess
from pipeline.egress.clickhouse.client import connect
from pipeline.topics import CHAT_MESSAGES, DEAD_LETTER
from tests.support import (
    FAULTY_STREAM,
    RESUME_STREAM,
    clickhouse_report,
    latest_windows,
    read_topic,
    wait_until_committed,
)

pytestmark = pytest.mark.integration


def test_exact_minute_counts_with_late_duplicate_and_malformed_events(
    any_pipeline_settings: Settings, tmp_path: Path
) -> None:
    pipeline_settings = any_pipeline_settings
    stream = generate(FAULTY_STREAM)
    kinds = Counter(record.kind for record in stream.records)
    assert kinds["late"] > 50 and kinds["duplicate"] > 50 and kinds["malformed"] > 20
    worker = WorkerProcess(pipeline_settings, tmp_path / "worker.log")
    worker.start()
    try:
        produce(stream.records, pipeline_settings)
        wait_until_committed(pipeline_settings, worker)
        metrics = worker.prometheus_samples()
    finally:
        worker.stop()

    expected = truth_minute_counts(stream.truth)
    report = clickhouse_report(pipeline_settings)
    assert compare_minutes(report.minute_counts, expected) == []
    assert compare_minutes(latest_windows(pipeline_settings), expected) == []

    client = connect(pipeline_settings.clickhouse_url)
    try:
        stored = dict(client.query(
            "SELECT message_id, text FROM pulse.chat_messages FINAL"
        ).result_rows)
    finally:
        client.close()
    assert stream.truth.pii_messages
    for pii in stream.truth.pii_messages:
        assert not any(value in stored[pii.message_id] for value in pii.values)

    chat_ids = {orjson.loads(r.value)["message_id"] for r in stream.records
                if r.topic == CHAT_MESSAGES.name and r.kind != "malformed"}
    assert report.raw_rows["chat_messages"] == len(chat_ids)

    per_community = Counter()
    for (community, _), (messages, _) in expected.items():
        per_community[community] += messages
    for community, total in per_community.items():
        assert metrics[f'pulse_community_messages_total{{community="{community}"}}'] == total
    assert metrics['pulse_events_duplicate_total{topic="community.chat.messages.v1"}'] > 0
    chat_topic = pipeline_settings.topic(CHAT_MESSAGES.name)
    end_offsets = [value for key, value in metrics.items()  # what the lag alert rules read
                   if key.startswith("faust_topic_partition_end_offset{") and chat_topic in key]
    assert len(end_offsets) == len(log_end_offsets(pipeline_settings, [chat_topic]))
    assert all(offset > 0 for offset in end_offsets)

    # every malformed record is in the DLQ, byte for byte, with the expected reason
    dead = read_topic(pipeline_settings, DEAD_LETTER.name)
    got = Counter(
        (record.value, dict(record.headers)["dlq.reason"].decode()) for record in dead
    )
    wanted = Counter(
        (stream.records[letter.position].value, letter.reason)
        for letter in stream.truth.dead_letters
    )
    assert sum(wanted.values()) == kinds["malformed"]
    assert got == wanted
    assert report.dead_letters == dict(Counter(reason for _, reason in wanted.elements()))
    assert all(
        {"dlq.source.topic", "dlq.source.offset", "dlq.detail"} <= set(dict(r.headers))
        for r in dead
    )


def test_killed_worker_resumes_with_exact_results(
    any_pipeline_settings: Settings, tmp_path: Path
) -> None:
    """With the production store (rocksdb://): local files plus the changelog tail,
    whose end Tansu under-reports (see pipeline.runtime.transport.PulseConsumer.highwaters)."""
    pipeline_settings = any_pipeline_settings.model_copy(update={"store": "rocksdb://"})
    stream = generate(RESUME_STREAM)
    total = len(stream.records)
    first = WorkerProcess(pipeline_settings, tmp_path / "worker-1.log")
    first.start()
    produce(stream.records, pipeline_settings)
    deadline = time.monotonic() + 120
    while first.metric_total("pulse_events_processed_total") < total * 0.3:
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.2)
    processed_before_kill = first.metric_total("pulse_events_processed_total")
    first.kill()
    assert processed_before_kill < total, "the crash must happen mid-stream"

    second = WorkerProcess(pipeline_settings, tmp_path / "worker-2.log")
    second.start()
    try:
        wait_until_committed(pipeline_settings, second)
    finally:
        second.stop()

    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(clickhouse_report(pipeline_settings).minute_counts, expected) == []
    assert compare_minutes(latest_windows(pipeline_settings), expected) == []
