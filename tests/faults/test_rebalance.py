"""Fault: a second worker joins the group mid-run and leaves again (two rebalances).

Partitions move to the newcomer and back, their table state restored from the
changelogs each time; minute counts on the metric topic (both workers publish there;
each has its own embedded ClickHouse) must stay exact and every negative episode must
still be exactly one incident of its tier (none graded twice by two owners).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.progress import wait_until_committed
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess, free_port
from tests.support import (
    EPISODES_STREAM,
    alert_records,
    assert_one_incident_per_episode,
    latest,
    latest_windows,
)

pytestmark = [pytest.mark.integration, pytest.mark.open_bug]
"""The rebalance hang (DESIGN.md, "A rebalance hung; root-caused and fixed") is fixed
(``pipeline.runtime.transport.DroppedCopies``); still kept out of `make test` because 1 of
5 runs after the fix failed differently: the rebalances completed, but one partition
(alerts.sentiment p2, one record at offset 0) was never committed.  Run it with
`pytest -m open_bug tests/faults`."""


def wait_for_progress(worker: WorkerProcess, target: float) -> None:
    deadline = time.monotonic() + 120
    while worker.metric_total("pulse_events_processed_total") < target:
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.1)


def test_a_worker_joining_and_leaving_mid_run_changes_no_result(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(EPISODES_STREAM)
    total = len(stream.records)
    half = total // 2  # the second half arrives once the newcomer is in
    first = WorkerProcess(pipeline_settings, tmp_path / "first.log")
    second_settings = pipeline_settings.model_copy(update={  # chdb is one process's
        "web_port": free_port(), "data_dir": tmp_path / "state-second",
        "clickhouse_url": f"chdb://{tmp_path / 'clickhouse-second'}"})
    second = WorkerProcess(second_settings, tmp_path / "second.log")
    first.start()
    try:
        produce(stream.records[:half], pipeline_settings)
        wait_for_progress(first, half * 0.5)
        second.start()  # joins: half the partitions move to it
        produce(stream.records[half:], pipeline_settings)
        wait_for_progress(second, 1)
        time.sleep(2)
        second.stop()  # leaves: they move back
        wait_until_committed(pipeline_settings, lambda: first.process is not None)
    finally:
        second.stop()
        first.stop()
    assert_one_incident_per_episode(stream, latest(alert_records(pipeline_settings)))
    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(latest_windows(pipeline_settings), expected) == []
