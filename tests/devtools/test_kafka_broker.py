"""Apache Kafka, the production broker, as the tests run it, spoken to by our clients.

Kafka 4 dropped old protocol versions (KIP-896); these tests are the proof that
the clients we ship talk to the version deploy/kafka/pom.xml fetches: kafka-python
(``ensure_topics``, admin) and aiokafka, which Faust uses (produce, a consumer
group, committed offsets), also across a broker restart that keeps its data.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools import kafka_broker as kafka_broker_module
from pipeline.devtools.kafka_broker import KafkaBroker
from pipeline.topics import ALL_TOPICS, CHAT_MESSAGES, HEALTH_DAY, ensure_topics

WAIT_S = 30.0
"""Longest wait for one record or one commit; a healthy broker answers in milliseconds."""


def _settings(broker: KafkaBroker) -> Settings:
    run = uuid.uuid4().hex[:8]
    return load_settings(kafka_bootstrap=broker.bootstrap, topic_prefix=f"k{run}.",
                         app_id=f"pulse-kafka-{run}")


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Idempotent, acks=all producer, as Faust's (``producer_acks=-1``)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"community-1", partition=0)
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, group: str, count: int,
                   commit: bool) -> tuple[list[bytes], int | None]:
    """Read ``count`` records of partition 0 as member of ``group``; commit after them.

    Returns the values and the group's committed offset as the broker reports it.
    """
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        values: list[bytes] = []
        last = -1
        while len(values) < count:
            record = await asyncio.wait_for(consumer.getone(), WAIT_S)
            values.append(record.value)
            last = record.offset
        partition = TopicPartition(topic, 0)
        if commit:
            await asyncio.wait_for(consumer.commit({partition: last + 1}), WAIT_S)
        return values, await consumer.committed(partition)
    finally:
        await consumer.stop()


def _topic_configs(broker: KafkaBroker, name: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in described["topic"][name].items()}


def test_cluster_ids_never_start_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first byte of 0xF8 encodes to "-" (one id in 64): the regression CI once hit."""
    drawn = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(kafka_broker_module.uuid, "uuid4", lambda: next(drawn))
    assert kafka_broker_module._cluster_id() == "AQEBAQEBAQEBAQEBAQEBAQ"


@pytest.mark.integration
def test_topics_created_and_a_record_round_trips(kafka_broker: KafkaBroker) -> None:
    settings = _settings(kafka_broker)
    created = ensure_topics(settings)
    assert sorted(created) == sorted(settings.topic(spec.name) for spec in ALL_TOPICS)
    assert ensure_topics(settings) == []  # idempotent: existing topics are left as they are

    health = _topic_configs(kafka_broker, settings.topic(HEALTH_DAY.name))
    assert health["cleanup.policy"] == "compact"
    assert health["retention.ms"] == str(HEALTH_DAY.retention_ms)

    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap)
    try:
        for name in created:
            assert consumer.partitions_for_topic(name) == set(range(settings.topic_partitions))
    finally:
        consumer.close()

    topic = settings.topic(CHAT_MESSAGES.name)
    values = [f"message-{i}".encode() for i in range(5)]
    asyncio.run(_produce(kafka_broker.bootstrap, topic, values))
    got, committed = asyncio.run(_consume(kafka_broker.bootstrap, topic, settings.group_id,
                                          len(values), commit=True))
    assert got == values
    assert committed == len(values)


@pytest.mark.integration
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_restart_keeps_records_and_committed_offsets(tmp_path: Path, how: str) -> None:
    """``stop()`` (controlled shutdown) or ``kill()`` (crash), then ``start()`` again.

    The cluster id given starts with "-", as an operator's id may: the storage still formats.
    """
    broker = KafkaBroker(tmp_path / "kafka.log", data_dir=tmp_path / "data",
                         cluster_id="-lZjIlarSvmLFDaDwvACtQ")
    broker.start()
    try:
        settings = _settings(broker)
        ensure_topics(settings, (CHAT_MESSAGES,))
        topic = settings.topic(CHAT_MESSAGES.name)
        values = [f"message-{i}".encode() for i in range(10)]
        asyncio.run(_produce(broker.bootstrap, topic, values))
        first, committed = asyncio.run(_consume(broker.bootstrap, topic, settings.group_id, 4,
                                                commit=True))
        assert (first, committed) == (values[:4], 4)

        port = broker.port
        broker.stop() if how == "stop" else broker.kill()
        broker.start()
        assert broker.port == port  # clients and workers reconnect to the same address

        assert ensure_topics(settings, (CHAT_MESSAGES,)) == []
        rest, committed = asyncio.run(_consume(broker.bootstrap, topic, settings.group_id, 6,
                                               commit=False))
        assert committed == 4, "the group's committed offset survives the restart"
        assert rest == values[4:]
        everything, _ = asyncio.run(_consume(broker.bootstrap, topic, f"{settings.group_id}-new",
                                             len(values), commit=False))
        assert everything == values
    finally:
        broker.stop()
