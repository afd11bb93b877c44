"""Ten thousand fuzzed records among a generated stream, through a real broker and worker.

Every fuzzed record (``tests/faults/fuzz_inputs.py``: random bytes, deep nesting, huge
values, invalid UTF-8, wrong types, unknown enums, negative amounts, ancient and future
times ...) is a dead letter with its precise reason, byte for byte; every valid event
of the stream is counted exactly (the generator's ground truth); the worker stays
healthy and its memory bounded.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.members_rss import memory_mib
from pipeline.app.settings import Settings
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.report import compare_minutes, truth_minute_counts
from pipeline.devtools.stack import WorkerProcess
from pipeline.topics import DEAD_LETTER, INPUT_TOPICS
from tests.faults.fuzz_inputs import fuzz
from tests.support import (
    FAULTY_STREAM,
    clickhouse_report,
    latest_windows,
    read_topic,
    wait_until_committed,
)

pytestmark = pytest.mark.integration

FUZZED = 10_000
GROWTH_LIMIT_MIB = 768
"""Bound on the worker's peak RSS above its idle RSS (observed: 312 MiB, 392 -> 704 MiB)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


def test_ten_thousand_fuzzed_records_are_dead_letters_and_the_rest_is_exact(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    stream = generate(FAULTY_STREAM)
    bad = fuzz(FUZZED, seed=3)
    mixed: list[Outgoing] = [Outgoing(r.topic, r.key, r.value, r.timestamp_ms)
                             for r in stream.records]
    rng = random.Random(3)
    for record in bad:  # at random places, so bad and valid records share batches
        mixed.insert(rng.randrange(len(mixed) + 1), Outgoing(record.topic, record.key,
                                                             record.value))
    assert {r.topic for r in bad} == {spec.name for spec in INPUT_TOPICS}
    worker = WorkerProcess(pipeline_settings, tmp_path / "worker.log")
    worker.start()
    try:
        idle = memory_mib(worker.process.pid)["VmRSS"]
        produce(mixed, pipeline_settings)
        wait_until_committed(pipeline_settings, worker)
        assert worker.healthy()
        peak = memory_mib(worker.process.pid)["VmHWM"]
        metrics = worker.prometheus_samples()
    finally:
        worker.stop()
    assert peak - idle < GROWTH_LIMIT_MIB, (idle, peak)

    dead = read_topic(pipeline_settings, DEAD_LETTER.name)
    got = Counter((record.value, dict(record.headers)["dlq.reason"].decode())
                  for record in dead)
    wanted = Counter((stream.records[letter.position].value, letter.reason)
                     for letter in stream.truth.dead_letters)
    wanted.update((record.value or b"", record.reason) for record in bad)  # a tombstone's
    assert got == wanted  # letter has an empty value: the DLQ may be compacted by its users
    tombstones = sum(record.value is None for record in bad)
    assert tombstones and sum(dict(r.headers)["dlq.detail"] == b"empty value (tombstone)"
                              for r in dead) == tombstones
    reasons = Counter(reason for _, reason in wanted.elements())
    assert clickhouse_report(pipeline_settings).dead_letters == dict(reasons)
    assert sum(v for k, v in metrics.items() if k.startswith("pulse_dead_letters_total")) \
        == sum(reasons.values())

    expected = truth_minute_counts(stream.truth)
    assert compare_minutes(clickhouse_report(pipeline_settings).minute_counts, expected) == []
    assert compare_minutes(latest_windows(pipeline_settings), expected) == []
