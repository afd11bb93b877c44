"""Produce-to-alert latency: how long after a triggering message its alert is out.

Replays a generated stream with negative episodes at a steady rate, stamping
each record with the wall-clock send time, and reads the alerts topic: the
latency of an ``opened`` / ``upgraded`` revision is its Kafka timestamp (set
when the worker published it) minus the send time of the latest of its
excerpt messages (the trigger, or an earlier message: never an underestimate).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import orjson
from kafka import KafkaConsumer

from pipeline.generator import GeneratorConfig, generate
from pipeline.generator.kafka import Pacer, make_producer
from pipeline.progress import wait_until_committed
from pipeline.settings import Settings
from pipeline.stack import WorkerProcess
from pipeline.topics import CHAT_MESSAGES, SENTIMENT_ALERTS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def paced_replay(records, settings: Settings, rate: float) -> tuple[dict[str, float], float]:
    """Send at ``rate``; returns chat message id -> send time, and the achieved rate."""
    producer = make_producer(settings)
    pacer = Pacer(rate)
    sent_at: dict[str, float] = {}
    started = time.time()
    try:
        for record in records:
            pacer.wait()
            now = time.time()
            producer.send(settings.topic(record.topic), value=record.value, key=record.key,
                          timestamp_ms=int(now * 1000))
            if record.topic == CHAT_MESSAGES.name and record.kind != "malformed":
                sent_at.setdefault(orjson.loads(record.value)["message_id"], now)
        producer.flush()
    finally:
        producer.close(timeout=30)
    return sent_at, len(records) / (time.time() - started)


def alert_latencies(settings: Settings, sent_at: dict[str, float]) -> list[float]:
    consumer = KafkaConsumer(
        settings.topic(SENTIMENT_ALERTS.name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
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


def measure(settings: Settings, work: Path, rate: float) -> dict[str, float]:
    """p50/p99/max produce-to-alert latency at ``rate`` records/s (fresh topics)."""
    stream = generate(GeneratorConfig(seed=17, communities=6, days=0.5))
    worker = WorkerProcess(settings, work / f"latency-{int(rate)}.log")
    worker.start()
    result: dict[str, float] = {}
    try:
        holder: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: holder.update(zip(("sent", "rate"),
                                             paced_replay(stream.records, settings, rate),
                                             strict=True)))
        thread.start()
        thread.join()
        wait_until_committed(settings, worker.healthy, timeout=600)
        latencies = alert_latencies(settings, holder["sent"])  # type: ignore[arg-type]
        result = {"achieved_rate": float(holder["rate"]), "alerts": float(len(latencies))}
        if latencies:
            result |= {"p50_s": statistics.median(latencies),
                       "p99_s": percentile(latencies, 0.99), "max_s": max(latencies)}
    finally:
        worker.stop()
    return result
