"""Replay generated records into Kafka, as fast as possible or at a steady rate.

kafka-python's idempotent producer (its default, with ``acks=all``) keeps
per-partition order across retries, so the delivery order the generator
designed (late records after later ones) is the order the pipeline sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaProducer
from kafka.codec import has_lz4

from pipeline.app.settings import Settings
from pipeline.devtools.generator.stream import OutRecord
from pipeline.runtime.kafka_clients import kafka_python_options

PROGRESS_EVERY = 1000
MAX_BEHIND_S = 1.0
"""After a stall longer than this, pacing restarts instead of flooding to catch up."""


class Pacer:
    """Token-bucket pacing at ``rate`` records/s, accurate over the whole run.

    Each record's send time is scheduled ``1/rate`` after the previous one; the
    caller sleeps only when ahead of schedule, so sleep overshoot is made up
    by the next sends and the average rate stays on target.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.origin: float | None = None
        self.count = 0

    def wait(self) -> None:
        """Block until the next record may be sent."""
        now = self.clock()
        if self.origin is None:
            self.origin = now
        due = self.origin + self.count / self.rate
        if due > now:
            self.sleep(due - now)
        elif now - due > MAX_BEHIND_S:
            self.origin = now - self.count / self.rate
        self.count += 1


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.app_id}-generator",
        acks="all",
        linger_ms=10,
        batch_size=256 * 1024,
        compression_type="lz4" if has_lz4() else "gzip",
        **kafka_python_options(settings),
    )


def produce(records: Iterable[OutRecord], settings: Settings, rate: float | None = None,
            on_progress: Callable[[int], None] | None = None) -> int:
    """Send ``records`` in order to ``settings.topic(record.topic)``; returns records sent.

    ``rate`` is a target in records/s (``None`` or 0: as fast as possible).  Raises
    the first delivery error, after the producer is closed.
    """
    producer = make_producer(settings)
    pacer = Pacer(rate) if rate else None
    errors: list[BaseException] = []
    sent = 0
    try:
        for record in records:
            if errors:
                break
            if pacer is not None:
                pacer.wait()
            future = producer.send(settings.topic(record.topic), value=record.value,
                                   key=record.key, timestamp_ms=record.timestamp_ms)
            future.add_errback(errors.append)
            sent += 1
            if on_progress is not None and sent % PROGRESS_EVERY == 0:
                on_progress(sent)
        producer.flush()
    finally:
        producer.close(timeout=30)
    if errors:
        raise RuntimeError(f"Kafka delivery failed after {sent} records") from errors[0]
    if on_progress is not None:
        on_progress(sent)
    return sent
