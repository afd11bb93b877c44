"""Fault: ClickHouse is unavailable for 60 s mid-stream, then answers are lost after the
rows were stored; the worker waits (no commits, bounded memory), retries with backoff,
and ends with exact results: nothing lost, nothing counted twice.

The faults are injected in the worker process at the clickhouse-connect client boundary
(``inject/sitecustomize.py``); the engine behind it is the real one (chdb).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import TopicPartition

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.progress import committed_offsets, log_end_offsets
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess
from pipeline.topics import CHAT_MESSAGES
from tests.support import RESUME_STREAM, clickhouse_report, latest_windows, wait_until_committed

pytestmark = pytest.mark.integration

INJECT = Path(__file__).resolve().parent / "inject"
OUTAGE_S = 60


def test_clickhouse_outage_pauses_consumption_and_loses_nothing(
    pipeline_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(INJECT))
    monkeypatch.setenv("PULSE_TEST_FAULTS_DIR", str(faults))
    stream = generate(RESUME_STREAM)
    chat = [TopicPartition(pipeline_settings.topic(CHAT_MESSAGES.name), p)
            for p in range(pipeline_settings.topic_partitions)]
    worker = WorkerProcess(pipeline_settings, tmp_path / "worker.log")
    worker.start()
    try:
        produce(stream.records, pipeline_settings)
        chat_total = sum(log_end_offsets(pipeline_settings, [chat[0].topic]).values())
        deadline = time.monotonic() + 120
        while worker.metric_total("pulse_events_processed_total") < len(stream.records) * 0.2:
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.1)
        (faults / "clickhouse-down").touch()
        time.sleep(OUTAGE_S / 2)
        halfway = committed_offsets(pipeline_settings, chat)
        time.sleep(OUTAGE_S / 2)
        assert committed_offsets(pipeline_settings, chat) == halfway, (
            "offsets were committed while ClickHouse was down")
        (faults / "clickhouse-lost-ack").touch()
        (faults / "clickhouse-down").unlink()
        deadline = time.monotonic() + 90  # the retries back off up to 30 s
        while not (faults / "clickhouse-lost-ack-happened").exists():
            assert time.monotonic() < deadline, "no insert was retried after the outage"
            time.sleep(0.2)
        (faults / "clickhouse-lost-ack").unlink()
        wait_until_committed(pipeline_settings, worker)
        errors = worker.metric_total("pulse_sink_errors_total")
    finally:
        worker.stop()
    assert errors > 0, "the fault was not injected"
    assert sum(halfway.values()) < chat_total, "the outage must hit mid-stream"
    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(clickhouse_report(pipeline_settings).minute_counts, expected) == []
    assert compare_minutes(latest_windows(pipeline_settings), expected) == []
