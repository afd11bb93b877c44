"""Edge validation: every kind of bad input becomes a precise rejection, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.decode import Rejection, ValidationPolicy, decode
from schemas.events import MAX_TEXT_CHARS, ChatMessage, FunnelEvent, MemberEvent, Transaction

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHAT = {
    "message_id": "m1", "community_id": "c1", "member_id": "u1",
    "ts": "2026-11-23T19:30:00+08:00", "text": "大家早上好", "mentions": ["u2"],
}


def chat(**changes) -> bytes:
    return orjson.dumps({**CHAT, **changes})


def test_valid_chat_message_is_parsed_with_defaults_and_event_time() -> None:
    event = decode(chat(), ChatMessage, now=NOW)
    assert isinstance(event, ChatMessage)
    assert (event.platform, event.sender_role, event.msg_type) == ("wechat", "member", "text")
    assert event.ts == datetime(2026, 11, 23, 11, 30, tzinfo=UTC)
    assert (event.dedup_id, event.partition_key) == ("m1", "c1")


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert isinstance(decode(chat(new_field=1), ChatMessage, now=NOW), ChatMessage)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (None, "invalid_json"),
        ("大家好".encode("gbk"), "invalid_encoding"),
        (orjson.dumps({**CHAT, "text": "你好"}).decode().encode("gbk"), "invalid_encoding"),
        (b"[1, 2]", "schema"),
        (chat(member_id=42), "schema"),
        (orjson.dumps({k: v for k, v in CHAT.items() if k != "community_id"}), "schema"),
        (chat(msg_type="voice"), "schema"),
        (chat(ts="2026-11-23T11:30:00"), "schema"),
        (chat(schema_version=2), "unsupported_version"),
        (chat(text="好" * (MAX_TEXT_CHARS + 1)), "oversized"),
        (b"{" + b" " * 70_000 + b"}", "oversized"),
        (chat(ts="1970-01-01T00:00:00Z"), "timestamp_out_of_range"),
        (chat(ts="2099-01-01T00:00:00Z"), "timestamp_out_of_range"),
    ],
)
def test_malformed_input_is_rejected_with_its_reason(raw: bytes | None, reason: str) -> None:
    result = decode(raw, ChatMessage, now=NOW)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.detail


def test_rejection_detail_never_echoes_the_payload() -> None:
    secret = "13812345678"
    result = decode(chat(member_id=int(secret)), ChatMessage, now=NOW)
    assert isinstance(result, Rejection) and secret not in result.detail


def test_future_skew_is_configurable() -> None:
    policy = ValidationPolicy(max_future_skew=__import__("datetime").timedelta(days=365 * 100))
    assert isinstance(decode(chat(ts="2099-01-01T00:00:00Z"), ChatMessage, policy, NOW),
                      ChatMessage)


def test_other_streams_identity_and_keys() -> None:
    member = decode(orjson.dumps({"event_id": "e1", "community_id": "c1", "member_id": "u1",
                                  "action": "join", "ts": "2026-11-23T01:00:00Z"}),
                    MemberEvent, now=NOW)
    order = decode(orjson.dumps({"order_id": "o1", "member_id": "u1", "amount_fen": 9900,
                                 "status": "refunded", "ts": "2026-11-23T01:00:00Z"}),
                   Transaction, now=NOW)
    funnel = decode(orjson.dumps({"event_id": "f1", "campaign_id": "k1", "person_id": "p1",
                                  "step": "signup", "ts": "2026-11-23T01:00:00Z"}),
                    FunnelEvent, now=NOW)
    assert isinstance(member, MemberEvent) and member.partition_key == "c1"
    assert isinstance(order, Transaction) and order.dedup_id == "o1:refunded"
    assert isinstance(funnel, FunnelEvent) and funnel.partition_key == "k1"
    negative = decode(orjson.dumps({"order_id": "o1", "member_id": "u1", "amount_fen": -1,
                                    "status": "paid", "ts": "2026-11-23T01:00:00Z"}),
                      Transaction, now=NOW)
    assert isinstance(negative, Rejection) and negative.reason == "schema"
