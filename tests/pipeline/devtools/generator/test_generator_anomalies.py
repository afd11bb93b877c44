"""Injected anomalies (``GeneratorConfig.anomalies``): in the truth, and visible in the records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from pipeline.compute.interaction import is_mechanical
from pipeline.devtools.generator import GeneratedStream, GeneratorConfig, generate
from pipeline.devtools.generator.anomalies import WARMUP_DAYS
from pipeline.devtools.generator.truth import AnomalyTruth
from pipeline.topics import CHAT_MESSAGES, MEMBER_EVENTS
from tests.support import REFERENCE_START

WEEK = timedelta(days=7)
ANOMALY_STREAM = GeneratorConfig(seed=4, communities=3, days=12, scale=0.3, anomalies=3,
                                 start=REFERENCE_START - timedelta(days=12))
"""Three communities, each with a chatter burst, a quiet spell and a mass leave."""


@pytest.fixture(scope="module")
def anomaly_stream() -> GeneratedStream:
    return generate(ANOMALY_STREAM)


@pytest.fixture(scope="module")
def twin_stream() -> GeneratedStream:
    """The same world without the anomalies."""
    return generate(replace(ANOMALY_STREAM, anomalies=0))


def _valid(stream: GeneratedStream, topic: str) -> list[dict]:
    """Valid events of a topic, each once, with ``ts_dt``."""
    seen: set[str] = set()
    out = []
    for record in stream.records:
        if record.topic != topic or record.kind not in ("valid", "late"):
            continue
        value = json.loads(record.value)
        key = value.get("message_id") or value["event_id"]
        if key not in seen:
            seen.add(key)
            value["ts_dt"] = datetime.fromisoformat(value["ts"])
            out.append(value)
    return out


@pytest.fixture(scope="module")
def chat(anomaly_stream: GeneratedStream) -> list[dict]:
    return _valid(anomaly_stream, CHAT_MESSAGES.name)


def _primary(stream: GeneratedStream, cause: str) -> list[AnomalyTruth]:
    return [a for a in stream.truth.anomalies if a.primary and a.cause == cause]


def _in(chat: list[dict], community: str, lo: datetime, hi: datetime) -> list[dict]:
    return [m for m in chat if m["community_id"] == community and lo <= m["ts_dt"] < hi]


def _active(messages: list[dict]) -> int:
    """Distinct members with a message that is not mechanical (copies counted: a bound)."""
    return len({m["member_id"] for m in messages if m["sender_role"] == "member"
                and m["msg_type"] not in ("system", "sticker")
                and not (m["msg_type"] == "text" and is_mechanical(m["text"]))})


def test_truth_lists_every_communitys_anomalies(anomaly_stream: GeneratedStream) -> None:
    truth = anomaly_stream.truth
    by_id: dict[str, list[AnomalyTruth]] = defaultdict(list)
    for a in truth.anomalies:
        by_id[a.anomaly_id].append(a)
    causes = Counter((entries[0].community_id, entries[0].cause) for entries in by_id.values())
    assert causes == {(c.community_id, cause): 1 for c in truth.communities
                      for cause in ("chatter_burst", "quiet_spell", "mass_leave")}
    shapes = {"chatter_burst": [("messages", "spike", True), ("active_members", "spike", False)],
              "quiet_spell": [("active_members", "drop", True), ("messages", "drop", False)],
              "mass_leave": [("leaves", "spike", True)]}
    for entries in by_id.values():
        cause = entries[0].cause
        assert [(a.metric, a.direction, a.primary) for a in entries] == shapes[cause]
        assert len({(a.start, a.end, a.community_id) for a in entries}) == 1
    assert truth.anomalies == sorted(truth.anomalies, key=lambda a: a.start)
    for a in truth.anomalies:
        assert truth.start + timedelta(days=WARMUP_DAYS) <= a.start < a.end <= truth.end
        duration = a.end - a.start
        if a.cause == "chatter_burst":
            assert timedelta(hours=1) <= duration <= timedelta(hours=2)
            assert a.magnitude >= (4.5 if a.primary else 1.5)
        elif a.cause == "quiet_spell":
            assert timedelta(hours=2) <= duration <= timedelta(hours=3)
            assert a.magnitude <= (0.25 if a.metric == "active_members" else 0.4)
        else:
            assert duration <= timedelta(minutes=45)
            assert a.magnitude == len(a.member_ids) >= 10
    # onsets at random minutes, not on the hour
    assert len({a.start.minute for a in truth.anomalies}) > 3
    assert json.loads(truth.to_json())["anomalies"][0]["start"].endswith("Z")


def test_chatter_bursts_triple_the_messages_of_the_week_before(
        anomaly_stream: GeneratedStream, chat: list[dict]) -> None:
    for a in _primary(anomaly_stream, "chatter_burst"):
        now = _in(chat, a.community_id, a.start, a.end)
        before = _in(chat, a.community_id, a.start - WEEK, a.end - WEEK)
        assert len(now) >= 3 * len(before), a.anomaly_id
        assert _active(now) >= 1.5 * _active(before), a.anomaly_id
        # each clock hour mostly in the burst, against the same hour a week before
        for lo, hi in _clock_hours(a, timedelta(minutes=45)):
            assert len(_in(chat, a.community_id, lo, hi)) >= 3 * len(
                _in(chat, a.community_id, lo - WEEK, hi - WEEK)), a.anomaly_id
    assert any(_clock_hours(a, timedelta(minutes=45))
               for a in _primary(anomaly_stream, "chatter_burst"))


def _clock_hours(a: AnomalyTruth, overlap: timedelta) -> list[tuple[datetime, datetime]]:
    """The UTC clock hours that overlap the anomaly by at least ``overlap``."""
    hours = []
    lo = a.start.replace(minute=0, second=0, microsecond=0)
    while lo < a.end:
        hi = lo + timedelta(hours=1)
        if min(hi, a.end) - max(lo, a.start) >= overlap:
            hours.append((lo, hi))
        lo = hi
    return hours


def test_quiet_spells_silence_most_members(anomaly_stream: GeneratedStream,
                                           chat: list[dict]) -> None:
    for a in _primary(anomaly_stream, "quiet_spell"):
        hours = _clock_hours(a, timedelta(hours=1))
        assert hours, a.anomaly_id
        now = [_in(chat, a.community_id, lo, hi) for lo, hi in hours]
        before = [_in(chat, a.community_id, lo - WEEK, hi - WEEK) for lo, hi in hours]
        # hour by hour, as a detector counts them
        assert sum(map(_active, now)) <= 0.35 * sum(map(_active, before)), a.anomaly_id
        assert sum(map(len, now)) <= 0.5 * sum(map(len, before)), a.anomaly_id
        # staff and bots carry on
        assert any(m["sender_role"] != "member" for hour in now for m in hour)
        posters = {m["member_id"] for m in _in(chat, a.community_id, a.start, a.end)
                   if m["sender_role"] == "member"}
        assert len(posters) >= 3  # most members, not all


def test_mass_leaves_are_bursts_of_members_who_never_post_again(
        anomaly_stream: GeneratedStream, chat: list[dict]) -> None:
    events = _valid(anomaly_stream, MEMBER_EVENTS.name)
    for a in _primary(anomaly_stream, "mass_leave"):
        leaves = [e for e in events if e["community_id"] == a.community_id
                  and e["action"] in ("leave", "removed") and a.start <= e["ts_dt"] < a.end]
        assert len(leaves) >= 10
        assert set(a.member_ids) <= {e["member_id"] for e in leaves}
        assert min(e["ts_dt"] for e in leaves) == a.start
        for member in a.member_ids:
            left = next(e["ts_dt"] for e in leaves if e["member_id"] == member)
            assert not [m for m in chat if m["community_id"] == a.community_id
                        and m["member_id"] == member and m["ts_dt"] >= left]
            assert not [e for e in events if e["community_id"] == a.community_id
                        and e["member_id"] == member and e["ts_dt"] > left]
            # they were members who had posted before
        posted = {m["member_id"] for m in chat if m["community_id"] == a.community_id
                  and m["ts_dt"] < a.start}
        assert len(posted & set(a.member_ids)) >= len(a.member_ids) // 2


def test_nothing_changes_before_a_communitys_first_anomaly(
        anomaly_stream: GeneratedStream, twin_stream: GeneratedStream, chat: list[dict]) -> None:
    twin = _valid(twin_stream, CHAT_MESSAGES.name)
    assert twin_stream.truth.anomalies == []
    for community in anomaly_stream.truth.communities:
        first = min(a.start for a in anomaly_stream.truth.anomalies
                    if a.community_id == community.community_id)

        def before(messages: list[dict], cid: str = community.community_id,
                   first: datetime = first) -> list[tuple]:
            return sorted((m["message_id"], m["ts"], m["member_id"], m["text"])
                          for m in messages if m["community_id"] == cid and m["ts_dt"] < first)

        assert before(chat) == before(twin)
        assert len(before(chat)) > 1000


def test_anomalies_are_deterministic(anomaly_stream: GeneratedStream) -> None:
    again = generate(ANOMALY_STREAM)
    assert again.records == anomaly_stream.records
    assert again.truth.to_json() == anomaly_stream.truth.to_json()
    assert generate(replace(ANOMALY_STREAM, seed=5)).truth.anomalies != \
        anomaly_stream.truth.anomalies


def test_anomalies_need_a_warm_up_and_default_to_none() -> None:
    with pytest.raises(ValueError, match="days must be >= 9"):
        GeneratorConfig(start=REFERENCE_START, days=8, anomalies=1)
    with pytest.raises(ValueError, match="anomalies"):
        GeneratorConfig(start=REFERENCE_START, days=20, anomalies=21)
    assert GeneratorConfig().anomalies == 0
