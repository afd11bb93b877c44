"""Progress checks against the real broker: log ends even where ListOffsets under-reports."""

from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.app.settings import Settings
from pipeline.devtools.progress import log_end_offsets
from pipeline.topics import CHAT_MESSAGES


def test_log_end_offsets_match_the_records_in_multi_record_batches(
    pipeline_settings: Settings,
) -> None:
    topic = pipeline_settings.topic(CHAT_MESSAGES.name)
    producer = KafkaProducer(bootstrap_servers=pipeline_settings.bootstrap_servers,
                             linger_ms=50)  # many records per batch
    for index in range(1037):
        producer.send(topic, key=f"community-{index % 7}".encode(), value=b"x" * 50)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=pipeline_settings.bootstrap_servers,
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    counted: dict[TopicPartition, int] = {}
    for record in consumer:
        tp = TopicPartition(record.topic, record.partition)
        counted[tp] = max(counted.get(tp, 0), record.offset + 1)
    consumer.close()

    assert sum(counted.values()) == 1037
    assert log_end_offsets(pipeline_settings, [topic]) == counted
