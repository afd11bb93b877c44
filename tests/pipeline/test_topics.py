"""Topic creation against the real broker: complete, configured, idempotent."""

from __future__ import annotations

from kafka import KafkaConsumer

from pipeline.app.settings import Settings
from pipeline.topics import ACTIVITY_MINUTE, ALL_TOPICS, CHAT_MESSAGES, ensure_topics


def test_topics_exist_with_configured_partitions_and_recreation_is_a_no_op(
    pipeline_settings: Settings,
) -> None:
    assert ensure_topics(pipeline_settings) == []  # the fixture already created them
    consumer = KafkaConsumer(bootstrap_servers=pipeline_settings.bootstrap_servers)
    try:
        for spec in ALL_TOPICS:
            partitions = consumer.partitions_for_topic(pipeline_settings.topic(spec.name))
            assert partitions == set(range(pipeline_settings.topic_partitions)), spec.name
    finally:
        consumer.close()


def test_topic_specs_state_keys_retention_and_compaction() -> None:
    assert CHAT_MESSAGES.key == "community_id"
    assert CHAT_MESSAGES.configs() == {"retention.ms": str(7 * 24 * 3600 * 1000),
                                       "cleanup.policy": "delete"}
    assert ACTIVITY_MINUTE.configs()["cleanup.policy"] == "compact"
    assert len({spec.name for spec in ALL_TOPICS}) == len(ALL_TOPICS)
    assert all(spec.name.endswith(".v1") for spec in ALL_TOPICS)
