"""The member's Kafka records: which keys name them, which input records relate to them."""

from __future__ import annotations

import orjson

from pipeline.privacy.clickhouse import Subject
from pipeline.privacy.topics import (
    MEMBER_FREE_TOPICS,
    MEMBER_KEYED_TOPICS,
    SCANNED_TOPICS,
    input_relation,
    input_retention,
    inviter_key_member,
    reference_context,
    status_key_member,
)
from pipeline.topics import ALL_TOPICS, DEAD_LETTER, INPUT_TOPICS, MEMBER_STATUS, SALES_TOTALS

M = "wx-m-7"
SUBJECT = Subject(M, "m-aaaa")


def test_every_compacted_topic_is_classified() -> None:
    """A new compacted topic must say whether its keys name members."""
    keyed = {t.spec.name for t in MEMBER_KEYED_TOPICS}
    compacted = {spec.name for spec in ALL_TOPICS if spec.compacted}
    assert compacted == keyed | set(MEMBER_FREE_TOPICS)
    assert not keyed & set(MEMBER_FREE_TOPICS)
    assert {MEMBER_STATUS.name, SALES_TOTALS.name} <= keyed
    assert set(SCANNED_TOPICS) == {*INPUT_TOPICS, DEAD_LETTER}


def test_member_keys_of_the_status_and_inviter_topics() -> None:
    assert status_key_member(f"c1|{M}") == (M, "c1")
    assert status_key_member("c1") is None
    assert inviter_key_member(f"inviter|camp|{M}|all|all") == (M, None)
    assert inviter_key_member("inviter|*|a|b|all|all") == ("a|b", None)
    assert inviter_key_member("community|c1|day|2026-11-02T00:00:00+00:00") is None
    status = next(t for t in MEMBER_KEYED_TOPICS if t.spec is MEMBER_STATUS)
    assert status.names(f"c1|{M}", SUBJECT)
    assert not status.names(f"c1|{M}x", SUBJECT)
    assert status.names(f"c1|{M}", Subject(M, "", "c1"))
    assert not status.names(f"c2|{M}", Subject(M, "", "c1"))
    inviter = next(t for t in MEMBER_KEYED_TOPICS if t.spec is SALES_TOTALS)
    assert inviter.names(f"inviter|camp|{M}|all|all", SUBJECT)
    assert not inviter.names(f"inviter|camp|{M}|all|all", Subject(M, "", "c1"))


def raw(**fields) -> bytes:
    return orjson.dumps({"community_id": "c1", "ts": "2026-11-02T00:00:00Z", **fields})


def test_input_relation_of_owned_referencing_and_unparsed_records() -> None:
    assert input_relation(raw(member_id=M), SUBJECT, False) == "owner"
    assert input_relation(raw(person_id=M), SUBJECT, False) == "owner"
    assert input_relation(raw(member_id="b", inviter_id=M), SUBJECT, False) == "reference"
    assert input_relation(raw(member_id="b", mentions=["x", M]), SUBJECT, False) == "reference"
    assert input_relation(raw(member_ids=["b", M]), SUBJECT, False) == "reference"
    assert input_relation(raw(member_id="b", text=M), SUBJECT, False) is None
    assert input_relation(raw(member_id=M + "0"), SUBJECT, False) is None
    assert input_relation(raw(member_id=M), Subject(M, "", "c2"), False) is None
    assert input_relation(None, SUBJECT, True) is None
    broken = b'{"member_id": "' + M.encode() + b'", "ts": '
    assert input_relation(broken, SUBJECT, False) is None
    assert input_relation(broken, SUBJECT, True) == "raw"


def test_reference_context_shows_which_event_not_whose() -> None:
    value = orjson.loads(raw(event_id="ev-1", member_id="b", inviter_id=M, action="join"))
    assert reference_context(value, "t") == {"topic": "t", "event_id": "ev-1",
                                             "community_id": "c1", "action": "join",
                                             "ts": "2026-11-02T00:00:00Z"}
    assert reference_context("text", "t") == {}


def test_input_retention_names_every_scanned_topic() -> None:
    text = input_retention()
    assert "community.chat.messages.v1 7 days" in text
    assert "pipeline.dead-letter.v1 30 days" in text
