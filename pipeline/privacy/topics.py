"""The member's records in Kafka: compacted topics keyed by member, and the input topics.

- **Compacted topics keyed by member** (:data:`MEMBER_KEYED_TOPICS`): an export reads
  every retained record of the member's keys; a deletion sends a tombstone (null
  value) for each key, to the partition holding it.  Compaction removes the older
  values once their segment is closed (``segment.ms``, 7 days by default) and the
  tombstone itself after ``delete.retention.ms`` (1 day); set ``max.compaction.lag.ms``
  on these topics to bound how long the old values stay on disk.
- **Input topics and the dead-letter topic** (:data:`SCANNED_TOPICS`): raw events,
  kept for their retention (7 days; snapshots and dead letters 30) and never edited
  record by record.  An export scans at most ``limit`` records per topic (the newest),
  matching the member's id in the event's fields (dead letters: anywhere in the bytes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.app.settings import Settings
from pipeline.privacy.clickhouse import Subject
from pipeline.runtime.kafka_clients import kafka_python_options
from pipeline.topics import (
    ACTIVITY_HOUR,
    ACTIVITY_MINUTE,
    DAY_MS,
    DEAD_LETTER,
    FUNNEL_METRICS,
    HEALTH_DAY,
    INPUT_TOPICS,
    MEMBER_PROFILES,
    MEMBER_STATUS,
    RETENTION_COHORTS,
    SALES_TOTALS,
    TopicSpec,
)

READ_IDLE_S = 30.0
"""A topic read that receives nothing for this long before its end gives up."""
POLL_MS = 300
OWNER_FIELDS = ("member_id", "person_id")
"""Input fields naming the event's own member."""
REFERENCE_FIELDS = ("inviter_id", "mentions", "member_ids")
"""Input fields naming other members (an inviter, @mentions, a snapshot's list)."""

Relation = Literal["owner", "reference", "raw"]


def status_key_member(key: str) -> tuple[str, str | None] | None:
    """``<community>|<member>`` (member status and profile): the member and their
    community."""
    community, bar, member = key.partition("|")
    return (member, community) if bar and member else None


def inviter_key_member(key: str) -> tuple[str, str | None] | None:
    """``inviter|<campaign>|<inviter>|<window>|<start>`` (sales totals of an inviter; campaign
    ids never contain ``|``, inviter ids may): the inviter, no community (rows sum over
    the campaign's communities)."""
    parts = key.split("|")
    if parts[0] != "inviter" or len(parts) < 5:
        return None
    return "|".join(parts[2:-2]), None


@dataclass(frozen=True, slots=True)
class MemberKeyedTopic:
    spec: TopicSpec
    member_of: Callable[[str], tuple[str, str | None] | None]
    """A key's member and community (None: not a member's key, or member-wide)."""

    def names(self, key: str, subject: Subject) -> bool:
        found = self.member_of(key)
        if found is None or found[0] != subject.member_id:
            return False
        return subject.community is None or found[1] == subject.community


MEMBER_KEYED_TOPICS: tuple[MemberKeyedTopic, ...] = (
    MemberKeyedTopic(MEMBER_STATUS, status_key_member),
    MemberKeyedTopic(MEMBER_PROFILES, status_key_member),
    MemberKeyedTopic(SALES_TOTALS, inviter_key_member),
)
"""Every compacted topic with keys naming a member."""

MEMBER_FREE_TOPICS: dict[str, str] = {
    ACTIVITY_MINUTE.name: "keyed and valued by community and window: counts only",
    ACTIVITY_HOUR.name: "keyed and valued by community and window: counts only",
    HEALTH_DAY.name: "keyed and valued by community and day: counts only",
    FUNNEL_METRICS.name: "keyed and valued by campaign, channel and window: counts only",
    RETENTION_COHORTS.name: "keyed and valued by community, join day and channel: counts only",
}
"""Compacted topics holding no member's data, and why (a test fails on a compacted topic
in neither list)."""

SCANNED_TOPICS: tuple[TopicSpec, ...] = (*INPUT_TOPICS, DEAD_LETTER)


def input_relation(raw: bytes | None, subject: Subject, anywhere: bool) -> Relation | None:
    """How an input record relates to the member: their own event, an event naming them,
    or (``anywhere``: dead letters, which may not parse) bytes containing their id."""
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    member = subject.member_id
    if isinstance(value, dict):
        if subject.community is not None and value.get("community_id") != subject.community:
            return None
        if any(value.get(f) == member for f in OWNER_FIELDS):
            return "owner"
        for name in REFERENCE_FIELDS:
            field = value.get(name)
            if field == member or (isinstance(field, list) and member in field):
                return "reference"
    if anywhere and orjson.dumps(member) in raw:
        return "raw"
    return None


