"""Produce-to-alert latency: how long after a triggering message its alert is out.

Runs the production topology: an ``alerts`` worker (chat to incidents to the
alerts topic) and a ``metrics`` worker (activity, raw events, ClickHouse),
as separate consumer groups.  A generated stream with many negative episodes
is replayed at a steady rate, each record stamped with its wall-clock send
time, and the alerts topic is read back: the latency of an ``opened`` /
``upgraded`` revision is its Kafka timestamp (set when the worker published
it) minus the send time of the latest of its excerpt messages (the trigger,
or an earlier message: never an underestimate).

Each alert worker gets a CPU of its own; the load generator, the broker and
the metrics worker (at lower priority) share the others, as separate machines
would in production (``docker compose up --scale alert-worker=N``).  The load
generator is librdkafka (confluent-kafka) sending what is due every 5 ms
with a 25 ms linger (counted in the latency): at 5k records/s it needs ~0.1
of a core where a Python client needs ~0.5, and the embedded broker, whose
fetch cost grows with the number of stored record batches, stays at ~0.2 of
a core instead of ~0.5.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import orjson
from confluent_kafka import Producer
from kafka import KafkaConsumer

from pipeline.app.settings import Settings
from pipeline.devtools.generator import GeneratorConfig, OutRecord, generate
from pipeline.devtools.progress import wait_until_committed
from pipeline.devtools.stack import WorkerProcess, free_port
from pipeline.runtime.kafka_clients import kafka_python_options, librdkafka_config
from pipeline.topics import CHAT_MESSAGES, SENTIMENT_ALERTS


def stream_for(rate: float) -> GeneratorConfig:
    """About 20 s of input at ``rate``; at 5k/s ~107k records with ~78 negative episodes."""
    return GeneratorConfig(seed=17, communities=20, days=max(1.0, 5.0 * rate / 5000),
                           scale=0.15)


TICK_S = 0.005
PRODUCER_LINGER_MS = 25
"""Counted in the latency; fewer, larger produce requests spare the shared broker's CPU."""
METRICS_NICENESS = 10
"""The metrics worker yields the CPU to the alert worker, as separate machines would."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def paced_replay(
    records: list[OutRecord], settings: Settings, rate: float
) -> tuple[dict[str, float], float]:
    """Send at ``rate``; returns chat message id -> send time, and the achieved rate."""
    producer = Producer(librdkafka_config(settings) | {
        "acks": "all", "linger.ms": PRODUCER_LINGER_MS, "log.connection.close": False,
    })
    # Parsed before the clock starts: the timed loop only sends.
    message_ids = [
        orjson.loads(r.value)["message_id"]
        if r.topic == CHAT_MESSAGES.name and r.kind != "malformed" else None
        for r in records
    ]
    topics = {r.topic: settings.topic(r.topic) for r in records}
    sent_at: dict[str, float] = {}
    failures: list[str] = []

    def delivered(error: object, _: object) -> None:
        if error is not None:
            failures.append(str(error))

    started = time.monotonic()
    sent = 0
    while sent < len(records):
        due = min(len(records), int((time.monotonic() - started) * rate) + 1)
        now = time.time()
        for index in range(sent, due):
            record = records[index]
            producer.produce(topics[record.topic], value=record.value, key=record.key,
                             timestamp=int(now * 1000), on_delivery=delivered)
            if message_ids[index] is not None:
                sent_at.setdefault(message_ids[index], now)
        sent = due
        producer.poll(TICK_S)
    producer.flush()
    if failures:
        raise RuntimeError(f"{len(failures)} records not delivered, e.g. {failures[0]}")
    return sent_at, len(records) / (time.monotonic() - started)


def alert_latencies(settings: Settings, sent_at: dict[str, float]) -> list[float]:
    consumer = KafkaConsumer(
        settings.topic(SENTIMENT_ALERTS.name), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
        **kafka_python_options(settings),
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


def cpu_split(alert_workers: int) -> tuple[list[set[int]], set[int]] | None:
    """A CPU of its own per alert worker, the rest for everything else; None if too few."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) <= alert_workers:
        return None
    return [{cpu} for cpu in cpus[-alert_workers:]], set(cpus[:-alert_workers])


def threads_of(pid: int) -> list[int]:
    """Thread ids of a process: affinity is per thread, and set ones stay as they are."""
    return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]


@contextmanager
def pinned(pids: list[int], cpus: set[int] | None) -> Iterator[None]:
    """Run with processes ``pids`` (all their threads) restricted to ``cpus``, then restore."""
    if cpus is None:
        yield
        return
    before: dict[int, set[int]] = {}
    for tid in (tid for pid in pids for tid in threads_of(pid)):
        with suppress(ProcessLookupError):  # a thread may end between listing and pinning
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
    try:
        yield
    finally:
        for pid, mask in before.items():
            with suppress(ProcessLookupError):
                os.sched_setaffinity(pid, mask)


def measure(
    settings: Settings, work: Path, rate: float, alert_workers: int = 1,
    metrics_worker: bool = True, broker_pid: int | None = None, dedicated_cpus: bool = True,
) -> dict[str, float]:
    """p50/p99/max produce-to-alert latency at ``rate`` records/s (fresh topics).

    With ``dedicated_cpus`` alert workers get CPUs of their own (when there are
    enough) and everything else (load generator, ``broker_pid``, metrics worker)
    shares the rest, as on separate machines; without, all share all CPUs.
    ``metrics_worker=False`` measures the alert path on its own, as when the
    metrics worker runs on other machines.
    """
    split = cpu_split(alert_workers) if dedicated_cpus else None
    alert_cpus, other_cpus = split if split else ([None] * alert_workers, None)
    others = [os.getpid()] + ([broker_pid] if broker_pid is not None else [])
    with pinned(others, other_cpus):
        return _measure(settings, work, rate, alert_workers, metrics_worker,
                        alert_cpus, other_cpus)


def _measure(
    settings: Settings, work: Path, rate: float, alert_workers: int, metrics_worker: bool,
    alert_cpus: list[set[int] | None], other_cpus: set[int] | None,
) -> dict[str, float]:
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
                      niceness=METRICS_NICENESS if s.worker_role == "metrics" else 0,
                      cpus=alert_cpus[index] if index < alert_workers else other_cpus)
        for index, s in enumerate(roles)
    ]
    for worker in workers:
        worker.start()
    try:
        sent_at, achieved = paced_replay(records, settings, rate)
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
