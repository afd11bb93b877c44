"""The ground truth agrees with numbers recomputed independently from the records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime

from pipeline.devtools.generator import GeneratedStream
from pipeline.topics import FUNNEL_EVENTS, MEMBER_EVENTS, TRANSACTIONS
from schemas.events import FUNNEL_STEPS


def _events(stream: GeneratedStream, topic: str) -> list[dict]:
    out = [json.loads(r.value) for r in stream.records
           if r.topic == topic and r.kind in ("valid", "late")]
    for event in out:
        event["ts_dt"] = datetime.fromisoformat(event["ts"])
    return sorted(out, key=lambda e: e["ts_dt"])


def test_minute_counts_match_the_records(stream: GeneratedStream, chat: list[dict]) -> None:
    messages: Counter = Counter()
    speakers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in chat:
        minute = m["ts_dt"].astimezone(UTC).replace(second=0, microsecond=0).isoformat()
        key = (m["community_id"], minute)
        messages[key] += 1
        if m["sender_role"] == "member":
            speakers[key].add(m["member_id"])
    expected = {key: (n, len(speakers[key])) for key, n in messages.items()}
    assert stream.truth.minute_counts() == expected
    assert len(expected) > 10_000


def test_minute_keys_parse_as_utc_window_starts(stream: GeneratedStream) -> None:
    for _, minute in list(stream.truth.minute_counts())[:500]:
        moment = datetime.fromisoformat(minute)
        assert moment.utcoffset().total_seconds() == 0 and moment.second == 0


def test_membership_truth_matches_member_events(stream: GeneratedStream) -> None:
    start, end = stream.truth.start, stream.truth.end
    events = _events(stream, MEMBER_EVENTS.name)
    for community in stream.truth.communities:
        own = [e for e in events if e["community_id"] == community.community_id]
        joins = [e for e in own if e["action"] == "join"]
        in_period = [e for e in joins if start <= e["ts_dt"] < end]
        assert community.initial_members == sum(e["ts_dt"] < start for e in joins)
        assert community.joins == len(in_period)
        assert community.invited_joins == sum(e["inviter_id"] is not None for e in in_period)
        assert community.leaves == sum(e["action"] == "leave" for e in own)
        assert community.removed == sum(e["action"] == "removed" for e in own)
        assert community.members_at_end == len(joins) - community.leaves - community.removed
        assert community.joins > 0 and community.leaves + community.removed > 0


def test_members_join_before_they_leave_and_post(stream: GeneratedStream,
                                                  chat: list[dict]) -> None:
    joined: dict[tuple[str, str], datetime] = {}
    left: dict[tuple[str, str], datetime] = {}
    for e in _events(stream, MEMBER_EVENTS.name):
        key = (e["community_id"], e["member_id"])
        if e["action"] == "join":
            assert key not in joined
            joined[key] = e["ts_dt"]
        else:
            assert joined[key] < e["ts_dt"] and key not in left
            left[key] = e["ts_dt"]
    for m in chat:
        if m["sender_role"] == "member":
            key = (m["community_id"], m["member_id"])
            assert joined[key] <= m["ts_dt"] < left.get(key, stream.truth.end)


def test_invitation_trees_are_deeper_than_one_level(stream: GeneratedStream) -> None:
    inviter_of: dict[tuple[str, str], str] = {}
    joined_at: dict[tuple[str, str], datetime] = {}
    for e in _events(stream, MEMBER_EVENTS.name):
        if e["action"] == "join":
            key = (e["community_id"], e["member_id"])
            joined_at[key] = e["ts_dt"]
            if e["inviter_id"]:
                inviter = (e["community_id"], e["inviter_id"])
                assert joined_at[inviter] < e["ts_dt"], "inviters are members already"
                inviter_of[key] = e["inviter_id"]

    def depth(key: tuple[str, str]) -> int:
        return 1 + depth((key[0], inviter_of[key])) if key in inviter_of else 0

    assert max(depth(k) for k in inviter_of) >= 3


def test_join_channels_and_qr_codes(stream: GeneratedStream) -> None:
    joins = [e for e in _events(stream, MEMBER_EVENTS.name) if e["action"] == "join"]
    channels = Counter(e["channel"] for e in joins)
    assert {"poster", "article", "douyin", "xiaohongshu", "offline", "invite"} <= set(channels)
    assert all(e["qr_code_id"] for e in joins)


def test_funnels_match_events_and_lose_people_step_by_step(stream: GeneratedStream) -> None:
    persons: dict[tuple[str, str], set[str]] = defaultdict(set)
    first: dict[tuple[str, str, str], datetime] = {}
    for e in _events(stream, FUNNEL_EVENTS.name):
        persons[(e["campaign_id"], e["step"])].add(e["person_id"])
        first.setdefault((e["campaign_id"], e["person_id"], e["step"]), e["ts_dt"])
    conversions = []
    for funnel in stream.truth.funnels:
        cid = funnel.campaign_id
        assert funnel.steps == {s: len(persons[(cid, s)]) for s in FUNNEL_STEPS}
        for a, b in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:], strict=False):
            assert persons[(cid, b)] <= persons[(cid, a)]
            conversions.append(len(persons[(cid, b)]) / len(persons[(cid, a)]))
            for person in persons[(cid, b)]:
                assert first[(cid, person, a)] <= first[(cid, person, b)]
    assert min(conversions) < 0.80
    assert sum(0.85 <= c <= 0.96 for c in conversions) >= 0.75 * len(conversions)
    assert any(f.below_target for f in stream.truth.funnels)
    assert not all(f.below_target for f in stream.truth.funnels)


def test_orders_match_transactions(stream: GeneratedStream) -> None:
    transactions = _events(stream, TRANSACTIONS.name)
    paid = {t["order_id"]: t for t in transactions if t["status"] == "paid"}
    refunds = [t for t in transactions if t["status"] == "refunded"]
    for refund in refunds:
        order = paid[refund["order_id"]]
        assert order["ts_dt"] < refund["ts_dt"]
        assert 0 < refund["amount_fen"] <= order["amount_fen"]
    by_community = defaultdict(list)
    for order in paid.values():
        if order["community_id"]:
            by_community[order["community_id"]].append(order)
    truth = stream.truth.orders
    for community, orders in by_community.items():
        assert truth.by_community[community].orders == len(orders)
        assert truth.by_community[community].gmv_fen == sum(o["amount_fen"] for o in orders)
    buyers = Counter(o["member_id"] for o in paid.values())
    assert truth.total.repeat_buyers == sum(n > 1 for n in buyers.values()) > 0
    assert truth.total.refunds == len(refunds) > 0
    assert all(100 <= o["amount_fen"] <= 2_000_000 for o in paid.values())
    assert any(o["campaign_id"] for o in paid.values())
    assert set(truth.by_campaign) == {f.campaign_id for f in stream.truth.funnels}


def test_silent_members_stop_posting(stream: GeneratedStream, chat: list[dict]) -> None:
    span = stream.truth.end - stream.truth.start
    assert len(stream.truth.silent_members) >= len(stream.truth.communities)
    for silent in stream.truth.silent_members:
        posts = [m["ts_dt"] for m in chat if m["member_id"] == silent.member_id
                 and m["community_id"] == silent.community_id]
        assert max(posts) == silent.last_active < silent.silent_since
        assert silent.silent_since == stream.truth.start + span / 2  # short period: from the middle


def test_silent_members_stay_silent_three_days_in_a_long_period(
    long_stream: GeneratedStream,
) -> None:
    truth = long_stream.truth
    assert truth.silent_members
    posts = defaultdict(list)
    for r in long_stream.records:
        if r.kind == "valid" and r.topic.startswith("community.chat"):
            m = json.loads(r.value)
            posts[(m["community_id"], m["member_id"])].append(datetime.fromisoformat(m["ts"]))
    for silent in truth.silent_members:
        assert max(posts[(silent.community_id, silent.member_id)]) <= silent.last_active
        assert (truth.end - silent.silent_since).total_seconds() >= 3 * 86400


def test_pii_messages_contain_wellformed_personal_data(stream: GeneratedStream,
                                                       chat: list[dict]) -> None:
    import re

    texts = {m["message_id"]: m["text"] for m in chat}
    kinds = Counter()
    for pii in stream.truth.pii_messages:
        for kind, value in zip(pii.kinds, pii.values, strict=True):
            assert value in texts[pii.message_id]
            kinds[kind] += 1
            digits = re.sub(r"\D", "", value)
            if kind == "mobile":
                assert re.fullmatch(r"(86)?1[3-9]\d{9}", digits)
            elif kind == "id_number":
                weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
                total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
                check = "10X98765432"[total % 11]
                assert len(value) == 18 and value[-1] == check
            elif kind == "bank_card":
                total = sum(int(d) if i % 2 == 0 else sum(divmod(int(d) * 2, 10))
                            for i, d in enumerate(reversed(digits)))
                assert total % 10 == 0 and len(digits) in (16, 19)
    assert set(kinds) == {"mobile", "id_number", "wechat_id", "bank_card", "address"}
