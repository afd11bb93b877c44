"""Fault: the broker freezes (SIGSTOP) for 30 s mid-stream, then goes on (SIGCONT).

Requests time out, heartbeats stop and the group may rebalance when the broker wakes;
the worker must find its way back by itself and finish with exact results (nothing
lost, nothing counted twice).  The test runs its own broker, so the pause cannot touch
other tests.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess, embedded_broker, prepare
from tests.support import RESUME_STREAM, clickhouse_report, latest_windows, wait_until_committed

pytestmark = pytest.mark.integration

PAUSE_S = 30


def test_worker_recovers_from_a_frozen_broker_with_exact_results(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(RESUME_STREAM)
    with embedded_broker(tmp_path / "own-broker") as broker:
        settings = pipeline_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        prepare(settings)
        worker = WorkerProcess(settings, tmp_path / "worker.log")
        worker.start()
        try:
            produce(stream.records, settings)
            deadline = time.monotonic() + 120
            while worker.metric_total("pulse_events_processed_total") < len(stream.records) * 0.2:
                assert time.monotonic() < deadline, "worker made no progress"
                time.sleep(0.1)
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                time.sleep(PAUSE_S)
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            wait_until_committed(settings, worker)
        finally:
            worker.stop()
        expected = truth_minute_counts(stream.truth)
        assert compare_minutes(clickhouse_report(settings).minute_counts, expected) == []
        assert compare_minutes(latest_windows(settings), expected) == []
