"""Small bridges to Faust internals: batching, and a broker end-offset workaround.

The transport-level fixes live in :mod:`pipeline.runtime.transport`.

Faust routes a table write to the changelog partition of the *current event*
(so state stays co-partitioned with its source).  When we process events in
batches (``stream.take_events``) there is no current event during our table
writes; :func:`acting_for` sets it to an event of the partition whose state we
are writing, exactly as Faust does itself while iterating a stream.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.streams import _current_event
from faust.types import TP, EventT

from pipeline.app.settings import Settings
from pipeline.runtime.kafka_clients import aiokafka_options


@contextmanager
def acting_for(event: EventT) -> Iterator[None]:
    """Make ``event`` the current event for table writes inside the block."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


async def true_end_offsets(
    settings: Settings, reported: Mapping[TP, int | None]
) -> dict[TP, int | None]:
    """End offsets confirmed by reading each partition's tail from the reported end.

    Some brokers (the embedded Tansu build, see docs/engineering-notes.md) answer
    ListOffsets(latest) with the base offset of the last record batch + 1 when
    that batch holds several records.  Faust's table recovery trusts that
    number, so it would stop early (missing changelog records) or refuse to
    start (rocksdb: "persisted offset is higher than the highwater").  Reading
    on from the reported end finds the real one; on a correct broker the read
    is empty and the answer unchanged.
    """
    targets = {tp: end for tp, end in reported.items() if end is not None}
    if not targets:
        return dict(reported)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **aiokafka_options(settings),
    )
    await consumer.start()
    try:
        partitions = {tp: TopicPartition(tp.topic, tp.partition) for tp in targets}
        consumer.assign(list(partitions.values()))
        for tp, end in targets.items():
            consumer.seek(partitions[tp], max(end - 1, 0))
        ends: dict[TP, int | None] = dict(reported)
        by_kafka_tp = {kafka_tp: tp for tp, kafka_tp in partitions.items()}
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                break
            for kafka_tp, records in batches.items():
                tp = by_kafka_tp[kafka_tp]
                ends[tp] = max(ends[tp] or 0, records[-1].offset + 1)
        return ends
    finally:
        await consumer.stop()
