"""Have the worker groups processed everything? Committed offsets vs true log ends.

Faust commits an offset only when every agent reading that topic acknowledged
the record, after flushing its producer, so "all input committed" means every
output of every agent is out.  Log ends are found by reading on from the
broker's answer, because the embedded broker's ListOffsets(latest) can
under-report (see ENGINEERING.md).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition

from pipeline.settings import Settings
from pipeline.topics import consumed_topics


def log_end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """End offset of every non-empty partition: the broker's answer, read on from there."""
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
        reported = consumer.end_offsets(partitions)
        ends: dict[TopicPartition, int] = defaultdict(int)
        for tp in partitions:
            consumer.seek(tp, reported[tp])
            if reported[tp]:
                ends[tp] = reported[tp]
        for record in consumer:
            tp = TopicPartition(record.topic, record.partition)
            ends[tp] = max(ends[tp], record.offset + 1)
        return dict(ends)
    finally:
        consumer.close()


def committed_offsets(
    settings: Settings, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id,
        enable_auto_commit=False, **settings.kafka_client_options,
    )
    try:
        return {tp: consumer.committed(tp) or 0 for tp in partitions}
    finally:
        consumer.close()


def wait_until_committed(
    workers: Settings | Sequence[Settings],
    alive: Callable[[], bool],
    timeout: float = 300,
    topics: list[str] | None = None,
) -> None:
    """Block until every worker's group committed all it consumes (raises on timeout).

    ``workers`` are the settings of the running workers (one per role).  Records
    that agents publish for other agents (alerts, scores, commands) appear while
    waiting, so this repeats until a pass finds no new records anywhere.
    ``topics`` overrides the topics of a single worker.
    """
    workers = [workers] if isinstance(workers, Settings) else list(workers)
    deadline = time.monotonic() + timeout
    previous: dict[str, dict[TopicPartition, int]] | None = None
    while True:
        ends = {
            worker.group_id: log_end_offsets(worker, topics or [
                worker.topic(spec.name) for spec in consumed_topics(worker.worker_role)
            ])
            for worker in workers
        }
        if ends == previous:
            return
        for worker in workers:
            _wait_for_group(worker, ends[worker.group_id], alive, deadline, timeout)
        previous = ends


def _wait_for_group(
    settings: Settings,
    ends: dict[TopicPartition, int],
    alive: Callable[[], bool],
    deadline: float,
    timeout: float,
) -> None:
    current: dict[TopicPartition, int] = {}
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("worker died before committing its input")
        current = committed_offsets(settings, list(ends))
        if all(current[tp] >= end for tp, end in ends.items()):
            return
        time.sleep(0.5)
    raise TimeoutError(
        f"{settings.group_id}: input not committed after {timeout}s: {current} < {ends}"
    )
