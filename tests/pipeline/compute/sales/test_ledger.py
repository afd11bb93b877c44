"""Member ledgers: one paid and one refund fact per order, whatever the delivery order."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.compute.sales.ledger import (
    MemberLedger,
    OrderEntry,
    Paid,
    Refund,
    apply,
    to_ms,
)
from schemas.events import Transaction

T0 = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)


def txn(order: str, status: str, amount: int, minutes: int = 0, **attrs: str | None
        ) -> Transaction:
    return Transaction(ts=T0 + timedelta(minutes=minutes), order_id=order, member_id="m1",
                       amount_fen=amount, status=status, **attrs)


def test_paid_then_refund_and_duplicates() -> None:
    ledger = MemberLedger()
    assert apply(ledger, txn("o1", "paid", 1000, community_id="c1", channel="wx")) == "new"
    assert apply(ledger, txn("o1", "paid", 1000, community_id="c1", channel="wx")) == "duplicate"
    assert apply(ledger, txn("o1", "refunded", 400, 60)) == "new"
    assert apply(ledger, txn("o1", "refunded", 400, 60)) == "duplicate"
    entry = ledger.orders["o1"]
    assert entry.paid == Paid(to_ms(T0), 1000, "c1", None, "wx")
    assert entry.refund == Refund(to_ms(T0) + 3_600_000, 400)
    assert entry.matched and entry.refund_applied_fen == 400 and entry.excess_fen == 0


def test_refund_before_order_is_held_then_matched_once() -> None:
    ledger = MemberLedger()
    assert apply(ledger, txn("o1", "refunded", 300, 5)) == "refund_before_order"
    assert apply(ledger, txn("o1", "refunded", 300, 5)) == "duplicate"
    assert not ledger.orders["o1"].matched and ledger.orders["o1"].refund_applied_fen == 0
    assert apply(ledger, txn("o1", "paid", 1000)) == "new"
    assert ledger.orders["o1"].matched and ledger.orders["o1"].refund_applied_fen == 300


def test_refund_larger_than_order_is_capped_and_flagged() -> None:
    entry = OrderEntry(Paid(0, 500), Refund(10, 800))
    assert entry.refund_applied_fen == 500 and entry.excess_fen == 300
    assert OrderEntry(None, Refund(10, 800)).excess_fen == 0


def test_refund_event_attributes_are_ignored() -> None:
    ledger = MemberLedger()
    apply(ledger, txn("o1", "refunded", 100, community_id="other", channel="x"))
    apply(ledger, txn("o1", "paid", 100, community_id="c1"))
    assert ledger.orders["o1"].refund == Refund(to_ms(T0), 100)
    assert ledger.orders["o1"].paid.community_id == "c1"


VARIANTS = [
    txn("o1", "paid", 1000, 0, channel="b"),
    txn("o1", "paid", 1000, 0, channel="a"),
    txn("o1", "paid", 1000, 0),  # no channel sorts first
    txn("o1", "paid", 900, 0, channel="z"),
    txn("o1", "paid", 100, 1),
    txn("o1", "refunded", 50, 10),
    txn("o1", "refunded", 40, 10),
    txn("o1", "refunded", 900, 9),
]


def test_conflicts_keep_the_smaller_fact_in_any_order() -> None:
    expected = OrderEntry(Paid(to_ms(T0), 900, None, None, "z"),
                          Refund(to_ms(T0) + 9 * 60_000, 900))
    for perm in itertools.permutations(VARIANTS):
        ledger = MemberLedger()
        outcomes = [apply(ledger, t) for t in perm]
        assert ledger.orders == {"o1": expected}
        assert outcomes.count("conflict") == len(VARIANTS) - 2
        if perm[0].status == "refunded":
            assert outcomes[0] == "refund_before_order"


def test_random_delivery_converges() -> None:
    rng = random.Random(7)
    base = [txn(f"o{i}", s, rng.randrange(0, 5000), rng.randrange(0, 3000),
                channel=rng.choice([None, "a", "b|c"]))
            for i in range(30) for s in ("paid", "refunded") if rng.random() < 0.8]
    reference = MemberLedger()
    for t in base:
        apply(reference, t)
    for _ in range(20):
        stream = base + rng.sample(base, 10)
        rng.shuffle(stream)
        ledger = MemberLedger()
        outcomes = [apply(ledger, t) for t in stream]
        assert ledger == reference
        assert outcomes.count("duplicate") == 10


def test_wire_round_trip_is_json() -> None:
    ledger = MemberLedger()
    for t in VARIANTS[:2] + [txn("o2", "refunded", 7, community_id="c9"),
                             txn("o3", "paid", 0, community_id="c", campaign_id="k")]:
        apply(ledger, t)
    wire = json.loads(json.dumps(ledger.to_wire()))
    assert wire["o2"] == [None, [to_ms(T0), 7]]
    assert wire["o3"] == [[to_ms(T0), 0, "c", "k", None], None]
    assert MemberLedger.from_wire(wire) == ledger
    assert MemberLedger.from_wire(None) == MemberLedger() == MemberLedger.from_wire({})


def test_copy_is_independent() -> None:
    ledger = MemberLedger()
    apply(ledger, txn("o1", "refunded", 5))
    copy = ledger.copy()
    apply(ledger, txn("o1", "paid", 5))
    apply(ledger, txn("o2", "paid", 5))
    assert copy.orders == {"o1": OrderEntry(None, Refund(to_ms(T0), 5))}


def test_to_ms_is_exact_and_zone_independent() -> None:
    ts = datetime(2025, 3, 10, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=8)))
    assert to_ms(ts) == to_ms(ts.astimezone(UTC)) == 1_741_579_200_999


def test_unknown_status_is_refused() -> None:
    bad = txn("o1", "paid", 1).model_copy(update={"status": "voided"})
    with pytest.raises(ValueError):
        apply(MemberLedger(), bad)
