"""Late, duplicated and malformed delivery: rates, ordering and byte identity."""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import datetime

import pytest

from pipeline.devtools.generator import GeneratedStream, GeneratorConfig, generate


def _kinds(stream: GeneratedStream) -> Counter:
    return Counter(r.kind for r in stream.records)


def test_rates_are_honoured(stream: GeneratedStream) -> None:
    kinds = _kinds(stream)
    events = kinds["valid"] + kinds["late"]
    assert kinds["duplicate"] == round(0.03 * events)
    assert kinds["malformed"] == round(0.005 * events)
    assert 0.9 * round(0.03 * events) <= kinds["late"] <= round(0.03 * events)


@pytest.mark.parametrize("late, duplicate, malformed", [(0.0, 0.0, 0.0), (0.1, 0.05, 0.02)])
def test_custom_rates(start: datetime, late: float, duplicate: float, malformed: float) -> None:
    config = GeneratorConfig(seed=2, start=start, days=0.5, scale=0.2, late_rate=late,
                             duplicate_rate=duplicate, malformed_rate=malformed, max_late_s=120)
    kinds = _kinds(generate(config))
    events = kinds["valid"] + kinds["late"]
    assert events > 1000
    assert kinds["duplicate"] == round(duplicate * events)
    assert kinds["malformed"] == round(malformed * events)
    assert 0.9 * round(late * events) <= kinds["late"] <= round(late * events)


def _check_order(stream: GeneratedStream, max_late_s: int) -> None:
    newest = None
    for record in stream.records:
        if record.kind == "malformed":
            continue
        ts = record.timestamp_ms
        if record.kind == "late":
            assert newest is not None and newest > ts, "a late record must follow later events"
            assert newest <= ts + max_late_s * 1000, "late by more than max_late_s"
        elif record.kind == "valid":
            assert newest is None or newest <= ts, "an on-time record is never out of order"
        newest = ts if newest is None else max(newest, ts)


def test_late_records_arrive_after_later_events_within_max_lateness(
    stream: GeneratedStream,
) -> None:
    _check_order(stream, 300)


def test_max_late_s_is_respected(start: datetime) -> None:
    stream = generate(GeneratorConfig(seed=4, start=start, days=0.3, scale=0.2, late_rate=0.2,
                                      max_late_s=30))
    assert _kinds(stream)["late"] > 100
    _check_order(stream, 30)


def test_duplicates_are_byte_identical_redeliveries(stream: GeneratedStream) -> None:
    delivered: dict[tuple, int] = {}
    duplicates = 0
    for position, record in enumerate(stream.records):
        identity = (record.topic, record.key, record.value, record.timestamp_ms)
        if record.kind == "duplicate":
            assert identity in delivered, "a duplicate repeats an earlier record"
            assert position > delivered[identity]
            duplicates += 1
        elif record.kind in ("valid", "late"):
            assert identity not in delivered
            delivered[identity] = position
    assert duplicates > 1000


def test_duplicates_come_soon_or_a_bit_later(stream: GeneratedStream) -> None:
    first_seen: dict[bytes, int] = {}
    newest = 0
    gaps = []
    for record in stream.records:
        if record.kind == "malformed":
            continue
        if record.kind == "duplicate":
            gaps.append(newest - first_seen[record.value])
        else:
            first_seen[record.value] = max(newest, record.timestamp_ms)
        newest = max(newest, record.timestamp_ms)
    assert sum(g <= 2000 for g in gaps) > 0.4 * len(gaps)
    assert sum(g > 10_000 for g in gaps) > 0.1 * len(gaps)
    # A duplicate follows its original's *delivery* by at most max_late_s, and a late
    # original is delivered up to max_late_s after its event time; records carry event
    # time only, so seen from them the gap is bounded by twice max_late_s.
    assert max(gaps) <= 2 * 300_000 + 2000


def test_malformed_records_sit_in_delivery_slots(stream: GeneratedStream) -> None:
    """A malformed record's timestamp is the delivery time of the slot it was injected into."""
    on_time = [(i, r.timestamp_ms) for i, r in enumerate(stream.records) if r.kind == "valid"]
    positions = [i for i, _ in on_time]
    for position, record in enumerate(stream.records):
        if record.kind != "malformed":
            continue
        k = bisect.bisect_left(positions, position)
        if k > 0:
            assert on_time[k - 1][1] <= record.timestamp_ms
        if k < len(on_time):
            assert record.timestamp_ms <= on_time[k][1]
