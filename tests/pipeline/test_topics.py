"""Topic creation against the real broker: complete, configured, idempotent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.app.settings import Settings
from pipeline.devtools.kafka_broker import KafkaBroker
from pipeline.devtools.stack import BrokerProcess
from pipeline.topics import ACTIVITY_MINUTE, ALL_TOPICS, CHAT_MESSAGES, DAY_MS, ensure_topics
from tests.support import settings_on


@pytest.mark.integration
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
                                       "cleanup.policy": "delete",
                                       "message.timestamp.type": "LogAppendTime"}
    assert all(spec.configs()["message.timestamp.type"] == "LogAppendTime"
               for spec in ALL_TOPICS)
    assert ACTIVITY_MINUTE.configs()["cleanup.policy"] == "compact"
    assert len({spec.name for spec in ALL_TOPICS}) == len(ALL_TOPICS)
    assert all(spec.name.endswith(".v1") for spec in ALL_TOPICS)


@pytest.mark.integration
def test_a_record_stamped_long_ago_is_kept_from_its_arrival(
    any_broker: BrokerProcess, tmp_path: Path
) -> None:
    """A producer that stamps records with their event time (a backfill, a bridge
    flushing its buffer after an outage) must not lose them to retention.  Apache Kafka
    deletes records by timestamp: a control topic with producer timestamps shows the
    broker's retention check (every second on the test broker) deleting such a record,
    while ours keeps it, stamped with its arrival.  Tansu enforces no retention and
    ignores ``message.timestamp.type``: there the record is only kept."""
    settings = settings_on(any_broker, tmp_path)  # creates the pipeline's topics
    ours = settings.topic(CHAT_MESSAGES.name)
    control = f"{settings.topic_prefix}control.producer-timestamps"
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(control, 1, 1, topic_configs={
            "retention.ms": str(CHAT_MESSAGES.retention_ms), "cleanup.policy": "delete"})])
    finally:
        admin.close()
    month_ago = int(time.time() * 1000) - 30 * DAY_MS
    sent_after = int(time.time() * 1000)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    try:
        for topic in (ours, control):
            producer.send(topic, b"{}", key=b"c1", partition=0, timestamp_ms=month_ago)
        producer.flush()
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             enable_auto_commit=False)
    try:
        if isinstance(any_broker, KafkaBroker):
            control_tp = TopicPartition(control, 0)
            deadline = time.monotonic() + 120  # the first check runs 30 s after start
            while consumer.beginning_offsets([control_tp])[control_tp] == 0:
                assert time.monotonic() < deadline, "the broker never applied retention"
                time.sleep(0.5)
        tp = TopicPartition(ours, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        records = consumer.poll(timeout_ms=5000).get(tp, [])
    finally:
        consumer.close()
    assert len(records) == 1
    if isinstance(any_broker, KafkaBroker):
        assert records[0].timestamp_type == 1  # LogAppendTime
        assert records[0].timestamp >= sent_after
