"""Soak (``make soak``): kill and restart a worker over and over; it never stalls, and
the results stay exact.

Each cycle meets a restarted worker with a backlog (records produced while it was down,
plus whatever its killed predecessor had not committed), waits until the new worker has
committed every input record (a partition that stops committing fails the cycle and
names it), then produces more and SIGKILLs the worker while it is busy.  A stall used
to hit about one restart in four (DESIGN.md, "Recovery"); thirty cycles on each store
make a regression all but certain to show.  At the end the minute counts in ClickHouse
and on the metric topic must equal the generator's ground truth.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess
from tests.support import SOAK_STREAM, clickhouse_report, latest_windows, wait_until_committed

pytestmark = [pytest.mark.integration, pytest.mark.soak]

CYCLES = int(os.environ.get("PULSE_SOAK_CYCLES", "30"))
COMMIT_TIMEOUT_S = 180
"""Recovery plus the backlog take seconds; a stalled partition never catches up."""


def slices(items: list, parts: int) -> list[list]:
    size, extra = divmod(len(items), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def kill_while_busy(worker: WorkerProcess, records: list, settings: Settings) -> None:
    """Produce ``records`` and SIGKILL the worker once it has processed part of them."""
    before = worker.metric_total("pulse_events_processed_total")
    produce(records, settings)
    deadline = time.monotonic() + 60
    while worker.metric_total("pulse_events_processed_total") < before + len(records) * 0.3:
        assert time.monotonic() < deadline, "worker made no progress"
        time.sleep(0.05)
    worker.kill()


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_repeated_kill_and_restart_never_stalls_and_stays_exact(
    pipeline_settings: Settings, tmp_path: Path, store: str
) -> None:
    settings = pipeline_settings.model_copy(update={"store": store})
    stream = generate(SOAK_STREAM)
    parts = slices(stream.records, 2 * CYCLES)
    for cycle in range(CYCLES):
        produce(parts[2 * cycle], settings)
        worker = WorkerProcess(settings, tmp_path / f"worker-{cycle:02d}.log")
        worker.start()
        try:
            wait_until_committed(settings, worker, timeout=COMMIT_TIMEOUT_S)
        except TimeoutError as exc:
            worker.stop()
            pytest.fail(f"restart {cycle} stalled ({worker.log_path}): {exc}")
        kill_while_busy(worker, parts[2 * cycle + 1], settings)

    final = WorkerProcess(settings, tmp_path / "worker-final.log")
    final.start()
    try:
        wait_until_committed(settings, final, timeout=COMMIT_TIMEOUT_S)
    finally:
        final.stop()
    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(clickhouse_report(settings).minute_counts, expected) == []
    assert compare_minutes(latest_windows(settings), expected) == []
