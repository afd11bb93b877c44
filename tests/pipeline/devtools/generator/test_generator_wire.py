"""Every record is what it claims to be, judged by the edge's own ``decode``."""

from __future__ import annotations

from collections import Counter
from typing import get_args

from pipeline.compute.campaigns.registry import Registry
from pipeline.devtools.generator import GeneratedStream
from pipeline.devtools.generator.malformed import FAULTS
from pipeline.topics import CHAT_MESSAGES, FUNNEL_EVENTS, MEMBER_EVENTS, TRANSACTIONS
from schemas.decode import Rejection, decode
from schemas.events import ChatMessage, FunnelEvent, MemberEvent, Transaction
from schemas.outputs import DeadLetterReason

MODELS = {CHAT_MESSAGES.name: ChatMessage, MEMBER_EVENTS.name: MemberEvent,
          TRANSACTIONS.name: Transaction, FUNNEL_EVENTS.name: FunnelEvent}


def test_default_stream_size(stream: GeneratedStream) -> None:
    assert 60_000 <= len(stream.records) <= 100_000
    assert stream.truth.records == len(stream.records)


def test_every_valid_record_decodes_with_its_key_and_timestamp(stream: GeneratedStream) -> None:
    checked = 0
    for record in stream.records:
        if record.kind == "malformed":
            continue
        event = decode(record.value, MODELS[record.topic])
        assert not isinstance(event, Rejection), (record, event)
        assert record.key == event.partition_key.encode()
        assert record.timestamp_ms == round(event.ts.timestamp() * 1000)
        checked += 1
    assert checked > 50_000


def test_valid_events_have_unique_identities(stream: GeneratedStream) -> None:
    ids = Counter()
    for record in stream.records:
        if record.kind in ("valid", "late"):
            event = MODELS[record.topic].model_validate_json(record.value)
            ids[(record.topic, event.dedup_id)] += 1
    assert ids and max(ids.values()) == 1


def test_malformed_records_are_rejected_with_the_expected_reason(stream: GeneratedStream) -> None:
    malformed = [(i, r) for i, r in enumerate(stream.records) if r.kind == "malformed"]
    expected = stream.truth.dead_letters
    assert [i for i, _ in malformed] == [d.position for d in expected]
    for (_, record), letter in zip(malformed, expected, strict=True):
        assert record.topic == letter.topic
        result = decode(record.value, MODELS[record.topic])
        if isinstance(result, FunnelEvent):  # valid by the schema; the registry rejects it
            problem = Registry().step_problem(result.campaign_id, result.step)
            result = Rejection("unknown_step", problem) if problem else result
        assert isinstance(result, Rejection), (letter, record.value[:200])
        assert result.reason == letter.reason, (letter, result, record.value[:200])
        assert record.key  # a plausible key, as the broken producer would still set one
    assert {d.reason for d in expected} == set(get_args(DeadLetterReason))
    assert {d.fault for d in expected} == {f.name for f in FAULTS}


def test_malformed_records_cover_every_input_topic(stream: GeneratedStream) -> None:
    topics = Counter(d.topic for d in stream.truth.dead_letters)
    assert set(topics) == set(MODELS)


def test_transactions_carry_shanghai_offsets_and_chat_utc(stream: GeneratedStream) -> None:
    for record in stream.records[:3000]:
        if record.kind == "malformed":
            continue
        if record.topic == TRANSACTIONS.name:
            assert b'+08:00","order_id"' in record.value
        elif record.topic == CHAT_MESSAGES.name:
            assert b'Z","message_id"' in record.value
