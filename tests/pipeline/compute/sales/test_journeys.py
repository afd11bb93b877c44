"""Journeys: channel attribution and fission rows, exact under any delivery, against an oracle."""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.journeys import (
    DEFAULT_WINDOW_MS,
    Join,
    Journey,
    Touch,
    attribution_contribution,
    attribution_key,
    member_contribution,
    split_attribution_key,
)
from pipeline.compute.sales.ledger import MemberLedger, apply, to_ms
from pipeline.compute.sales.totals import (
    PartitionTotals,
    Totals,
    TotalsKey,
    apply_rows,
    contribution,
    split_totals_key,
    totals_key,
)
from schemas.events import Transaction

CAL = CommunityCalendar()
SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000
T0 = to_ms(datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI))
ATTRIBUTION = ("first_touch", "last_touch", "inviter")


def paid(order: str, amount: int, ts_ms: int, member: str = "m", status: str = "paid",
         **attrs: str | None) -> Transaction:
    ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    return Transaction(ts=ts, order_id=order, member_id=member, amount_fen=amount,
                       status=status, **attrs)


def ledger_of(*txns: Transaction) -> MemberLedger:
    ledger = MemberLedger()
    for t in txns:
        apply(ledger, t)
    return ledger


def journey_of(touches: tuple[Touch, ...] = (), joins: tuple[Join, ...] = (),
               participations: tuple[tuple[str, int], ...] = ()) -> Journey:
    journey = Journey()
    for touch in touches:
        journey.add_touch(touch)
    for join in joins:
        journey.add_join(join)
    for campaign, ts in participations:
        journey.add_participation(campaign, ts)
    return journey


def models(rows: dict[TotalsKey, Totals], kind: str = "all") -> dict[tuple[str, str], Totals]:
    """The first/last touch rows of one window kind, by (model, key)."""
    return {(d, k): t for (d, k, w, _), t in rows.items()
            if d in ("first_touch", "last_touch") and w == kind}


# --- Journey ------------------------------------------------------------------------------

TOUCH_VERSIONS = [Touch(T0 + 5, "t1", "k2", "a"), Touch(T0, "t1", "k2", "b"),
                  Touch(T0, "t1", "k1", "z"), Touch(T0, "t1", "k1", "y")]
JOIN_VERSIONS = [Join(T0, "e1", "c2"), Join(T0, "e1", "c1", "u2", "qr"),
                 Join(T0, "e1", "c1", "u1", "qr"), Join(T0, "e1", "c1", None, "x"),
                 Join(T0 - 1, "e1", "c9", "u9", "qr9")]


def test_add_is_idempotent_and_order_independent() -> None:
    for perm in itertools.permutations(TOUCH_VERSIONS):
        journey = Journey()
        changed = [journey.add_touch(t) for t in perm + perm]
        assert journey.touches == {"t1": Touch(T0, "t1", "k1", "y")}
        assert changed[0] and not any(changed[len(perm):])
    for perm in itertools.permutations(JOIN_VERSIONS):
        journey = Journey()
        changed = [journey.add_join(j) for j in perm + perm]
        assert journey.joins == {"e1": Join(T0 - 1, "e1", "c9", "u9", "qr9")}
        assert changed[0] and not any(changed[len(perm):])
    for perm in itertools.permutations([T0 + 3, T0, T0 + 1]):
        journey = Journey()
        assert journey.add_participation("k", perm[0])
        assert journey.add_participation("k", perm[1]) == (perm[1] < perm[0])
        assert not journey.add_participation("k", max(perm))
        for ts in perm:
            journey.add_participation("k", ts)
        assert journey.participations == {"k": T0}


