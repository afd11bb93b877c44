"""Sales totals: diffs of ledgers, combined across partitions, against a brute-force oracle."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.ledger import MemberLedger, apply
from pipeline.compute.sales.totals import (
    CombinedWindow,
    PartitionTotals,
    Totals,
    TotalsKey,
    apply_change,
    apply_rows,
    combine,
    contribution,
    split_totals_key,
    totals_key,
)
from schemas.events import Transaction

CAL = CommunityCalendar()
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3_600_000
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)


def ms(ts: datetime) -> int:
    return int(ts.timestamp()) * 1000 + ts.microsecond // 1000


def local_midnight_ms(ts_ms: int) -> int:
    local = datetime.fromtimestamp(ts_ms / 1000, SHANGHAI)
    return ms(local.replace(hour=0, minute=0, second=0, microsecond=0))


def txn(member: str, order: str, status: str, amount: int, ts: datetime,
        **attrs: str | None) -> Transaction:
    return Transaction(ts=ts, order_id=order, member_id=member, amount_fen=amount,
                       status=status, **attrs)


def totals_of(*txns: Transaction) -> dict[TotalsKey, Totals]:
    """One partition, one ledger per member, each transaction applied as its own change."""
    partials, ledgers = PartitionTotals(), {}
    for t in txns:
        old = ledgers.get(t.member_id)
        new = old.copy() if old else MemberLedger()
        apply(new, t)
        apply_change(partials, old, new, CAL)
        ledgers[t.member_id] = new
    return partials.rows


# --- Totals ------------------------------------------------------------------------------

def test_arithmetic_and_derived_values() -> None:
    a = Totals(orders=2, gmv_fen=7, refund_fen=3, paying_members=2, repeat_members=1)
    b = Totals(orders=1, gmv_fen=1)
    assert (a + b) - b == a and (a - a).is_zero() and not a.is_zero()
    assert a.net_gmv_fen == 4 and a.repurchase_rate == 0.5
    assert Totals().aov_fen is None and Totals().repurchase_rate is None
    cases = {(5, 2): 2, (7, 2): 4, (1, 3): 0, (2, 3): 1, (9, 6): 2, (15, 6): 2, (21, 6): 4,
             (0, 1): 0, (10**10, 3): 3_333_333_333}
    for (gmv, orders), aov in cases.items():
        assert Totals(orders=orders, gmv_fen=gmv).aov_fen == aov == round(gmv / orders)


def test_totals_wire() -> None:
    t = Totals(*range(1, 10))
    assert Totals.from_wire(json.loads(json.dumps(t.to_wire()))) == t
    assert Totals.from_wire([1, 2]) == Totals(orders=1, gmv_fen=2)
    assert Totals.from_wire(None) == Totals()


def test_totals_wire_is_backward_compatible() -> None:
    old = list(range(1, 10))  # a record written before joins / invited_joins / participants
    t = Totals.from_wire(old)
    assert t.values()[:9] == tuple(old) and (t.joins, t.invited_joins, t.participants) == (0,) * 3
    assert t.to_wire() == old + [0, 0, 0]
    new = Totals(joins=1, invited_joins=2, participants=3)
    assert new.to_wire()[-3:] == [1, 2, 3] and len(new.to_wire()) == 12
    assert Totals.from_wire(json.loads(json.dumps(new.to_wire()))) == new
    assert (new + new - new) == new and not new.is_zero()


@pytest.mark.parametrize("key", ["c1", "*", "", "|", "wx|moments", "a|b|hour|5", "x|"])
def test_keys_round_trip_with_bars_in_the_key(key: str) -> None:
    for dimension in ("all", "community", "campaign", "channel"):
        for kind, start in (("hour", 1_741_568_400_000), ("day", 0), ("all", 0)):
            text = totals_key(dimension, key, kind, start)
            assert split_totals_key(text) == (dimension, key, kind, start)


def test_attribution_dimensions_have_keys() -> None:
    for dimension in ("first_touch", "last_touch", "inviter"):
        for key in ("k|wx", "-|(direct)", "*|u|1"):
            text = totals_key(dimension, key, "all", 0)
            assert split_totals_key(text) == (dimension, key, "all", 0)


def test_bad_keys_are_refused() -> None:
    for text in ("", "all", "all|*|week|0", "region|x|hour|0", "all|*|hour|x", "all|hour|0"):
        with pytest.raises(ValueError):
            split_totals_key(text)
    with pytest.raises(ValueError):
        totals_key("all|x", "*", "hour", 0)


# --- single-member rules ----------------------------------------------------------------

def test_refund_before_order_moves_from_unmatched_to_the_orders_dimensions() -> None:
    refund = txn("m", "o1", "refunded", 300, T0 + timedelta(hours=2))
    paid = txn("m", "o1", "paid", 1000, T0, community_id="c1", channel="wx")
    day = local_midnight_ms(ms(T0))
    held = totals_of(refund)
    assert set(held) == {("all", "*", kind, start) for kind, start in
                         (("hour", ms(T0) + 2 * HOUR), ("day", day), ("all", 0))}
    assert held[("all", "*", "all", 0)] == Totals(unmatched_refunds=1, unmatched_refund_fen=300)
    for rows in (totals_of(refund, paid), totals_of(paid, refund), totals_of(refund, paid, refund)):
        assert rows[("community", "c1", "all", 0)] == Totals(
            orders=1, gmv_fen=1000, refunds=1, refund_fen=300, paying_members=1)
        assert rows[("channel", "wx", "hour", ms(T0))] == Totals(
            orders=1, gmv_fen=1000, paying_members=1)
        assert rows[("channel", "wx", "hour", ms(T0) + 2 * HOUR)] == Totals(
            refunds=1, refund_fen=300)
        assert rows[("all", "*", "day", day)].net_gmv_fen == 700
        assert not any(t.unmatched_refunds for t in rows.values())
        assert not any(dim == "campaign" for dim, *_ in rows)


def test_refund_larger_than_order_is_capped() -> None:
    rows = totals_of(txn("m", "o1", "paid", 500, T0),
                     txn("m", "o1", "refunded", 800, T0 + timedelta(minutes=5)))
    assert rows[("all", "*", "all", 0)] == Totals(
        orders=1, gmv_fen=500, refunds=1, refund_fen=500, refunds_capped=1, paying_members=1)
    assert rows[("all", "*", "all", 0)].net_gmv_fen == 0


def test_unmatched_refund_is_never_subtracted_from_gmv() -> None:
    # member m2 refunds m1's order: re-keyed by member, it is unmatched in m2's ledger
    rows = totals_of(txn("m1", "o1", "paid", 500, T0, campaign_id="k"),
                     txn("m2", "o1", "refunded", 200, T0, campaign_id="k"),
                     txn("m2", "o2", "refunded", 50, T0))
    assert rows[("all", "*", "all", 0)] == Totals(
        orders=1, gmv_fen=500, unmatched_refunds=2, unmatched_refund_fen=250, paying_members=1)
    assert rows[("campaign", "k", "all", 0)] == Totals(orders=1, gmv_fen=500, paying_members=1)


def test_conflicting_orders_count_once_with_the_smaller_fact() -> None:
    a = txn("m", "o1", "paid", 900, T0, channel="a")
    b = txn("m", "o1", "paid", 700, T0, channel="b")
    for rows in (totals_of(a, b), totals_of(b, a), totals_of(b, a, b, a)):
        assert rows[("all", "*", "all", 0)] == Totals(orders=1, gmv_fen=700, paying_members=1)
        assert ("channel", "a", "all", 0) not in rows
        assert rows[("channel", "b", "all", 0)].orders == 1


def test_day_boundary_and_repurchase_across_windows() -> None:
    late = datetime(2025, 3, 10, 23, 30, tzinfo=SHANGHAI)
    early = datetime(2025, 3, 11, 0, 30, tzinfo=SHANGHAI)
    rows = totals_of(txn("m", "o1", "paid", 100, late, community_id="c"),
                     txn("m", "o2", "paid", 300, early, community_id="c"),
                     txn("n", "o3", "paid", 50, early, channel=""))
    day1, day2 = ms(datetime(2025, 3, 10, tzinfo=SHANGHAI)), ms(early.replace(minute=0, hour=0))
    assert day2 - day1 == 24 * HOUR and CAL.day_number(ms(late)) + 1 == CAL.day_number(ms(early))
    assert rows[("community", "c", "day", day1)] == Totals(orders=1, gmv_fen=100,
                                                           paying_members=1)
    assert rows[("community", "c", "day", day2)] == Totals(orders=1, gmv_fen=300,
                                                           paying_members=1)
    assert rows[("community", "c", "all", 0)] == Totals(orders=2, gmv_fen=400, paying_members=1,
                                                        repeat_members=1)
    assert rows[("all", "*", "all", 0)].repurchase_rate == 0.5
    assert rows[("all", "*", "day", day2)] == Totals(orders=2, gmv_fen=350, paying_members=2)
    assert rows[("all", "*", "hour", ms(early) - 30 * 60_000)].orders == 2
    assert not any(dim == "channel" for dim, *_ in rows)  # "" is no channel


def test_reapplying_the_same_ledger_changes_nothing() -> None:
    ledger = MemberLedger()
    apply(ledger, txn("m", "o1", "paid", 100, T0, community_id="c"))
    partials = PartitionTotals()
    assert apply_change(partials, None, ledger, CAL)
    before = dict(partials.rows)
    assert apply_change(partials, ledger, ledger.copy(), CAL) == set()
    assert partials.rows == before
    dropped = apply_change(partials, ledger, None, CAL)
    assert dropped == set(before) and partials.rows == {}
    assert all(partials.get(key).is_zero() for key in dropped)


def test_apply_change_is_apply_rows_of_the_contributions() -> None:
    old = MemberLedger()
    apply(old, txn("m", "o1", "paid", 100, T0, community_id="c"))
    new = old.copy()
    apply(new, txn("m", "o2", "paid", 50, T0 + timedelta(hours=1), channel="wx"))
    via_change, via_rows = PartitionTotals(), PartitionTotals()
    for before, after in ((None, old), (old, new), (new, old), (old, None)):
        changed = apply_change(via_change, before, after, CAL)
        rows = [contribution(x, CAL) if x is not None else {} for x in (before, after)]
        assert apply_rows(via_rows, *rows) == changed
        assert via_rows == via_change
    assert via_rows.rows == {}
    extra = {("inviter", "*|u", "all", 0): Totals(invited_joins=1)}
    assert apply_rows(via_rows, {}, extra) == set(extra) and via_rows.rows == extra
    assert apply_rows(via_rows, extra, dict(extra)) == set()
    assert apply_rows(via_rows, extra, {}) == set(extra) and via_rows.rows == {}


def test_partition_totals_wire() -> None:
    partials = PartitionTotals(totals_of(
        txn("m", "o1", "paid", 100, T0, community_id="c", channel="a|b"),
        txn("m", "o2", "refunded", 100, T0)))
    wire = json.loads(json.dumps(partials.to_wire()))
    assert PartitionTotals.from_wire(wire) == partials
    assert PartitionTotals.from_wire(None) == PartitionTotals()


# --- combining partitions ---------------------------------------------------------------

def test_combined_window_ignores_stale_and_duplicate_revisions() -> None:
    window = CombinedWindow()
    assert window.offer(0, 5, Totals(orders=1))
    assert not window.offer(0, 5, Totals(orders=9))  # duplicate revision
    assert not window.offer(0, 3, Totals(orders=9))  # stale
    assert window.offer(1, 2, Totals(orders=2, gmv_fen=4))
    assert not window.offer(1, 4, Totals(orders=2, gmv_fen=4))  # newer, same totals
    assert not window.offer(2, 1, Totals())
    assert window.value() == (10, Totals(orders=3, gmv_fen=4))
    assert window.value() == combine(window.parts)
    assert CombinedWindow.from_wire(json.loads(json.dumps(window.to_wire()))) == window
    assert CombinedWindow.from_wire(None) == CombinedWindow()


# --- brute force ------------------------------------------------------------------------

COMMUNITIES = [None, "c1", "c2"]
CAMPAIGNS = [None, "k1", "k2"]
CHANNELS = [None, "", "wx", "wx|moments"]


def random_facts(rng: random.Random, members: list[str]) -> list[Transaction]:
    """Distinct facts: orders, refunds (some before or larger than the order, some of orders
    that never arrive or belong to another member) and conflicting versions."""
    start = T0 - timedelta(hours=30)
    facts, order_no = [], 0

    def when() -> datetime:
        return start + timedelta(minutes=rng.randrange(0, 4 * 24 * 60), seconds=rng.random())

    for member in members:
        for _ in range(rng.randrange(0, 6)):
            order_no += 1
            order = f"o{order_no}"
            attrs = {"community_id": rng.choice(COMMUNITIES),
                     "campaign_id": rng.choice(CAMPAIGNS), "channel": rng.choice(CHANNELS)}
            amount, paid_at = rng.randrange(0, 20_000), when()
            has_paid = rng.random() < 0.85
            if has_paid:
                facts.append(txn(member, order, "paid", amount, paid_at, **attrs))
                if rng.random() < 0.15:  # a conflicting version
                    facts.append(txn(member, order, "paid", rng.randrange(0, 20_000),
                                     rng.choice([paid_at, when()]),
                                     **{**attrs, "channel": rng.choice(CHANNELS)}))
            if rng.random() < 0.4 or not has_paid:
                refunder = member if rng.random() < 0.9 else rng.choice(members)
                refund_at = paid_at + timedelta(minutes=rng.randrange(-30, 3000))
                facts.append(txn(refunder, order, "refunded",
                                 rng.randrange(0, amount * 3 // 2 + 2), refund_at))
                if rng.random() < 0.1:
                    facts.append(txn(refunder, order, "refunded", rng.randrange(0, 500),
                                     refund_at))
    return facts


def oracle(facts: list[Transaction]) -> dict[TotalsKey, Totals]:
    """Every row from scratch: pick each fact's winning version, then count."""
    won: dict[tuple[str, str, str], Transaction] = {}

    def rank(t: Transaction) -> tuple:
        opt = [(v is not None, v or "") for v in (t.community_id, t.campaign_id, t.channel)]
        base = (ms(t.ts), t.amount_fen)
        return base + tuple(opt) if t.status == "paid" else base

    for t in facts:
        ident = (t.member_id, t.order_id, t.status)
        if ident not in won or rank(t) < rank(won[ident]):
            won[ident] = t

    def wins(ts_ms: int) -> list[tuple[str, int]]:
        return [("hour", ts_ms - ts_ms % HOUR), ("day", local_midnight_ms(ts_ms)), ("all", 0)]

    def dims(t: Transaction) -> list[tuple[str, str]]:
        named = [("community", t.community_id), ("campaign", t.campaign_id),
                 ("channel", t.channel)]
        return [("all", "*")] + [(d, v) for d, v in named if v]

    rows: dict[TotalsKey, Totals] = defaultdict(Totals)
    payers: dict[TotalsKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (member, order, status), t in won.items():
        paid = won.get((member, order, "paid"))
        if status == "paid":
            for d, v in dims(t):
                for kind, start in wins(ms(t.ts)):
                    rows[d, v, kind, start].orders += 1
                    rows[d, v, kind, start].gmv_fen += t.amount_fen
                    payers[d, v, kind, start][member] += 1
        elif paid is None:
            for kind, start in wins(ms(t.ts)):
                rows["all", "*", kind, start].unmatched_refunds += 1
                rows["all", "*", kind, start].unmatched_refund_fen += t.amount_fen
        else:
            for d, v in dims(paid):
                for kind, start in wins(ms(t.ts)):
                    row = rows[d, v, kind, start]
                    row.refunds += 1
                    row.refund_fen += min(t.amount_fen, paid.amount_fen)
                    row.refunds_capped += t.amount_fen > paid.amount_fen
    for key, counts in payers.items():
        rows[key].paying_members = len(counts)
        rows[key].repeat_members = sum(1 for n in counts.values() if n >= 2)
    return {key: row for key, row in rows.items() if not row.is_zero()}


class Partition:
    """One worker partition: member ledgers and partial totals, checkpointed as wire forms."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ledgers: dict[str, MemberLedger] = {}
        self.partials = PartitionTotals()

    def process(self, batch: list[Transaction], end_offset: int,
                outbox: list[tuple[TotalsKey, int, int, Totals]]) -> None:
        """Apply a batch member by member; publish changed rows at revision ``end_offset``."""
        by_member: dict[str, list[Transaction]] = defaultdict(list)
        for t in batch:
            by_member[t.member_id].append(t)
        changed: set[TotalsKey] = set()
        for member, txns in by_member.items():
            old = self.ledgers.get(member)
            new = old.copy() if old is not None else MemberLedger()
            for t in txns:
                apply(new, t)
            changed |= apply_change(self.partials, old, new, CAL)
            self.ledgers[member] = new
        outbox.extend((key, self.number, end_offset, self.partials.get(key)) for key in changed)

    def checkpoint(self) -> str:
        return json.dumps([{m: led.to_wire() for m, led in self.ledgers.items()},
                           self.partials.to_wire()])

    def restore(self, saved: str) -> None:
        ledgers, partials = json.loads(saved)
        self.ledgers = {m: MemberLedger.from_wire(w) for m, w in ledgers.items()}
        self.partials = PartitionTotals.from_wire(partials)


def run_partition(rng: random.Random, part: Partition, log: list[Transaction],
                  outbox: list) -> None:
    """Consume the partition's log in random batches; crash once, restore the last
    checkpoint and replay from its offset (different batches, same records)."""
    crash_at = rng.randrange(0, len(log) + 1) if rng.random() < 0.7 else None
    saved, offset = (part.checkpoint(), 0), 0
    while offset < len(log):
        if rng.random() < 0.3:
            saved = (part.checkpoint(), offset)
        end = min(len(log), offset + rng.randrange(1, 8))
        part.process(log[offset:end], end, outbox)
        if crash_at is not None and end >= crash_at:
            crash_at = None
            part.restore(saved[0])
            end = saved[1]
        offset = end


@pytest.mark.parametrize("seed", range(40))
def test_partitions_combined_agree_with_the_oracle(seed: int) -> None:
    rng = random.Random(seed)
    members = [f"m{i}" for i in range(rng.randrange(1, 9))]
    facts = random_facts(rng, members)
    partition_of = {m: rng.randrange(3) for m in members}
    delivered = facts + [rng.choice(facts) for _ in range(len(facts) // 2)] if facts else []
    rng.shuffle(delivered)
    logs: dict[int, list[Transaction]] = defaultdict(list)
    for t in delivered:
        logs[partition_of[t.member_id]].append(t)

    outbox: list[tuple[TotalsKey, int, int, Totals]] = []
    parts = {n: Partition(n) for n in logs}
    for n, log in logs.items():
        run_partition(rng, parts[n], log, outbox)
        # the partials are exactly the sum of the partition's members' contributions
        expected: dict[TotalsKey, Totals] = defaultdict(Totals)
        for ledger in parts[n].ledgers.values():
            for key, t in contribution(ledger, CAL).items():
                expected[key] = expected[key] + t
        assert parts[n].partials.rows == {k: t for k, t in expected.items() if not t.is_zero()}

    # delivery to the combiner: out of order and duplicated, through a saved state
    deliveries = outbox + rng.sample(outbox, len(outbox) // 3)
    rng.shuffle(deliveries)
    combined: dict[TotalsKey, CombinedWindow] = defaultdict(CombinedWindow)
    for i, (key, partition, revision, totals) in enumerate(deliveries):
        if i % 17 == 0:
            combined[key] = CombinedWindow.from_wire(combined[key].to_wire())
        combined[key].offer(partition, revision, totals)

    result = {key: window.value()[1] for key, window in combined.items()}
    want = oracle(facts)
    assert {k: t for k, t in result.items() if not t.is_zero()} == want
    for key, window in combined.items():
        revision, _ = window.value()
        assert revision == sum(r for r, _ in window.parts.values())
        assert split_totals_key(totals_key(*key)) == key
    assert sum(t.orders for (d, _, k, _), t in want.items() if d == "all" and k == "all") == (
        len({(t.member_id, t.order_id) for t in facts if t.status == "paid"}))
