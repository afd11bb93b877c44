"""The suite's generated streams do not depend on the day it runs.

The generator may read the clock only in ``GeneratorConfig.resolved_start`` when
``start`` is ``None`` (and in its plausibility check, which refuses periods in the
future but shapes nothing).  Each stream the tests use (``tests.support.TEST_STREAMS``)
is generated under two different "todays", with every clock the generator could
read pinned to that day, and must come out byte for byte the same, ground truth
included.  ``test_the_two_todays_differ_for_a_relative_stream`` proves the pinning
works: a stream relative to now (``start=None``) does change between the two days.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

import schemas.base
from pipeline.devtools.generator import GeneratorConfig, generate
from tests.support import REFERENCE_START, TEST_STREAMS

TODAYS = (datetime(2026, 11, 9, 6, 15, tzinfo=UTC), datetime(2027, 3, 1, 18, 40, tzinfo=UTC))
"""Two "todays" after every test stream's end: other days, hours and weekdays."""


def _frozen_datetime(moment: datetime) -> type[datetime]:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

        @classmethod
        def utcnow(cls):
            return moment.astimezone(UTC).replace(tzinfo=None)

        @classmethod
        def today(cls):
            return cls.now()

    return Frozen


@contextmanager
def today(moment: datetime) -> Iterator[None]:
    """Pin the clocks the generator can read (``datetime.now`` and ``utc_now`` as its modules
    import them, ``time.time``) to ``moment``."""
    frozen = _frozen_datetime(moment)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schemas.base, "utc_now", lambda: moment)
        patch.setattr(time, "time", moment.timestamp)
        patch.setattr(time, "time_ns", lambda: int(moment.timestamp()) * 1_000_000_000)
        for name, module in list(sys.modules.items()):
            if not name.startswith("pipeline.devtools.generator") or module is None:
                continue
            if getattr(module, "datetime", None) is datetime:
                patch.setattr(module, "datetime", frozen)
            if getattr(module, "utc_now", None) is not None:
                patch.setattr(module, "utc_now", lambda: moment)
        yield


def fingerprint(config: GeneratorConfig) -> tuple[str, str]:
    """SHA-256 of the records, in delivery order, and of the ground truth."""
    stream = generate(config)
    records = hashlib.sha256()
    for record in stream.records:
        records.update(repr(record).encode())  # every field: topic, key, value, timestamp, kind
    truth = hashlib.sha256(stream.truth.to_json().encode()).hexdigest()
    return records.hexdigest(), truth


@pytest.mark.parametrize("name", sorted(TEST_STREAMS))
def test_each_test_stream_is_the_same_whatever_the_day(name: str) -> None:
    config = TEST_STREAMS[name]
    assert config.start is not None, f"{name}: a test stream needs a fixed start"
    assert config.resolved_start(TODAYS[0]) == config.resolved_start(TODAYS[1])
    prints = []
    for moment in TODAYS:
        with today(moment):
            prints.append(fingerprint(config))
    assert prints[0][0] == prints[1][0], f"{name}: records depend on the day"
    assert prints[0][1] == prints[1][1], f"{name}: ground truth depends on the day"


def test_the_two_todays_differ_for_a_relative_stream() -> None:
    """Guard of the test above: the pinned clocks reach the generator and move a
    stream that starts relative to now (as a test stream would with ``start=None``)."""
    relative = GeneratorConfig(start=None, seed=1, communities=1, days=0.1, scale=0.1)
    assert relative.resolved_start(TODAYS[0]) != relative.resolved_start(TODAYS[1])
    prints = []
    for moment in TODAYS:
        with today(moment):
            hour = moment.replace(minute=0, second=0, microsecond=0)
            assert GeneratorConfig(start=None, days=1).resolved_start() == hour - timedelta(days=1)
            prints.append(fingerprint(relative))
    assert prints[0][0] != prints[1][0] and prints[0][1] != prints[1][1]


def test_the_reference_start_is_a_monday_at_midnight_utc() -> None:
    assert REFERENCE_START.tzinfo is UTC and REFERENCE_START.weekday() == 0
    midnight = REFERENCE_START.replace(hour=0, minute=0, second=0, microsecond=0)
    assert midnight == REFERENCE_START