def reference_context(value: Any, topic: str) -> dict[str, Any]:
    """What an export shows of another member's event naming the member: which event,
    where and when; never the other member's data."""
    if not isinstance(value, dict):
        return {}
    keep = ("message_id", "event_id", "snapshot_id", "community_id", "ts", "action")
    return {"topic": topic} | {k: value[k] for k in keep if k in value}


@dataclass(slots=True)
class TopicRead:
    """Records of one topic read from the offsets chosen up to the end offsets seen at the
    start; ``complete``: nothing before those start offsets was left out."""

    records: list[Any]
    scanned: int = 0
    complete: bool = True


class KafkaReader:
    """Plain kafka-python clients (no consumer group, nothing committed)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.options = kafka_python_options(settings)

    def consumer(self) -> KafkaConsumer:
        return KafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers,
                             client_id=f"{self.settings.app_id}-privacy", group_id=None,
                             enable_auto_commit=False, allow_auto_create_topics=False,
                             fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
                             **self.options)

    def topic_names(self) -> set[str]:
        consumer = self.consumer()
        try:
            return set(consumer.topics())
        finally:
            consumer.close()

    def read(self, topic: str, limit: int | None = None) -> TopicRead:
        """Every record of ``topic`` up to its current end (the newest ``limit`` records in
        all when given, shared evenly by partition)."""
        consumer = self.consumer()
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            if not tps:
                return TopicRead([])
            consumer.assign(tps)
            begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
            per_partition = None if limit is None else max(1, -(-limit // len(tps)))
            complete = True
            for tp in tps:
                start = begin[tp]
                if per_partition is not None and end[tp] - start > per_partition:
                    start, complete = end[tp] - per_partition, False
                consumer.seek(tp, start)
            records = list(_until_end(consumer, end))
            return TopicRead(records, len(records), complete)
        finally:
            consumer.close()

    def tombstone(self, topic: str, keys: dict[bytes, int]) -> int:
        """A null value for each key, to the partition holding it; waits for the broker."""
        return self.send(topic, [(partition, key, None) for key, partition in keys.items()])

    def send(self, topic: str, records: list[tuple[int, bytes | None, bytes | None]]) -> int:
        """``(partition, key, value)`` records; waits until the broker has them all."""
        if not records:
            return 0
        producer = KafkaProducer(bootstrap_servers=self.settings.bootstrap_servers,
                                 client_id=f"{self.settings.app_id}-privacy", acks="all",
                                 **self.options)
        try:
            futures = [producer.send(topic, key=key, value=value, partition=partition)
                       for partition, key, value in records]
            producer.flush()
            for future in futures:
                future.get(timeout=30)
        finally:
            producer.close()
        return len(records)


def _until_end(consumer: KafkaConsumer, end: dict[TopicPartition, int]) -> Iterator[Any]:
    """Poll until every partition reached its end offset and a poll comes back empty.

    Reading on past the reported end: some brokers (the embedded Tansu build) report
    the base offset of the last record batch + 1 (``true_end_offsets`` in
    pipeline/runtime/faust_support.py); on a correct broker the extra poll is empty.
    """
    idle_since = time.monotonic()
    while True:
        batches = consumer.poll(timeout_ms=POLL_MS)
        for records in batches.values():
            yield from records
        if batches:
            idle_since = time.monotonic()
        elif all(consumer.position(tp) >= offset for tp, offset in end.items()):
            return
        elif time.monotonic() - idle_since > READ_IDLE_S:
            raise TimeoutError("a topic read made no progress")


def member_keyed_records(reader: KafkaReader, subject: Subject) -> dict[str, list]:
    """Per member-keyed topic, every retained record of the subject's keys, oldest first."""
    found: dict[str, list] = {}
    for topic in MEMBER_KEYED_TOPICS:
        name = reader.settings.topic(topic.spec.name)
        records = [r for r in reader.read(name).records
                   if r.key is not None and topic.names(r.key.decode(), subject)]
        found[topic.spec.name] = records
    return found


def scan_inputs(reader: KafkaReader, subject: Subject, limit: int,
                ) -> dict[str, tuple[TopicRead, list[tuple[Relation, Any]]]]:
    """Per scanned topic, what was read and the records relating to the member."""
    out = {}
    for spec in SCANNED_TOPICS:
        read = reader.read(reader.settings.topic(spec.name), limit)
        matched = []
        for record in read.records:
            relation = input_relation(record.value, subject, anywhere=spec is DEAD_LETTER)
            if relation is not None:
                matched.append((relation, record))
        out[spec.name] = (read, matched)
    return out


def input_retention() -> str:
    """How long the scanned topics keep a record, e.g. for the audit and the docs."""
    return ", ".join(f"{spec.name} {spec.retention_ms // DAY_MS} days" for spec in SCANNED_TOPICS)
