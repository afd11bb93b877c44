"""``pulse replay``: lines of your own events reach their topics byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.app.settings import Settings
from pipeline.cli import app
from pipeline.devtools.generator import generate
from pipeline.devtools.generator.io import EVENTS_FILE, write_stream
from pipeline.devtools.replay import Unroutable, read_events
from pipeline.topics import (
    CHAT_MESSAGES,
    FUNNEL_EVENTS,
    MEMBER_EVENTS,
    MEMBERSHIP_SNAPSHOTS,
    TRANSACTIONS,
)
from tests.support import FAULTY_STREAM, read_topic

TS = "2026-11-02T10:00:00+08:00"
EVENTS = [
    {"message_id": "m1", "community_id": "c1", "member_id": "u1", "text": "早上好", "ts": TS},
    {"event_id": "e1", "community_id": "c1", "member_id": "u2", "action": "join", "ts": TS},
    {"snapshot_id": "s1", "community_id": "c2", "member_ids": ["u1", "u2"], "ts": TS},
    {"order_id": "o1", "member_id": "u1", "amount_fen": 990, "status": "paid", "ts": TS},
    {"event_id": "f1", "campaign_id": "spring", "person_id": "u1", "step": "signup", "ts": TS},
    {"message_id": "m2", "community_id": "c1", "member_id": "u1", "ts": "yesterday"},
]
TOPICS = [CHAT_MESSAGES, MEMBER_EVENTS, MEMBERSHIP_SNAPSHOTS, TRANSACTIONS, FUNNEL_EVENTS,
          CHAT_MESSAGES]
KEYS = [b"c1", b"c1", b"c2", b"o1", b"spring", b"c1"]


def lines() -> list[str]:
    return [json.dumps(e, ensure_ascii=False) for e in EVENTS] + [
        "", "not json", "[1, 2]", json.dumps({"hello": "world"})]


def test_bare_events_go_to_their_topic_with_their_key_and_bytes() -> None:
    read = list(read_events(lines()))
    records = [r for r in read if not isinstance(r, Unroutable)]
    assert [r.topic for r in records] == [spec.name for spec in TOPICS]
    assert [r.key for r in records] == KEYS
    assert [r.value for r in records] == [line.encode() for line in lines()[:6]]
    assert [(u.line, u.reason) for u in read if isinstance(u, Unroutable)] == [
        (8, "not JSON"), (9, "not a JSON object"),
        (10, "no field tells its topic (message_id, event_id, ...)")]


def test_records_of_pulse_generate_round_trip(tmp_path: Path) -> None:
    stream = generate(FAULTY_STREAM)
    write_stream(stream, tmp_path)
    with (tmp_path / EVENTS_FILE).open(encoding="utf-8") as saved:
        read = list(read_events(saved))
    assert [(r.topic, r.key, r.value, r.timestamp_ms) for r in read] == [
        (r.topic, r.key, r.value, r.timestamp_ms) for r in stream.records]


@pytest.mark.integration
def test_pulse_replay_sends_them(pipeline_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(lines()) + "\n", encoding="utf-8")
    env = {"PULSE_KAFKA_BOOTSTRAP": pipeline_settings.kafka_bootstrap,
           "PULSE_TOPIC_PREFIX": pipeline_settings.topic_prefix}
    done = CliRunner().invoke(app, ["replay", str(path)], env=env)
    assert done.exit_code == 1, done.output  # three lines had nowhere to go, and said so
    assert "line 8 not sent: not JSON" in done.output and "sent 6 records" in done.output
    for spec in {CHAT_MESSAGES, MEMBER_EVENTS, MEMBERSHIP_SNAPSHOTS, TRANSACTIONS,
                 FUNNEL_EVENTS}:
        got = [(r.key, r.value) for r in read_topic(pipeline_settings, spec.name)]
        assert got == [(KEYS[i], lines()[i].encode()) for i, s in enumerate(TOPICS)
                       if s is spec]
