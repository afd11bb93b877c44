"""The pure parts of the members RSS benchmark: its input and its /proc reader."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

import orjson

from bench.members_rss import (
    Shape,
    label,
    members_reached,
    memory_mib,
    parse_status,
    synthetic_records,
    thin,
    to_entry,
)
from pipeline.topics import CHAT_MESSAGES, MEMBER_EVENTS
from schemas.decode import Rejection, decode
from schemas.events import ChatMessage, MemberEvent

SMALL = Shape(communities=3, members_per_community=7, second_every=3, joins_per_community=2)
NOW = datetime(2026, 11, 27, tzinfo=UTC)

STATUS = """Name:\tpython
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1402364 kB
VmSize:\t 1336828 kB
VmHWM:\t  412004 kB
VmRSS:\t  409876 kB
RssAnon:\t  301234 kB
Threads:\t8
voluntary_ctxt_switches:\t150
"""


def decoded(shape: Shape) -> list[tuple[str, bytes, ChatMessage | MemberEvent]]:
    out = []
    for record in synthetic_records(shape):
        model = ChatMessage if record.topic == CHAT_MESSAGES.name else MemberEvent
        event = decode(record.value, model, now=NOW)
        assert not isinstance(event, Rejection), (event, record.value)
        assert int(event.ts.timestamp() * 1000) == record.ts_ms
        assert record.key == event.community_id.encode()
        out.append((record.topic, record.key, event))
    return out


def test_every_record_is_valid_input_with_the_planned_counts():
    events = decoded(SMALL)
    assert len(events) == SMALL.records
    topics = Counter(topic for topic, _, _ in events)
    assert topics[MEMBER_EVENTS.name] == SMALL.communities * SMALL.joins_per_community
    chat = [e for topic, _, e in events if topic == CHAT_MESSAGES.name]
    members = [e for e in chat if e.sender_role == "member"]
    assert len(members) == SMALL.chat_messages == 3 * (7 + 3)
    assert len({(e.community_id, e.member_id) for e in members}) == SMALL.members
    assert len({e.message_id for e in chat}) == len(chat)
    assert {e.sender_role for e in chat} == {"member", "bot"}
    assert any("\u4e00" <= ch <= "\u9fff" for e in members for ch in e.text)


def test_event_time_only_grows_and_closing_messages_pass_the_lateness():
    shape = Shape(communities=4, members_per_community=50)
    times = [r.ts_ms for r in synthetic_records(shape)]
    assert times == sorted(times)
    chat_end = shape.start_ms + shape.spread_ms
    member_times = [r.ts_ms for r in synthetic_records(shape) if b'"sender_role":"member"'
                    in r.value]
    assert min(member_times) >= shape.start_ms and max(member_times) < chat_end
    assert times[-1] >= chat_end + shape.lateness_ms


def test_wire_shape_is_the_generators():
    record = next(r for r in synthetic_records(SMALL) if r.topic == CHAT_MESSAGES.name)
    value = orjson.loads(record.value)
    assert list(value) == ["schema_version", "ts", "message_id", "community_id", "platform",
                           "member_id", "sender_role", "msg_type", "text", "reply_to",
                           "mentions"]
    assert value["ts"] == "2026-11-02T00:00:00.000Z"


def test_first_messages_come_first_within_each_community():
    """What members_reached relies on: a group's first k chat records are distinct members
    while k is at most the group's size."""
    seen: dict[bytes, list[str]] = {}
    for topic, key, event in decoded(SMALL):
        if topic == CHAT_MESSAGES.name and event.sender_role == "member":
            seen.setdefault(key, []).append(event.member_id)
    for members in seen.values():
        first = members[:SMALL.members_per_community]
        assert len(set(first)) == SMALL.members_per_community


def test_members_reached_counts_committed_first_messages_per_partition():
    shape = Shape(communities=3, members_per_community=10)
    partition_of = {"grp-0000": 0, "grp-0001": 0, "grp-0002": 1}
    assert members_reached(shape, {0: 25, 1: 4}, partition_of) == 20 + 4
    assert members_reached(shape, {0: 7}, partition_of) == 7
    assert members_reached(shape, {}, partition_of) == 0


def test_parse_status_reads_vm_fields_in_kb():
    fields = parse_status(STATUS)
    assert fields["VmRSS"] == 409876 and fields["VmHWM"] == 412004
    assert "RssAnon" not in fields and "Threads" not in fields
    assert parse_status("") == {}


def test_memory_of_this_process_and_of_a_missing_one():
    mine = memory_mib(os.getpid())
    assert 0 < mine["VmRSS"] <= mine["VmHWM"] + 1
    assert memory_mib(2**22 + 1) == {}


def test_label_never_rounds_up():
    assert label(1_000_000) == "1m"
    assert label(999_999) == "999k"
    assert label(50_000) == "50k"
    assert label(12) == "12"


def test_entry_keeps_the_results_format():
    figures = {"peak_rss_mib": 900.04, "idle_rss_mib": 400.0, "members": 1000,
               "timeline": thin([(i * 0.5, 400.0 + i) for i in range(100)], points=4)}
    entry = to_entry("worker_rss_mib_1k_members", figures)
    assert {k: entry[k] for k in ("name", "value", "unit", "baseline", "baseline_value",
                                  "ratio")} == {
        "name": "worker_rss_mib_1k_members", "value": 900.0, "unit": "MiB",
        "baseline": "idle worker RSS", "baseline_value": 400.0, "ratio": 2.2501}
    assert entry["details"]["within_target"] is True
    assert entry["details"]["rss_timeline_s_mib"] == "0:400 12:425 25:450 38:475 50:499"
