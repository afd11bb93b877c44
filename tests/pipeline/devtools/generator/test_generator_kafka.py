"""Producing to Kafka, without a broker: pacing and what is handed to the producer."""

from __future__ import annotations

import pytest

from pipeline.app.settings import Settings
from pipeline.devtools.generator import OutRecord, kafka, produce


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds * 1.3  # sleeps overshoot; the schedule must absorb it
        self.slept += seconds


def test_pacer_holds_the_target_rate_over_the_run() -> None:
    clock = FakeClock()
    pacer = kafka.Pacer(500, clock=clock, sleep=clock.sleep)
    for _ in range(5001):
        pacer.wait()
        clock.now += 0.0002  # sending takes time too
    assert clock.now - 100.0 == pytest.approx(10.0, rel=0.02)


def test_pacer_does_not_flood_after_a_stall() -> None:
    clock = FakeClock()
    pacer = kafka.Pacer(100, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        pacer.wait()
    clock.now += 30  # the broker was unavailable for 30 s
    pacer.wait()
    stalled_at = clock.now
    for _ in range(100):
        pacer.wait()
    assert clock.now - stalled_at == pytest.approx(1.0, rel=0.35)


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def add_errback(self, callback) -> None:  # noqa: ANN001
        if self.error is not None:
            callback(self.error)


class FakeProducer:
    def __init__(self, fail_at: int | None = None) -> None:
        self.sent: list[tuple] = []
        self.fail_at = fail_at
        self.flushed = self.closed = False

    def send(self, topic: str, value: bytes, key: bytes | None, timestamp_ms: int) -> FakeFuture:
        self.sent.append((topic, key, value, timestamp_ms))
        failing = self.fail_at is not None and len(self.sent) == self.fail_at
        return FakeFuture(RuntimeError("broker down") if failing else None)

    def flush(self) -> None:
        self.flushed = True

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def _records(n: int) -> list[OutRecord]:
    return [OutRecord("community.chat.messages.v1", b"c1", f"v{i}".encode(), 1000 + i, "valid")
            for i in range(n)]


def test_produce_sends_every_record_in_order_to_prefixed_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeProducer()
    monkeypatch.setattr(kafka, "make_producer", lambda settings: fake)
    progress: list[int] = []
    settings = Settings(topic_prefix="t1.")
    records = _records(2500)
    assert produce(records, settings, on_progress=progress.append) == 2500
    assert fake.sent == [("t1.community.chat.messages.v1", r.key, r.value, r.timestamp_ms)
                         for r in records]
    assert fake.flushed and fake.closed
    assert progress == [1000, 2000, 2500]


def test_produce_raises_on_delivery_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeProducer(fail_at=3)
    monkeypatch.setattr(kafka, "make_producer", lambda settings: fake)
    with pytest.raises(RuntimeError, match="delivery failed"):
        produce(_records(10), Settings())
    assert len(fake.sent) == 3 and fake.closed


def test_produce_paces_when_given_a_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(kafka, "make_producer", lambda settings: FakeProducer())
    started = time.monotonic()
    produce(_records(300), Settings(), rate=1000)
    assert 0.25 <= time.monotonic() - started < 1.5
