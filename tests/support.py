"""Helpers for integration tests: drive a worker until its input is fully committed."""

from __future__ import annotations

import time
from collections import defaultdict

from kafka import KafkaConsumer, TopicPartition

from pipeline.settings import Settings
from pipeline.stack import WorkerProcess
from pipeline.topics import INPUT_TOPICS


def log_end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """True end offsets, found by reading every record (the embedded broker's
    ListOffsets(latest) can under-report; see ENGINEERING.md)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
        auto_offset_reset="earliest", consumer_timeout_ms=1500, **settings.kafka_client_options,
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = defaultdict(int)
        for record in consumer:
            tp = TopicPartition(record.topic, record.partition)
            ends[tp] = max(ends[tp], record.offset + 1)
        return dict(ends)
    finally:
        consumer.close()


def committed(settings: Settings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.app_id,
        enable_auto_commit=False, **settings.kafka_client_options,
    )
    try:
        return {tp: consumer.committed(tp) or 0 for tp in partitions}
    finally:
        consumer.close()


def wait_until_committed(settings: Settings, worker: WorkerProcess, timeout: float = 180) -> None:
    """Block until the worker's consumer group has committed every input record."""
    topics = [settings.topic(spec.name) for spec in INPUT_TOPICS]
    ends = log_end_offsets(settings, topics)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.process is not None and worker.process.poll() is None, "worker died"
        current = committed(settings, list(ends))
        if all(current[tp] >= end for tp, end in ends.items()):
            return
        time.sleep(1.0)
    raise AssertionError(f"input not committed after {timeout}s: {current} < {ends}")
