"""The AsyncAPI document: every topic, current, its schema references resolvable."""

from __future__ import annotations

import yaml

from pipeline.egress.contracts import (
    ASYNCAPI_PATH,
    PACKED,
    TOPIC_RECORDS,
    asyncapi_document,
    asyncapi_text,
)
from pipeline.topics import ALL_TOPICS, DEAD_LETTER, INTERNAL_TOPICS


def test_committed_asyncapi_document_is_up_to_date() -> None:
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == asyncapi_text(), \
        "run `pulse schemas` (make schemas) and commit schemas/asyncapi.yaml"


def test_every_topic_is_a_channel_with_a_message_and_its_configuration() -> None:
    document = yaml.safe_load(asyncapi_text())
    assert document["asyncapi"] == "3.0.0"
    by_address = {c["address"]: c for c in document["channels"].values()}
    assert set(by_address) == {spec.name for spec in ALL_TOPICS}
    for spec in ALL_TOPICS:
        channel = by_address[spec.name]
        config = channel["bindings"]["kafka"]["topicConfiguration"]
        assert config["cleanup.policy"] == ["compact" if spec.compacted else "delete"]
        assert config["retention.ms"] == spec.retention_ms
        (ref,) = [m["$ref"] for m in channel["messages"].values()]
        assert ref.removeprefix("#/components/messages/") in document["components"]["messages"]
    assert len(document["operations"]) == len(ALL_TOPICS)


def test_every_topic_has_a_schema_or_says_where_its_format_is() -> None:
    """Record topics point at their JSON Schema file; the rest are the DLQ and the
    internal packed topics, each naming its encoder."""
    internal = {spec.name for spec in INTERNAL_TOPICS}
    for spec in ALL_TOPICS:
        assert (spec.name in TOPIC_RECORDS) + (spec is DEAD_LETTER) + (spec.name in PACKED) == 1
    assert set(PACKED) <= internal
    messages = asyncapi_document()["components"]["messages"]
    for message in messages.values():
        ref = message["payload"].get("$ref")
        if ref is not None:
            assert (ASYNCAPI_PATH.parent / ref).is_file(), ref