def test_journey_wire_and_copy() -> None:
    journey = journey_of((Touch(T0, "t2", "k", "a|b"), Touch(T0, "t1", "k", "c")),
                         (Join(T0, "e1", "c1", None, None), Join(T0, "e0", "c1", "u", "q")),
                         (("k", T0), ("j", T0 + 1)))
    wire = json.loads(json.dumps(journey.to_wire()))
    assert wire == {"t": [[T0, "t1", "k", "c"], [T0, "t2", "k", "a|b"]],
                    "j": [[T0, "e0", "c1", "u", "q"], [T0, "e1", "c1", None, None]],
                    "p": {"j": T0 + 1, "k": T0}}
    assert Journey.from_wire(wire) == journey
    assert Journey.from_wire(None) == Journey() == Journey.from_wire({})
    assert Journey().to_wire() == {}
    assert Journey.from_wire({"p": {"k": 1}}) == journey_of(participations=(("k", 1),))
    copy = journey.copy()
    journey.add_touch(Touch(0, "t9", "k", "x"))
    journey.add_join(Join(0, "e9", "c"))
    journey.add_participation("k", 0)
    assert copy == Journey.from_wire(wire) != journey


# --- attribution rules ------------------------------------------------------------------

def test_window_edges() -> None:
    t, window = T0 + 10 * DAY, 2 * DAY
    for touch_ts, counts in ((t - window, True), (t - window - 1, False), (t, True),
                             (t + 1, False), (t - 1, True)):
        journey = journey_of((Touch(touch_ts, "t", "k", "wx"),), (Join(t, "e", "c"),))
        rows = attribution_contribution(journey, None, CAL, window)
        want = "k|wx" if counts else "-|(direct)"
        assert set(models(rows)) == {("first_touch", want), ("last_touch", want)}, touch_ts
    assert DEFAULT_WINDOW_MS == 7 * DAY
    journey = journey_of((Touch(t - 7 * DAY, "t", "k", "wx"),), (Join(t, "e", "c"),))
    assert ("first_touch", "k|wx") in models(attribution_contribution(journey, None, CAL))
    with pytest.raises(ValueError):
        attribution_contribution(journey, None, CAL, -1)


def test_first_and_last_touch_break_ties_by_touch_id() -> None:
    touches = (Touch(T0, "b", "k1", "wx"), Touch(T0, "a", "k2", "qr"),
               Touch(T0 - HOUR, "z", "k3", "old"), Touch(T0 - HOUR, "y", "k4", "older"),
               Touch(T0 + 1, "0", "k5", "later"))
    journey = journey_of(touches, (Join(T0, "e", "c"),))
    rows = models(attribution_contribution(journey, None, CAL))
    assert set(rows) == {("first_touch", "k4|older"), ("last_touch", "k1|wx")}
    journey = journey_of(touches[:2], (Join(T0, "e", "c"),))
    rows = models(attribution_contribution(journey, None, CAL))
    assert set(rows) == {("first_touch", "k2|qr"), ("last_touch", "k1|wx")}


def test_fallback_to_own_channel_then_direct() -> None:
    journey = journey_of((Touch(T0 + 1, "late", "k", "wx"),),
                         (Join(T0, "e1", "c", None, "qr|7"), Join(T0, "e2", "c", None, ""),
                          Join(T0, "e3", "c")))
    ledger = ledger_of(paid("o1", 100, T0, channel="utm", campaign_id="camp"),
                       paid("o2", 50, T0), paid("o3", 7, T0, channel=""))
    rows = attribution_contribution(journey, ledger, CAL)
    day = CAL.day_bounds_ms(CAL.day_number(T0))[0]
    for model in ("first_touch", "last_touch"):
        assert rows[(model, "-|qr|7", "day", day)] == Totals(joins=1)
        assert rows[(model, "-|utm", "day", day)] == Totals(orders=1, gmv_fen=100)
        assert rows[(model, "-|(direct)", "day", day)] == Totals(orders=2, gmv_fen=57, joins=2)
        assert (model, "-|utm", "hour", T0) not in rows  # credit: days and cumulative only
    assert split_totals_key(totals_key("first_touch", "-|qr|7", "all", 0)) == (
        "first_touch", "-|qr|7", "all", 0)
    assert split_attribution_key("-|qr|7") == ("-", "qr|7") and attribution_key(None, "x") == "-|x"
    with pytest.raises(ValueError):
        split_attribution_key("nobar")


