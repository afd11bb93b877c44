"""Many small internal records per Kafka message, each message on its entries' partition.

Re-keyed internal streams (a member's orders and touches, partial sales totals)
are many tiny records; every Kafka record costs a Faust worker roughly 0.1 ms
to consume and a broker round of bookkeeping, more than the work it carries.
So entries ``(key, value)`` are grouped by the partition Kafka's default
partitioner gives their key (murmur2, as every producer of these topics
uses) and sent as chunks of up to :data:`CHUNK_ENTRIES` to that partition:
the consumer sees every entry on the partition its key belongs to, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

CHUNK_ENTRIES = 500


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner assigns ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def pack(entries: Iterable[tuple[str, Any]], partitions: int,
         chunk: int = CHUNK_ENTRIES) -> list[tuple[int, bytes]]:
    """``(partition, value)`` messages holding ``entries`` (JSON-able values), in order."""
    grouped: dict[int, list[list[Any]]] = {}
    for key, value in entries:
        grouped.setdefault(partition_of(key, partitions), []).append([key, value])
    return [(partition, orjson.dumps(group[start:start + chunk]))
            for partition, group in sorted(grouped.items())
            for start in range(0, len(group), chunk)]


def unpack(value: bytes) -> list[tuple[str, Any]]:
    return [(key, entry) for key, entry in orjson.loads(value)]
