"""The health engine against the brute-force oracle, with late, duplicated, replayed input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.health.community import CommunityState
from pipeline.compute.health.directory import Directory
from pipeline.compute.health.engine import HealthClock, HealthConfig, HealthState, apply_batch
from pipeline.compute.health.koc import KocRules
from pipeline.compute.hot_words import message_terms
from schemas.events import ChatMessage, MemberEvent, MembershipSnapshot
from schemas.scores import ScoredMessage
from tests.pipeline.compute.health.oracle import (
    day_health,
    member_profiles,
    profile_view,
    record_view,
    retention_cohorts,
    silence_transitions,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
LATENESS_MS = 3_600_000
CONFIG = HealthConfig(CommunityCalendar(), LATENESS_MS, message_terms)
JOIN_WAYS = (("poster", None), ("article", "qr-a1"), (None, "qr-b2"), (None, None),
             ("douyin", None), ("moments", "qr-m"), ("other", None), ("offline", None))
"""(channel, QR code id) of joins: both, one, neither, a reserved name, more than a small
cap of channels."""
TEXTS = ("这款面霜用了三天皮肤变好了", "收到", "+1", "[捂脸]", "有人知道怎么退款吗", "打卡",
         "周末的直播几点开始", "这个价格太贵了吧", "好的", "谢谢分享，很有用")


class Store:
    """The wiring's tables as dicts, saved in the agent's order (clock before deletions)."""

    def __init__(self, config: HealthConfig = CONFIG) -> None:
        self.config = config
        self.hours: dict = {}
        self.days: dict = {}
        self.communities: dict = {}
        self.members: dict = {}
        self.clock: dict | None = None
        self.published: dict = {}
        self.transitions: list = []
        self.cohorts: dict = {}
        self.hour_records: dict = {}
        self.member_days: dict = {}
        self.profiles: dict = {}
        self.restart()

    def restart(self) -> None:
        self.directory = Directory()
        self.directory.load(self.members.items())

    def run(self, items: list, save: str = "all", waiting: frozenset[str] = frozenset()) -> None:
        clock = HealthClock.from_wire(self.clock)
        state = HealthState(self.hours.get, self.days.get, self.communities.get, self.directory,
                            self.member_days.get)
        result = apply_batch(clock, state, items, self.config, waiting)
        for profile in result.profiles:
            key = (profile.community_id, profile.day, profile.member_id)
            current = self.profiles.get(key)
            assert current is None or current == profile  # a replay publishes the same
            self.profiles[key] = profile
        self.transitions += result.transitions  # published (at least once)
        for published, records in ((self.published, result.day_records),
                                   (self.cohorts, result.cohort_records.values()),
                                   (self.hour_records, result.hour_records)):
            for record in records:
                current = published.get(record.key)
                if current is None or record.revision >= current.revision:
                    published[record.key] = record
        if save == "none":
            return
        for key, window in result.hours.items():
            self.hours[key] = window.to_wire()
        for key, window in result.kept_hours.items():
            self.hours[key] = window.to_wire()
        for key, store in result.days.items():
            self.days[key] = store.to_wire()
        for community_id in result.member_communities:
            self.members[community_id] = self.directory.community_wire(community_id)
        self.member_days.update(result.member_days)
        if save == "partial":
            return
        for community_id, community in result.communities.items():
            self.communities[community_id] = community.to_wire()
        if save == "no_clock":
            return
        self.clock = clock.to_wire()
        for key in result.closed_hours:
            self.hours.pop(key, None)
        for key in result.closed_days:
            self.days.pop(key, None)
        for key in result.dropped_member_days:
            self.member_days.pop(key, None)


def make_events(seed: int, days: int = 4, replies: bool = False) -> list[tuple[int, object]]:
    """(event time ms, event) of three communities, with joins, leaves and conflicts."""
    rng = random.Random(seed)
    ways = random.Random(f"channels-{seed}")  # apart: the other draws stay as they were
    social = random.Random(f"social-{seed}")  # replies, mentions, inviters: apart as well
    events: list[tuple[int, object]] = []
    for c in range(3):
        community = f"c{c}"
        members = [f"{community}-u{i}" for i in range(40)]
        for i, member in enumerate(members[:25]):
            ts = T0 + timedelta(minutes=rng.randrange(0, 600))
            channel, qr_code_id = ways.choice(JOIN_WAYS)
            inviter = social.choice(members) if social.random() < 0.4 else None
            events.append((ts, MemberEvent(event_id=f"j{c}-{i}", community_id=community,
                                           member_id=member, action="join", ts=ts,
                                           channel=channel, qr_code_id=qr_code_id,
                                           inviter_id=inviter)))
        if c == 1:  # a snapshot on the second day anchors community c1
            ts = T0 + timedelta(days=1, hours=3)
            events.append((ts, MembershipSnapshot(
                snapshot_id="s1", community_id=community, member_ids=members[5:30], ts=ts)))
        for k in range(40):
            ts = T0 + timedelta(minutes=rng.randrange(600, days * 1440))
            action = rng.choice(("join", "leave", "removed"))
            channel, qr_code_id = ways.choice(JOIN_WAYS) if action == "join" else (None, None)
            events.append((ts, MemberEvent(event_id=f"e{c}-{k}", community_id=community,
                                           member_id=rng.choice(members), action=action, ts=ts,
                                           channel=channel, qr_code_id=qr_code_id)))
        for k in range(900):
            ts = T0 + timedelta(seconds=rng.randrange(0, days * 86400))
            role = rng.choices(("member", "staff", "bot"), (0.85, 0.1, 0.05))[0]
            msg_type = rng.choices(("text", "sticker", "image", "system"),
                                   (0.8, 0.1, 0.07, 0.03))[0]
            sender = rng.choice(members) if role == "member" else f"{role}-{c}"
            text = rng.choice(TEXTS) if msg_type == "text" else ""
            reply_to = f"m{c}-{social.randrange(k)}" if k and social.random() < 0.1 else None
            mentions = social.sample(members + [sender], social.choice((0, 0, 0, 1, 2)))
            events.append((ts, ChatMessage(
                message_id=f"m{c}-{k}", community_id=community, member_id=sender,
                sender_role=role, msg_type=msg_type, text=text, ts=ts, reply_to=reply_to,
                mentions=mentions)))
            if replies and social.random() < 0.3:  # minutes later, sometimes the next hour
                at = ts + timedelta(seconds=social.randrange(30, 5400))
                events.append((at, ChatMessage(
                    message_id=f"r{c}-{k}", community_id=community,
                    member_id=social.choice(members + [f"staff-{c}"]),
                    text=social.choice(TEXTS) + "，同意", ts=at, reply_to=f"m{c}-{k}")))
            if role == "member" and text and rng.random() < 0.8:  # the alert path scored it
                scored_at = ts + timedelta(seconds=rng.randrange(1, 120))
                events.append((scored_at, ScoredMessage(
                    f"m{c}-{k}", community, "member", int(ts.timestamp() * 1000),
                    rng.random(), rng.choice(("positive", "neutral", "negative")), (), ())))
    return [(int(ts.timestamp() * 1000), e) for ts, e in events]



def deliver(events: list[tuple[int, object]], seed: int) -> list[tuple[int, object]]:
    """Delivery order: mostly by time, some late (minutes), some very late (hours), dupes."""
    rng = random.Random(seed)
    slots = []
    for ts, event in events:
        delay = 0
        roll = rng.random()
        if roll < 0.05:
            delay = rng.randrange(60_000, 1_800_000)
        elif roll < 0.07:
            delay = rng.randrange(3 * 3_600_000, 6 * 3_600_000)
        slots.append((ts + delay, ts, event))
        if rng.random() < 0.05:
            slots.append((ts + delay + rng.randrange(0, 600_000), ts, event))
    return [(ts, event) for _, ts, event in sorted(slots, key=lambda s: s[0])]


def as_oracle_input(delivered: list[tuple[int, object]]) -> list[dict]:
    out = []
    for ts, e in delivered:
        base = {"ts": ts, "partition": 0, "community_id": e.community_id}
        if isinstance(e, ChatMessage):
            out.append(base | {"topic": "chat", "id": e.message_id, "member_id": e.member_id,
                               "sender_role": e.sender_role, "msg_type": e.msg_type,
                               "text": e.text, "reply_to": e.reply_to,
                               "mentions": list(e.mentions)})
        elif isinstance(e, MemberEvent):
            out.append(base | {"topic": "members", "id": e.event_id, "member_id": e.member_id,
                               "action": e.action, "channel": e.channel,
                               "qr_code_id": e.qr_code_id, "inviter_id": e.inviter_id})
        elif isinstance(e, ScoredMessage):
            out.append(base | {"topic": "scores", "id": "s:" + e.message_id, "ts": e.ts_ms,
                               "polarity": e.polarity})
        else:
            out.append(base | {"topic": "snapshots", "id": e.snapshot_id,
                               "action": "snapshot", "member_ids": list(e.member_ids)})
    return out


def items(delivered: list[tuple[int, object]]) -> list[tuple[str, int, object]]:
    offsets = {"ChatMessage": 0, "MemberEvent": 0, "MembershipSnapshot": 0, "ScoredMessage": 0}
    out = []
    for _, event in delivered:
        name = type(event).__name__
        out.append((name, offsets[name], event))
        offsets[name] += 1
    return out


def waiting_after(stream: list, end: int) -> frozenset[str]:
    """Topics with events after position ``end`` (what the consumer's lag would say)."""
    return frozenset(topic for topic, _, _ in stream[end:])


def flush(delivered: list[tuple[int, object]]) -> list[tuple[str, int, object]]:
    """Events far in the future of the stream, so every window closes."""
    end = max(ts for ts, _ in delivered) + 3 * 86_400_000
    ts = datetime.fromtimestamp(end / 1000, UTC)
    return [("ChatMessage", 10**9, ChatMessage(message_id="flush", community_id="c-flush",
                                                member_id="x", ts=ts))]


def cohorts_of(store: Store) -> dict:
    """The latest record of each retention cohort: (size, retained day 1, 7, 30)."""
    out = {}
    for r in store.cohorts.values():
        kept = (r.retained_d1, r.retained_d7, r.retained_d30)
        rates = (r.retention_d1, r.retention_d7, r.retention_d30)
        assert rates == tuple(None if n is None else round(n / r.cohort_size, 6) for n in kept)
        assert r.is_final == (r.retained_d30 is not None) and r.revision % 2 == r.is_final
        out[(r.community_id, r.cohort_day, r.channel)] = (r.cohort_size, *kept)
    return out


def expected_cohorts(store: Store, delivered: list[tuple[int, object]]) -> dict:
    """The brute force's cohorts up to the store's fold horizon."""
    end = HealthClock.from_wire(store.clock).horizon_ms
    return retention_cohorts(as_oracle_input(delivered), LATENESS_MS, end,
                             max_channels=store.config.max_channels)


def final_days(store: Store) -> dict:
    return {(r.community_id, r.day): record_view(r) for r in store.published.values()
            if r.community_id != "c-flush"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_day_records_equal_the_brute_force(seed: int) -> None:
    delivered = deliver(make_events(seed), seed)
    store = Store()
    stream = items(delivered)
    for i in range(0, len(stream), 97):
        store.run(stream[i:i + 97], waiting=waiting_after(stream, i + 97))
    store.run(flush(delivered))
    expected = day_health(as_oracle_input(delivered), LATENESS_MS)
    got = final_days(store)
    assert all(r.is_final for r in store.published.values() if r.community_id != "c-flush")
    assert set(got) == set(expected)
    for key in sorted(expected):
        assert got[key] == expected[key], key
    assert any(v["membership_conflicts"] for v in expected.values())
    assert any(v["copy_messages"] for v in expected.values())
    assert {v["member_count_anchor"] for v in expected.values()} == {"relative", "snapshot"}
    cohorts = expected_cohorts(store, delivered)
    assert cohorts_of(store) == cohorts
    assert any(v[1] for v in cohorts.values())  # somebody was retained on day 1


def test_a_crash_at_any_point_replays_to_the_same_result() -> None:
    delivered = deliver(make_events(4), 4)
    stream = items(delivered)
    clean, crashed = Store(), Store()
    for n, i in enumerate(range(0, len(stream), 53)):
        batch, waiting = stream[i:i + 53], waiting_after(stream, i + 53)
        clean.run(batch, waiting=waiting)
        if n % 5 == 2:  # crash after publishing, before saving anything or part of it
            crashed.run(batch, save="none" if n % 2 else "partial", waiting=waiting)
            crashed.restart()
        crashed.run(batch, waiting=waiting)
    clean.run(flush(delivered))
    crashed.run(flush(delivered))
    assert final_days(crashed) == final_days(clean)
    expected = day_health(as_oracle_input(delivered), LATENESS_MS)
    assert final_days(clean) == {k: v for k, v in expected.items()}
    assert cohorts_of(crashed) == cohorts_of(clean) == expected_cohorts(clean, delivered)


def test_open_days_are_published_with_growing_revisions() -> None:
    delivered = deliver(make_events(5, days=2), 5)
    store = Store()
    stream = items(delivered)
    revisions: dict[str, list[int]] = {}
    for i in range(0, len(stream), 200):
        clock = HealthClock.from_wire(store.clock)
        state = HealthState(store.hours.get, store.days.get, store.communities.get,
                            store.directory)
        waiting = waiting_after(stream, i + 200)
        result = apply_batch(clock, state, stream[i:i + 200], CONFIG, waiting)
        for record in result.day_records:
            revisions.setdefault(record.key, []).append(record.revision)
        store.run(stream[i:i + 200], waiting=waiting)
    assert revisions
    for values in revisions.values():
        assert values == sorted(values)


@pytest.mark.parametrize("chat_chunk, member_chunk", [(400, 3), (5, 200), (2000, 2000)])
def test_the_interleaving_of_topics_does_not_change_the_result(
    chat_chunk: int, member_chunk: int
) -> None:
    """A consumer fetches each topic-partition on its own: after a restart the low-volume
    member topic may run hours ahead of chat, or behind it."""
    delivered = deliver(make_events(6), 6)
    stream = items(delivered)
    chat = [item for item in stream if item[0] == "ChatMessage"]
    other = [item for item in stream if item[0] != "ChatMessage"]
    interleaved = []
    while chat or other:
        interleaved += chat[:chat_chunk] + other[:member_chunk]
        chat, other = chat[chat_chunk:], other[member_chunk:]
    store = Store()
    for i in range(0, len(interleaved), 150):
        store.run(interleaved[i:i + 150], waiting=waiting_after(interleaved, i + 150))
    store.run(flush(delivered))
    assert final_days(store) == day_health(as_oracle_input(delivered), LATENESS_MS)
    assert cohorts_of(store) == expected_cohorts(store, delivered)


def test_scores_from_a_worker_ahead_never_close_hours_chat_has_not_reached() -> None:
    config = HealthConfig(CommunityCalendar(), LATENESS_MS, message_terms,
                          followers=frozenset({"ScoredMessage"}))
    clock = HealthClock()
    store = Store()
    state = HealthState(store.hours.get, store.days.get, store.communities.get, store.directory)

    def chat(i: int, minutes: int) -> tuple[str, int, ChatMessage]:
        return ("ChatMessage", i, ChatMessage(
            message_id=f"m{i}", community_id="c0", member_id="u1", text="周末的直播几点开始",
            ts=T0 + timedelta(minutes=minutes)))

    ahead = ScoredMessage("m99", "c0", "member", int((T0 + timedelta(hours=5)).timestamp() * 1000),
                          0.9, "positive", (), ())
    apply_batch(clock, state, [chat(0, 0), ("ScoredMessage", 0, ahead)], config, frozenset())
    assert clock.horizon_ms <= int(T0.timestamp() * 1000)  # chat leads, not the scores
    result = apply_batch(clock, state, [chat(1, 30)], config, frozenset())
    assert result.too_late == 0


def transitions_of(store: Store) -> set[tuple]:
    return {(t.community_id, t.member_id, t.status, t.previous, t.at_ms, t.silent_since_ms)
            for t in store.transitions if t.community_id != "c-flush"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_silence_transitions_equal_the_brute_force(seed: int) -> None:
    """Six days: members go silent (churn_risk), speak again (reactivated), leave and come
    back; a community that goes fully quiet still gets its transitions, because the
    partition's other communities move the horizon."""
    events = make_events(seed, days=6)
    quiet = [(ts, e) for ts, e in events if e.community_id == "c2"
             and ts < int((T0 + timedelta(days=1)).timestamp() * 1000)]
    events = [(ts, e) for ts, e in events if e.community_id != "c2"] + quiet
    delivered = deliver(events, seed)
    store = Store()
    stream = items(delivered)
    for i in range(0, len(stream), 97):
        store.run(stream[i:i + 97], waiting=waiting_after(stream, i + 97))
    store.run(flush(delivered))
    end = HealthClock.from_wire(store.clock).horizon_ms
    expected = silence_transitions(as_oracle_input(delivered), LATENESS_MS, end)
    got = transitions_of(store)
    assert got == expected
    statuses = {t[2] for t in got}
    assert {"churn_risk", "reactivated", "left"} <= statuses
    assert any(t[0] == "c2" and t[2] == "churn_risk" for t in got)  # the quiet community


def test_silence_transitions_survive_a_crash_unchanged() -> None:
    delivered = deliver(make_events(6, days=5), 6)
    stream = items(delivered)
    clean, crashed = Store(), Store()
    for n, i in enumerate(range(0, len(stream), 61)):
        batch, waiting = stream[i:i + 61], waiting_after(stream, i + 61)
        clean.run(batch, waiting=waiting)
        if n % 4 == 1:
            crashed.run(batch, save="none" if n % 2 else "partial", waiting=waiting)
            crashed.restart()
        crashed.run(batch, waiting=waiting)
    clean.run(flush(delivered))
    crashed.run(flush(delivered))
    assert transitions_of(crashed) == transitions_of(clean) and transitions_of(clean)


def test_win_back_after_thirty_silent_days() -> None:
    join_at = T0
    events = [(join_at, MemberEvent(event_id="j", community_id="c9", member_id="quiet",
                                    action="join", ts=join_at))]
    events += [(T0 + timedelta(days=d), ChatMessage(
        message_id=f"k{d}", community_id="c9", member_id="keeper", text="今天的课讲得真好",
        ts=T0 + timedelta(days=d))) for d in range(0, 33)]
    delivered = [(int(ts.timestamp() * 1000), e) for ts, e in events]
    store = Store()
    stream = items(delivered)
    for i in range(0, len(stream), 3):
        store.run(stream[i:i + 3])
    got = sorted((t[1], t[2], t[4]) for t in transitions_of(store) if t[1] == "quiet")
    day = 86_400_000
    start = int(join_at.timestamp() * 1000)
    assert got == [("quiet", "churn_risk", start + 3 * day),
                   ("quiet", "win_back", start + 30 * day)]


def test_silence_transitions_do_not_depend_on_batching() -> None:
    """One batch spanning days finds the churn risk that a member's later message ends
    (churn_risk, then reactivated) exactly as small batches do."""
    delivered = deliver(make_events(7, days=6), 7)
    stream = items(delivered)
    found = []
    for size in (11, 400, len(stream)):
        store = Store()
        for i in range(0, len(stream), size):
            store.run(stream[i:i + size], waiting=waiting_after(stream, i + size))
        store.run(flush(delivered))
        found.append(transitions_of(store))
    assert found[0] == found[1] == found[2]
    assert any(t[2] == "reactivated" for t in found[0])


@pytest.mark.parametrize("seed", [1, 2])
def test_retention_cohorts_to_day_30_equal_the_brute_force(seed: int) -> None:
    """Five weeks, so cohorts reach day 7 and day 30; three channels per community (the
    others are 'other'); community c2 falls silent after its first day and its cohorts are
    still judged, because the partition's other communities move the horizon."""
    events = make_events(seed, days=35)
    quiet_from = int((T0 + timedelta(days=1)).timestamp() * 1000)
    events = [(ts, e) for ts, e in events if e.community_id != "c2" or ts < quiet_from]
    delivered = deliver(events, seed)
    store = Store(HealthConfig(CommunityCalendar(), LATENESS_MS, message_terms,
                               max_channels=3))
    stream = items(delivered)
    for i in range(0, len(stream), 97):
        store.run(stream[i:i + 97], waiting=waiting_after(stream, i + 97))
    store.run(flush(delivered))
    expected = expected_cohorts(store, delivered)
    assert cohorts_of(store) == expected
    assert any(v[3] for v in expected.values()) and any(v[2] for v in expected.values())
    assert {k[2] for k in expected} >= {"*", "other", "(none)"}
    assert any(k[0] == "c2" and v[3] is not None for k, v in expected.items())
    assert all(r.is_final == (r.cohort_day.toordinal() <= T0.date().toordinal() + 7)
               for r in store.cohorts.values())  # the flush closes days 35 to 37 too
    communities = {key: CommunityState.from_wire(wire)
                   for key, wire in store.communities.items()}
    assert all(len(c.channels) <= 3 and all(day > max(c.cohorts) - 31 for day in c.cohorts)
               for c in communities.values() if c.cohorts)


def run_with_crashes(delivered: list, step: int) -> tuple[Store, Store]:
    """The stream in batches of ``step`` run cleanly and with a crash in every batch
    before its clock is saved (after the rest, part of it, or nothing), then replayed."""
    stream = items(delivered)
    clean, crashed = Store(), Store()
    for n, i in enumerate(range(0, len(stream), step)):
        batch, waiting = stream[i:i + step], waiting_after(stream, i + step)
        clean.run(batch, waiting=waiting)
        crashed.run(batch, save=("no_clock", "partial", "none")[n % 3], waiting=waiting)
        crashed.restart()
        crashed.run(batch, waiting=waiting)
    clean.run(flush(delivered))
    crashed.run(flush(delivered))
    return clean, crashed


def test_retention_survives_a_crash_before_the_clock_is_saved() -> None:
    """A replay that finds the communities' state already saved (their presence at the end
    of the batch) does not judge their cohorts again: the records stay the first run's."""
    delivered = deliver(make_events(8, days=10), 8)
    clean, crashed = run_with_crashes(delivered, 300)
    assert cohorts_of(crashed) == cohorts_of(clean) == expected_cohorts(clean, delivered)
    assert any(v[2] is not None for v in cohorts_of(clean).values())


def test_a_cohort_is_judged_on_days_1_7_and_30_and_then_final() -> None:
    """A re-join keeps the first cohort and channel; speaking while absent is not retention;
    a member known only from a snapshot has no cohort; c9 is quiet between the judged days
    while c8 moves the partition's time."""
    def at(day: int, hour: int = 2) -> datetime:
        return T0 + timedelta(days=day, hours=hour)  # 10:00 Beijing time

    def join(i: str, member: str, day: int, **way: str) -> tuple[datetime, MemberEvent]:
        return at(day), MemberEvent(event_id=i, community_id="c9", member_id=member,
                                    action="join", ts=at(day), **way)

    def say(i: str, member: str, day: int, community: str = "c9") -> tuple:
        return at(day, 3), ChatMessage(message_id=i, community_id=community, member_id=member,
                                       text=f"第{i}条：今天的课讲得真好", ts=at(day, 3))

    def leave(i: str, member: str, day: int) -> tuple[datetime, MemberEvent]:
        return at(day, 4), MemberEvent(event_id=i, community_id="c9", member_id=member,
                                       action="leave", ts=at(day, 4))

    events = [(at(0, 1), MembershipSnapshot(snapshot_id="s", community_id="c9",
                                            member_ids=["old"], ts=at(0, 1))),
              join("j1", "stay", 0, channel="poster"), join("j2", "back", 0, qr_code_id="qr-9"),
              join("j3", "late", 1), leave("l1", "back", 3), join("j4", "back", 6, channel="x"),
              leave("l2", "back", 20)]
    for day in (1, 7, 8, 30):
        events += [say(f"{m}{day}", m, day) for m in ("stay", "back", "late", "old")]
    events += [say(f"k{day}", "keeper", day, "c8") for day in range(0, 40)]
    events.sort(key=lambda pair: pair[0])
    delivered = [(int(ts.timestamp() * 1000), e) for ts, e in events]
    store = Store()
    stream = items(delivered)
    for i in range(0, len(stream), 4):
        store.run(stream[i:i + 4])
    got = cohorts_of(store)
    day0, day1 = T0.date(), T0.date() + timedelta(days=1)
    assert got == {("c9", day0, "*"): (2, 2, 2, 1), ("c9", day0, "poster"): (1, 1, 1, 1),
                   ("c9", day0, "qr-9"): (1, 1, 1, 0), ("c9", day1, "*"): (1, 0, 1, 0),
                   ("c9", day1, "(none)"): (1, 0, 1, 0)}
    assert all(store.cohorts[f"c9|{day}|*"].is_final for day in (day0, day1))
    assert got == expected_cohorts(store, delivered)


@pytest.mark.parametrize("seed", [4, 8])
def test_membership_survives_a_crash_before_the_clock_is_saved(seed: int) -> None:
    """Every batch crashes once before its clock is saved: mostly after the communities'
    state (with the batch's membership changes folded in) was saved, sometimes before it or
    before anything.  The replay from the old clock publishes what the run without crashes
    published, batch by batch: day and hour records (member count, anchor, conflicts),
    silence transitions and cohorts."""
    delivered = deliver(make_events(seed), seed)
    stream = items(delivered)
    clean, crashed = Store(), Store()
    for n, i in enumerate(range(0, len(stream), 97)):
        batch, waiting = stream[i:i + 97], waiting_after(stream, i + 97)
        clean.run(batch, waiting=waiting)
        crashed.run(batch, save=("no_clock", "no_clock", "partial", "none")[n % 4],
                    waiting=waiting)
        crashed.restart()
        crashed.run(batch, waiting=waiting)
        assert final_days(crashed) == final_days(clean), i
        assert crashed.hour_records == clean.hour_records, i
        assert crashed.communities == clean.communities, i
    clean.run(flush(delivered))
    crashed.run(flush(delivered))
    assert final_days(crashed) == final_days(clean)
    assert final_days(clean) == day_health(as_oracle_input(delivered), LATENESS_MS)
    assert transitions_of(crashed) == transitions_of(clean)
    assert cohorts_of(crashed) == cohorts_of(clean) == expected_cohorts(clean, delivered)


def profiles_of(store: Store) -> tuple[dict, dict]:
    """Published profiles by (community, day, member) and the final day records' layer
    counts by (community, day)."""
    profiles = {key: profile_view(p) for key, p in store.profiles.items()}
    layers = {(r.community_id, r.day): (r.koc_members, r.core_members,
                                         r.participating_members, r.onlooker_members)
              for r in store.published.values() if r.community_id != "c-flush" and r.is_final}
    return profiles, layers


def expected_profiles(store: Store, delivered: list, **rules: float) -> tuple[dict, dict]:
    end = HealthClock.from_wire(store.clock).horizon_ms
    profiles, layers = member_profiles(as_oracle_input(delivered), LATENESS_MS, end, **rules)
    return ({k: v for k, v in profiles.items() if k[0] != "c-flush"},
            {k: v for k, v in layers.items() if k[0] != "c-flush"})


@pytest.mark.parametrize("seed", [1, 2])
def test_member_profiles_and_layers_equal_the_brute_force(seed: int) -> None:
    """Five weeks (the 30-day window slides and members fall back to onlooker), late and
    duplicated input, replies across an hour boundary, mentions, invited joins."""
    rules = KocRules(share=0.08, min_score=20.0, core_days=6)
    delivered = deliver(make_events(seed, days=35, replies=True), seed)
    store = Store(HealthConfig(CommunityCalendar(), LATENESS_MS, message_terms, koc=rules))
    stream = items(delivered)
    for i in range(0, len(stream), 97):
        store.run(stream[i:i + 97], waiting=waiting_after(stream, i + 97))
    store.run(flush(delivered))
    profiles, layers = profiles_of(store)
    expected, expected_layers = expected_profiles(
        store, delivered, share=0.08, min_score=20.0, core_days=6)
    assert set(profiles) == set(expected)
    for key in sorted(expected):
        assert profiles[key] == expected[key], key
    assert layers == expected_layers
    views = list(expected.values())
    assert {v["layer"] for v in views} == {"core", "participating", "onlooker"}
    assert any(v["is_koc"] for v in views) and any(v["replies_received"] for v in views)
    assert any(v["mentions_received"] for v in views) and any(v["invited_joins"] for v in views)
    every = list(store.profiles.values())
    assert all(p.score == round(p.points_messages + p.points_engagement + p.points_content
                                + p.points_sentiment + p.points_invitations, 2) for p in every)
    kept = {k for k in store.member_days}
    last = max(int(k.split("|")[1]) for k in kept)
    assert all(int(k.split("|")[1]) > last - 40 for k in kept)  # old days were dropped


def test_member_profiles_survive_a_crash_before_the_clock_is_saved() -> None:
    delivered = deliver(make_events(8, days=12, replies=True), 8)
    clean, crashed = run_with_crashes(delivered, 211)
    assert profiles_of(crashed) == profiles_of(clean) == expected_profiles(clean, delivered)
    assert clean.profiles