def test_participation_only_uses_its_campaigns_touches() -> None:
    touches = (Touch(T0 - 3 * HOUR, "t1", "k1", "wx"), Touch(T0 - 2 * HOUR, "t2", "k2", "qr"),
               Touch(T0 - HOUR, "t3", "k1", "sms"), Touch(T0 + HOUR, "t4", "k3", "late"))
    journey = journey_of(touches, participations=(("k2", T0), ("k1", T0), ("k3", T0)))
    rows = models(attribution_contribution(journey, None, CAL))
    assert rows == {("first_touch", "k2|qr"): Totals(participants=1),
                    ("last_touch", "k2|qr"): Totals(participants=1),
                    ("first_touch", "k1|wx"): Totals(participants=1),
                    ("last_touch", "k1|sms"): Totals(participants=1),
                    ("first_touch", "-|(direct)"): Totals(participants=1),
                    ("last_touch", "-|(direct)"): Totals(participants=1)}


def test_orders_are_attributed_gross_and_joins_by_any_campaign() -> None:
    journey = journey_of((Touch(T0 - DAY, "t1", "k1", "wx"), Touch(T0 - HOUR, "t2", "k2", "qr")),
                         (Join(T0, "e1", "c1", "u1", "ch"),))
    ledger = ledger_of(paid("o1", 1000, T0), paid("o1", 800, T0 + HOUR, status="refunded"),
                       paid("o2", 5, T0 + HOUR, status="refunded"))
    rows = attribution_contribution(journey, ledger, CAL)
    day = CAL.day_bounds_ms(CAL.day_number(T0))[0]
    want = Totals(orders=1, gmv_fen=1000, joins=1, invited_joins=1)
    for kind, start in (("day", day), ("all", 0)):
        assert rows[("first_touch", "k1|wx", kind, start)] == want
        assert rows[("last_touch", "k2|qr", kind, start)] == want
    assert {d for d, *_ in rows} == set(ATTRIBUTION)
    assert len(rows) == 2 * 2 + 2


def test_inviter_rows_under_the_last_touch_campaign_and_star() -> None:
    journey = journey_of((Touch(T0 - 2 * HOUR, "t1", "k1", "wx"),
                          Touch(T0 - HOUR, "t2", "k2", "qr")),
                         (Join(T0, "e1", "c1", "u|1"), Join(T0 - 3 * HOUR, "e2", "c2", "u|1"),
                          Join(T0, "e3", "c3", "u2", "q"), Join(T0, "e4", "c3", None, "q"),
                          Join(T0, "e5", "c3", "", "q")))
    rows = attribution_contribution(journey, None, CAL)
    inviters = {k: t for (d, k, w, s), t in rows.items() if d == "inviter" and (w, s) == ("all", 0)}
    assert inviters == {"k2|u|1": Totals(invited_joins=1), "-|u|1": Totals(invited_joins=1),
                        "*|u|1": Totals(invited_joins=2), "k2|u2": Totals(invited_joins=1),
                        "*|u2": Totals(invited_joins=1)}
    assert all(d != "inviter" or (w, s) == ("all", 0) for d, _, w, s in rows)
    assert models(rows)[("first_touch", "k1|wx")] == Totals(joins=4, invited_joins=2)
    assert models(rows)[("last_touch", "-|(direct)")] == Totals(joins=1, invited_joins=1)


def test_member_contribution_keeps_the_sales_rows() -> None:
    ledger = ledger_of(paid("o1", 300, T0, community_id="c", channel="wx", campaign_id="k"),
                       paid("o1", 100, T0 + HOUR, status="refunded"))
    journey = journey_of((Touch(T0, "t", "k", "qr"),), (Join(T0, "e", "c", "u"),))
    rows = member_contribution(ledger, journey, CAL)
    sales = contribution(ledger, CAL)
    assert {k: v for k, v in rows.items() if k[0] not in ATTRIBUTION} == sales
    assert {k: v for k, v in rows.items() if k[0] in ATTRIBUTION} == (
        attribution_contribution(journey, ledger, CAL))
    assert member_contribution(None, None, CAL) == {}
    assert member_contribution(ledger, None, CAL) == {
        **sales, **attribution_contribution(None, ledger, CAL)}
    assert set(member_contribution(None, journey, CAL)) == set(
        attribution_contribution(journey, None, CAL))


