"""Member records: activity-day bits, set once, shifted as days pass."""

from __future__ import annotations

import random

from pipeline.compute.health.members import DAYS_KEPT, MemberRecord


def test_any_in_agrees_with_day_by_day_checks() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        record = MemberRecord(day=rng.randrange(100, 140), active=rng.getrandbits(DAYS_KEPT))
        first, last = rng.randrange(60, 150), rng.randrange(60, 150)
        expected = any(record.has("active", d) for d in range(first, last + 1))
        assert record.any_in("active", first, last) == expected


def test_marking_is_idempotent_and_days_shift() -> None:
    record = MemberRecord()
    assert record.mark(200, active=True) == (True, True)
    assert record.mark(200, active=True) == (False, False)
    assert record.mark(199, active=False) == (True, False)
    assert record.mark(230, active=True) == (True, True)  # 31 days kept: 200 still there
    assert record.days("active") == [200, 230] and record.days("spoke") == [200, 230]
    assert record.mark(231, active=False) == (True, False)
    assert record.days("active") == [230]  # day 200 fell out of the 31 days
    assert MemberRecord.from_wire(record.to_wire()) == record
