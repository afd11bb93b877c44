"""Have the worker groups processed everything? Committed offsets vs true log ends.

Faust commits an offset only when every agent reading that topic acknowledged
the record, after flushing its producer, so "all input committed" means every
output of every agent is out.  Log ends are found by reading on from the
broker's answer, because the embedded broker's ListOffsets(latest) can
under-report (see docs/engineering-notes.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from faust.types import TP
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from pipeline.app.settings import Settings
from pipeline.runtime.faust_support import true_end_offsets
from pipeline.runtime.kafka_clients import kafka_python_options
from pipeline.topics import consumed_topics


def log_end_offsets(settings: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    """End offset of every non-empty partition: the broker's answer, confirmed the way
    table recovery confirms it (:func:`~pipeline.runtime.faust_support.true_end_offsets`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
        **kafka_python_options(settings),
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        reported = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    confirmed = asyncio.run(true_end_offsets(
        settings, {TP(tp.topic, tp.partition): end for tp, end in reported.items()}
    ))
    return {TopicPartition(tp.topic, tp.partition): end
            for tp, end in confirmed.items() if end}


def committed_offsets(
    settings: Settings, partitions: list[TopicPartition], admin: KafkaAdminClient | None = None,
) -> dict[TopicPartition, int]:
    """The group's committed offset of each partition (0 where none), in one request
    (a consumer's ``committed`` asks once per partition); ``admin`` to reuse a client."""
    client = admin or _admin(settings)
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                found = client.list_group_offsets(
                    {settings.group_id: partitions})[settings.group_id]
                break
            except KafkaError as error:  # e.g. no coordinator yet on a fresh broker
                if not error.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        if admin is None:
            client.close()
    return {tp: max(found[tp].offset, 0) if tp in found else 0 for tp in partitions}


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                            client_id=f"{settings.app_id}-progress",
                            **kafka_python_options(settings))


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
    admin = _admin(settings)
    try:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError("worker died before committing its input")
            current = committed_offsets(settings, list(ends), admin)
            if all(current[tp] >= end for tp, end in ends.items()):
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise TimeoutError(
        f"{settings.group_id}: input not committed after {timeout}s: {current} < {ends}"
    )