def test_a_late_touch_moves_earlier_conversions() -> None:
    ledger = ledger_of(paid("o1", 300, T0, channel="wx"))
    old = journey_of(joins=(Join(T0, "e", "c", "u"),))
    new = old.copy()
    assert new.add_touch(Touch(T0 - HOUR, "t", "k", "qr"))
    partials = PartitionTotals()
    apply_rows(partials, {}, member_contribution(ledger, old, CAL))
    assert partials.get(("last_touch", "-|wx", "all", 0)) == Totals(orders=1, gmv_fen=300)
    changed = apply_rows(partials, member_contribution(ledger, old, CAL),
                         member_contribution(ledger, new, CAL))
    assert ("last_touch", "-|wx", "all", 0) in changed
    assert partials.get(("last_touch", "-|wx", "all", 0)).is_zero()
    assert partials.get(("last_touch", "k|qr", "all", 0)) == Totals(
        orders=1, gmv_fen=300, joins=1, invited_joins=1)
    assert partials.get(("inviter", "k|u", "all", 0)) == Totals(invited_joins=1)
    assert partials.get(("inviter", "-|u", "all", 0)).is_zero()
    assert not any(d == "all" for d, *_ in changed)
    again = member_contribution(ledger, new, CAL)
    assert apply_rows(partials, again, member_contribution(ledger, new.copy(), CAL)) == set()


# --- brute force ------------------------------------------------------------------------

CAMPAIGNS = ["k1", "k2", "k3"]
CHANNELS = ["wx", "qr|7", "sms"]
OWN_CHANNELS = [None, "", "qr1", "utm|x"]
INVITERS = [None, None, "", "u1", "u2", "u|3"]
GRID = 30 * MINUTE
"""Times on a grid so that window edges and equal times are frequent."""

Event = tuple  # ("touch", person, Touch) | ("join", person, Join) | ("part", person, c, ts)
# | ("txn", person, Transaction)


def random_events(rng: random.Random, persons: list[str]) -> list[Event]:
    """Distinct facts, some with conflicting versions of the same id."""
    events: list[Event] = []

    def when() -> int:
        return T0 + GRID * rng.randrange(-5 * 48, 5 * 48)

    for person in persons:
        stamps: list[int] = []
        for i in range(rng.randrange(0, 8)):
            ts = rng.choice(stamps) if stamps and rng.random() < 0.4 else when()  # ties
            stamps.append(ts)
            touch = Touch(ts, f"{person}t{i}", rng.choice(CAMPAIGNS), rng.choice(CHANNELS))
            events.append(("touch", person, touch))
            if rng.random() < 0.15:
                events.append(("touch", person, Touch(
                    rng.choice([touch.ts_ms, when()]), touch.touch_id, rng.choice(CAMPAIGNS),
                    rng.choice(CHANNELS))))
        for i in range(rng.randrange(0, 4)):
            join = Join(when(), f"{person}e{i}", rng.choice(["c1", "c2"]),
                        rng.choice(INVITERS), rng.choice(OWN_CHANNELS))
            events.append(("join", person, join))
            if rng.random() < 0.15:
                events.append(("join", person, Join(
                    rng.choice([join.ts_ms, when()]), join.event_id, rng.choice(["c1", "c2"]),
                    rng.choice(INVITERS), rng.choice(OWN_CHANNELS))))
        for campaign in rng.sample(CAMPAIGNS, rng.randrange(0, 3)):
            for _ in range(rng.randrange(1, 3)):
                events.append(("part", person, campaign, when()))
        for i in range(rng.randrange(0, 4)):
            order, ts = f"{person}o{i}", when()
            attrs = {"channel": rng.choice(OWN_CHANNELS), "campaign_id": rng.choice(CAMPAIGNS)}
            events.append(("txn", person, paid(order, rng.randrange(0, 9000), ts, person,
                                               **attrs)))
            if rng.random() < 0.2:
                events.append(("txn", person, paid(order, rng.randrange(0, 9000),
                                                   rng.choice([ts, when()]), person, **attrs)))
            if rng.random() < 0.3:
                events.append(("txn", person, paid(order, rng.randrange(0, 9000), ts + HOUR,
                                                   person, status="refunded")))
    return events


