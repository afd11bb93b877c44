"""Produce-to-alert latency: how long after a triggering message its alert is out.

Runs the production topology: an ``alerts`` worker (chat to incidents to the
alerts topic) and a ``metrics`` worker (activity, raw events, ClickHouse),
as separate consumer groups.  A generated stream with many negative episodes
is replayed at a steady rate, each record stamped with its wall-clock send
time, and the alerts topic is read back: the latency of an ``opened`` /
``upgraded`` revision is its Kafka timestamp (set when the worker published
it) minus the send time of the latest of its excerpt messages (the trigger,
or an earlier message: never an underestimate).

The load generator is an asyncio producer that sends what is due every 5 ms:
a per-record paced client costs most of a core at 5k records/s, which on a
small machine the workers under test would not get.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer

from pipeline.faust_support import aiokafka_security
from pipeline.generator import GeneratorConfig, OutRecord, generate
from pipeline.progress import wait_until_committed
from pipeline.settings import Settings
from pipeline.stack import WorkerProcess, free_port
from pipeline.topics import CHAT_MESSAGES, SENTIMENT_ALERTS


def stream_for(rate: float) -> GeneratorConfig:
    """About 20 s of input at ``rate``; at 5k/s ~107k records with ~78 negative episodes."""
    return GeneratorConfig(seed=17, communities=20, days=max(1.0, 5.0 * rate / 5000),
                           scale=0.15)
TICK_S = 0.005
METRICS_NICENESS = 10
"""The metrics worker yields the CPU to the alert worker, as separate machines would."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def paced_replay(
    records: list[OutRecord], settings: Settings, rate: float
) -> tuple[dict[str, float], float]:
    """Send at ``rate``; returns chat message id -> send time, and the achieved rate."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=2,
        max_batch_size=256 * 1024, **aiokafka_security(settings),
    )
    await producer.start()
    # Parsed before the clock starts: the timed loop only sends.
    message_ids = [
        orjson.loads(r.value)["message_id"]
        if r.topic == CHAT_MESSAGES.name and r.kind != "malformed" else None
        for r in records
    ]
    topics = {r.topic: settings.topic(r.topic) for r in records}
    sent_at: dict[str, float] = {}
    deliveries = []
    started = time.monotonic()
    try:
        sent = 0
        while sent < len(records):
            due = min(len(records), int((time.monotonic() - started) * rate) + 1)
            now = time.time()
            for index in range(sent, due):
                record = records[index]
                deliveries.append(await producer.send(
                    topics[record.topic], value=record.value, key=record.key,
                    timestamp_ms=int(now * 1000),
                ))
                if message_ids[index] is not None:
                    sent_at.setdefault(message_ids[index], now)
            sent = due
            await asyncio.sleep(TICK_S)
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return sent_at, len(records) / (time.monotonic() - started)


def alert_latencies(settings: Settings, sent_at: dict[str, float]) -> list[float]:
    consumer = KafkaConsumer(
        settings.topic(SENTIMENT_ALERTS.name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
        **settings.kafka_client_options,
    )
    latencies = []
    try:
        for record in consumer:
            alert = orjson.loads(record.value)
            if alert["event"] not in ("opened", "upgraded"):
                continue
            sends = [sent_at[e["message_id"]] for e in alert["excerpts"]
                     if e["message_id"] in sent_at]
            if sends:
                latencies.append(max(0.0, record.timestamp / 1000 - max(sends)))
    finally:
        consumer.close()
    return latencies


def measure(
    settings: Settings, work: Path, rate: float, alert_workers: int = 1,
    metrics_worker: bool = True,
) -> dict[str, float]:
    """p50/p99/max produce-to-alert latency at ``rate`` records/s (fresh topics).

    ``metrics_worker=False`` measures the alert path on its own, as when the
    metrics worker runs on other machines.
    """
    records = generate(stream_for(rate)).records
    roles = [
        settings.model_copy(update={
            "worker_role": role, "web_port": free_port(),
            "data_dir": settings.data_dir / f"{role}-{index}",
        })
        for index, role in enumerate(["alerts"] * alert_workers + ["metrics"] * metrics_worker)
    ]
    workers = [
        WorkerProcess(s, work / f"latency-{int(rate)}-{s.worker_role}-{index}.log",
                      niceness=METRICS_NICENESS if s.worker_role == "metrics" else 0)
        for index, s in enumerate(roles)
    ]
    for worker in workers:
        worker.start()
    try:
        sent_at, achieved = asyncio.run(paced_replay(records, settings, rate))
        produced = time.monotonic()
        alive = lambda: all(w.healthy() for w in workers)  # noqa: E731
        wait_until_committed(roles[:alert_workers], alive, timeout=600)
        alerts_done = time.monotonic() - produced
        wait_until_committed(roles, alive, timeout=600)
        metrics_done = time.monotonic() - produced
        latencies = alert_latencies(settings, sent_at)
    finally:
        for worker in workers:
            worker.stop()
    result = {"achieved_rate": achieved, "records": float(len(records)),
              "alerts": float(len(latencies)),
              "alert_worker_done_after_s": alerts_done,
              "metrics_worker_done_after_s": metrics_done}
    if latencies:
        result |= {"p50_s": statistics.median(latencies),
                   "p99_s": percentile(latencies, 0.99), "max_s": max(latencies)}
    return result