def oracle(events: list[Event], window_ms: int) -> dict[TotalsKey, Totals]:
    """The attribution rows from scratch: winning versions, then scan every touch."""
    touches: dict[tuple[str, str], tuple] = {}
    joins: dict[tuple[str, str], tuple] = {}
    parts: dict[tuple[str, str], int] = {}
    orders: dict[tuple[str, str], tuple] = {}

    def opt(v: str | None) -> tuple[bool, str]:
        return (v is not None, v or "")

    def keep(held: dict, ident: tuple, rank: tuple, value: tuple) -> None:
        if ident not in held or rank < held[ident][0]:
            held[ident] = (rank, value)

    for event in events:
        kind, person = event[0], event[1]
        if kind == "touch":
            t = event[2]
            keep(touches, (person, t.touch_id), (t.ts_ms, t.campaign_id, t.channel),
                 (t.ts_ms, t.touch_id, t.campaign_id, t.channel))
        elif kind == "join":
            j = event[2]
            keep(joins, (person, j.event_id),
                 (j.ts_ms, j.community_id, opt(j.inviter_id), opt(j.channel)),
                 (j.ts_ms, j.inviter_id, j.channel))
        elif kind == "part":
            ident = (person, event[2])
            parts[ident] = min(parts.get(ident, event[3]), event[3])
        elif event[2].status == "paid":
            t = event[2]
            rank = (to_ms(t.ts), t.amount_fen, opt(t.community_id), opt(t.campaign_id),
                    opt(t.channel))
            keep(orders, (person, t.order_id), rank, (to_ms(t.ts), t.amount_fen, t.channel))

    def attribute(person: str, ts: int, own: str | None, campaign: str | None
                  ) -> tuple[tuple[str, str], tuple[str, str]]:
        cands = [v for (p, _), (_, v) in touches.items() if p == person
                 and ts - window_ms <= v[0] <= ts and (campaign is None or v[2] == campaign)]
        if not cands:
            fallback = ("-", own if own else "(direct)")
            return fallback, fallback
        first, last = min(cands, key=lambda v: v[:2]), max(cands, key=lambda v: v[:2])
        return (first[2], first[3]), (last[2], last[3])

    def wins(ts: int) -> list[tuple[str, int]]:
        local = datetime.fromtimestamp(ts / 1000, SHANGHAI)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return [("day", to_ms(midnight)), ("all", 0)]

    rows: dict[TotalsKey, Totals] = defaultdict(Totals)

    def add(attributed: tuple, ts: int, **fields: int) -> None:
        for model, (campaign, channel) in zip(("first_touch", "last_touch"), attributed,
                                              strict=True):
            for kind, start in wins(ts):
                row = rows[model, f"{campaign}|{channel}", kind, start]
                for name, value in fields.items():
                    setattr(row, name, getattr(row, name) + value)

    for (person, _), (_, (ts, inviter, own)) in joins.items():
        attributed = attribute(person, ts, own, None)
        add(attributed, ts, joins=1, invited_joins=int(bool(inviter)))
        if inviter:
            rows["inviter", f"{attributed[1][0]}|{inviter}", "all", 0].invited_joins += 1
            rows["inviter", f"*|{inviter}", "all", 0].invited_joins += 1
    for (person, campaign), ts in parts.items():
        add(attribute(person, ts, None, campaign), ts, participants=1)
    for (person, _), (_, (ts, amount, own)) in orders.items():
        add(attribute(person, ts, own, None), ts, orders=1, gmv_fen=amount)
    return {key: row for key, row in rows.items() if not row.is_zero()}


class Partition:
    """One worker partition: each member's ledger and journey, and the partial totals."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.ledgers: dict[str, MemberLedger] = {}
        self.journeys: dict[str, Journey] = {}
        self.partials = PartitionTotals()

    def rows(self, person: str) -> dict[TotalsKey, Totals]:
        return member_contribution(self.ledgers.get(person), self.journeys.get(person), CAL,
                                   self.window_ms)

    def process(self, batch: list[Event]) -> None:
        by_person: dict[str, list[Event]] = defaultdict(list)
        for event in batch:
            by_person[event[1]].append(event)
        for person, events in by_person.items():
            old_rows = self.rows(person)
            ledger = self.ledgers.get(person, MemberLedger()).copy()
            journey = self.journeys.get(person, Journey()).copy()
            for event in events:
                if event[0] == "touch":
                    journey.add_touch(event[2])
                elif event[0] == "join":
                    journey.add_join(event[2])
                elif event[0] == "part":
                    journey.add_participation(event[2], event[3])
                else:
                    apply(ledger, event[2])
            self.ledgers[person], self.journeys[person] = ledger, journey
            apply_rows(self.partials, old_rows, self.rows(person))

    def checkpoint(self) -> str:
        return json.dumps([{m: x.to_wire() for m, x in self.ledgers.items()},
                           {m: x.to_wire() for m, x in self.journeys.items()},
                           self.partials.to_wire()])

    def restore(self, saved: str) -> None:
        ledgers, journeys, partials = json.loads(saved)
        self.ledgers = {m: MemberLedger.from_wire(w) for m, w in ledgers.items()}
        self.journeys = {m: Journey.from_wire(w) for m, w in journeys.items()}
        self.partials = PartitionTotals.from_wire(partials)


@pytest.mark.parametrize("seed", range(40))
def test_partitions_combined_agree_with_the_oracle(seed: int) -> None:
    rng = random.Random(seed)
    window_ms = rng.choice([DEFAULT_WINDOW_MS, DAY, 2 * HOUR, 0])
    persons = [f"p{i}" for i in range(rng.randrange(1, 8))]
    events = random_events(rng, persons)
    partition_of = {p: rng.randrange(rng.choice([2, 3])) for p in persons}
    delivered = events + [rng.choice(events) for _ in range(len(events) // 2)] if events else []
    rng.shuffle(delivered)
    logs: dict[int, list[Event]] = defaultdict(list)
    for event in delivered:
        logs[partition_of[event[1]]].append(event)

    combined: dict[TotalsKey, Totals] = defaultdict(Totals)
    for log in logs.values():
        part, offset = Partition(window_ms), 0
        saved, crash_at = (part.checkpoint(), 0), rng.randrange(0, len(log) + 1)
        while offset < len(log):
            if rng.random() < 0.3:
                saved = (part.checkpoint(), offset)
            end = min(len(log), offset + rng.randrange(1, 8))
            part.process(log[offset:end])
            if crash_at is not None and end >= crash_at:  # crash: replay from the checkpoint
                crash_at = None
                part.restore(saved[0])
                end = saved[1]
            offset = end
        # sales rows are still exactly the sales contributions of the ledgers
        sales: dict[TotalsKey, Totals] = defaultdict(Totals)
        for ledger in part.ledgers.values():
            for key, totals in contribution(ledger, CAL).items():
                sales[key] += totals
        assert {k: t for k, t in part.partials.rows.items() if k[0] not in ATTRIBUTION} == {
            k: t for k, t in sales.items() if not t.is_zero()}
        for key, totals in part.partials.rows.items():
            combined[key] += totals

    want = oracle(events, window_ms)
    got = {k: t for k, t in combined.items() if k[0] in ATTRIBUTION and not t.is_zero()}
    assert got == want
    for key in got:
        assert split_totals_key(totals_key(*key)) == key
    joins = {(e[1], e[2].event_id) for e in events if e[0] == "join"}
    for model in ("first_touch", "last_touch"):
        assert sum(t.joins for (d, _, k, _), t in want.items() if d == model and k == "all") == (
            len(joins))
