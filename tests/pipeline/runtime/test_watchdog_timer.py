"""The watchdog's Faust timer, against a stand-in consumer: what it observes, the gauge it
keeps bounded, the report ``/health`` reads, and that a failing check never crashes."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import CollectorRegistry

from pipeline.app.factory import create_app
from pipeline.app.settings import load_settings
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.runtime.watchdog import Observation, Partition, Stall, WatchdogReport
from pipeline.runtime.watchdog_timer import (
    export,
    install_watchdog,
    is_input_topic,
    observe,
    with_broker_ends,
)

CHAT = "community.chat.messages.v1"
CHANGELOG = "community-pulse-health-hours-changelog"
ASSIGNOR = "community-pulse-__assignor-__leader"
GAUGE = "pulse_partition_commit_stall_seconds"


class FakeConsumer:
    """Faust's consumer as the timer reads it."""

    def __init__(self) -> None:
        self.assigned: set[TP] = set()
        self.ends: dict[TP, int | None] = {}
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self.revoked_meanwhile: set[TP] = set()
        self.broker_ends: dict[TP, int] = {}
        self.asked: list[set[TP]] = []
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._unacked_messages: list[Any] = []
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self._read_offset[tp] = offset

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def highwater(self, tp: TP) -> int | None:
        assert tp not in self.revoked_meanwhile, "Partition is not assigned"  # as aiokafka
        return self.ends.get(tp)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        """The broker's end offsets: only asked for those the fetcher does not know."""
        self.asked.append(set(tps))
        return {tp: self.broker_ends[tp] for tp in tps if tp in self.broker_ends}


class FakeApp:
    """Records the timer instead of running it; consumer and tables as Faust's app."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.tables = SimpleNamespace(changelog_topics={CHANGELOG})
        self.flow_control = SimpleNamespace(_queues=[])
        self.timers: dict[str, tuple[float, Callable[[], Awaitable[None]]]] = {}

    def timer(self, interval: float, name: str) -> Callable[[Any], Any]:
        def register(fun: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
            self.timers[name] = (interval, fun)
            return fun
        return register


def test_only_agents_topics_are_watched() -> None:
    assert is_input_topic(CHAT, {CHANGELOG})
    assert not is_input_topic(CHANGELOG, {CHANGELOG})
    assert not is_input_topic(ASSIGNOR, {CHANGELOG})


def test_observe_reads_faust_s_commits_and_the_fetcher_s_end_offsets() -> None:
    consumer = FakeConsumer()
    chat0, chat1, chat2 = TP(CHAT, 0), TP(CHAT, 1), TP(CHAT, 2)
    consumer.assigned = {chat2, chat1, chat0, TP(CHANGELOG, 0), TP(ASSIGNOR, 0)}
    consumer._committed_offset[chat0] = 100
    consumer.ends = {chat0: 150, chat1: 9, TP(CHANGELOG, 0): 10**6}
    consumer.revoked_meanwhile = {chat2}
    assert observe(consumer, {CHANGELOG}) == [
        Observation(Partition(CHAT, 0), 100, 150),
        Observation(Partition(CHAT, 1), None, 9),  # nothing committed yet
        Observation(Partition(CHAT, 2), None, None),  # revoked since assignment() was read
    ]
    assert set(consumer._committed_offset) == {chat0}, "reading must not add entries"


def sample(registry: CollectorRegistry, partition: int) -> float | None:
    return registry.get_sample_value(GAUGE, {"topic": CHAT, "partition": str(partition)})


def test_export_sets_checked_series_and_removes_revoked_ones() -> None:
    registry = CollectorRegistry()
    gauge = PrometheusSeries(registry).commit_stall
    export(gauge, WatchdogReport({Partition(CHAT, 0): 42.0, Partition(CHAT, 1): 0.0}, (), ()))
    assert (sample(registry, 0), sample(registry, 1)) == (42.0, 0.0)
    export(gauge, WatchdogReport({Partition(CHAT, 1): 15.0}, (),
                                 (Partition(CHAT, 0), Partition(CHAT, 7))))
    assert (sample(registry, 0), sample(registry, 1), sample(registry, 7)) == (None, 15.0, None)


def installed(consumer: Any) -> tuple[SimpleNamespace, CollectorRegistry, list[float],
                                      Callable[[], None]]:
    """A context with the watchdog installed on a fake app; its clock; one check."""
    registry = CollectorRegistry()
    settings = load_settings(commit_stall_check_s=15, commit_stall_unhealthy_s=300,
                             commit_stall_rewind_s=120)
    app = FakeApp(consumer)
    ctx = SimpleNamespace(app=app, settings=settings, prometheus=PrometheusSeries(registry),
                          commit_watchdog=None)
    now = [1000.0]
    watchdog = install_watchdog(ctx, clock=lambda: now[0])  # type: ignore[arg-type]
    assert ctx.commit_watchdog is watchdog
    interval, check = app.timers["commit-stall-watchdog"]
    assert interval == 15
    return ctx, registry, now, lambda: asyncio.run(check())


def test_a_stalled_partition_shows_on_the_gauge_and_in_the_report_then_is_dropped() -> None:
    consumer = FakeConsumer()
    chat0, chat1 = TP(CHAT, 0), TP(CHAT, 1)
    consumer.assigned = {chat0, chat1}
    consumer._committed_offset.update({chat0: 100, chat1: 50})
    consumer.ends = {chat0: 150, chat1: 50}
    ctx, registry, now, check = installed(consumer)
    check()
    now[0] += 310
    consumer.ends = {chat0: 180, chat1: 60}
    consumer._committed_offset[chat1] = 60
    check()
    assert (sample(registry, 0), sample(registry, 1)) == (310.0, 0.0)
    assert ctx.commit_watchdog.last.stalled == (Stall(CHAT, 0, 310.0),)
    consumer.assigned = {chat1}  # revoked
    now[0] += 15
    check()
    assert (sample(registry, 0), sample(registry, 1)) == (None, 0.0)
    assert ctx.commit_watchdog.last.stalled == ()


def test_a_check_before_the_consumer_starts_does_nothing() -> None:
    class NotStarted:
        def assignment(self) -> set[TP]:
            raise ConsumerNotStarted("Consumer thread not yet started")

    ctx, registry, _, check = installed(NotStarted())
    check()
    assert ctx.commit_watchdog.last.seconds == {}


def test_a_failing_check_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    class Broken:
        def assignment(self) -> set[TP]:
            raise RuntimeError("boom")

    _, _, _, check = installed(Broken())
    with caplog.at_level(logging.ERROR, logger="pipeline.runtime.watchdog_timer"):
        check()
    assert "commit-stall check failed" in caplog.text


def test_every_worker_registers_the_check(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, topic_prefix="watchdog."))
    assert "check_commits" in {task.__name__ for task in app._app_tasks}


def test_end_offsets_the_fetcher_never_saw_come_from_the_broker() -> None:
    """A restarted worker that went idle never fetched its partition: still judged."""
    consumer = FakeConsumer()
    chat0, chat1 = TP(CHAT, 0), TP(CHAT, 1)
    consumer.broker_ends = {chat1: 80, chat0: 999}
    seen = [Observation(Partition(CHAT, 0), 100, 150), Observation(Partition(CHAT, 1), 20, None)]
    filled = asyncio.run(with_broker_ends(consumer, seen))
    assert filled == [seen[0], Observation(Partition(CHAT, 1), 20, 80)]
    assert consumer.asked == [{chat1}]
    assert asyncio.run(with_broker_ends(consumer, [seen[0]])) == [seen[0]]
    assert len(consumer.asked) == 1, "nothing to ask when every end offset is known"


def rewinds(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("pulse_partition_rewinds_total", {"topic": CHAT})


def test_records_read_past_a_stall_and_gone_from_the_worker_are_fetched_again() -> None:
    """The worker read chat/0 up to 160 but 100 never committed, and nothing of chat/0 is
    queued or being processed: the records were lost inside the worker, and after the
    rewind threshold the partition is fetched again from 100 (once per threshold)."""
    consumer = FakeConsumer()
    chat0 = TP(CHAT, 0)
    consumer.assigned = {chat0}
    consumer._committed_offset[chat0] = 100
    consumer._read_offset[chat0] = 160
    consumer.ends = {chat0: 200}
    ctx, registry, now, check = installed(consumer)
    check()
    now[0] += 105
    check()
    assert consumer.seeks == [], "not before the rewind threshold"
    now[0] += 15
    check()
    assert consumer.seeks == [(chat0, 100)]
    assert rewinds(registry) == 1
    consumer._read_offset[chat0] = 170  # fetched again, still lost (a bug that repeats)
    now[0] += 15
    check()
    assert consumer.seeks == [(chat0, 100)], "at most once per threshold"
    now[0] += 120
    check()
    assert consumer.seeks == [(chat0, 100), (chat0, 100)]


def test_a_stall_with_records_in_flight_or_not_read_yet_is_left_alone() -> None:
    """Slow commits (a ClickHouse outage holds a batch; a full queue) and a partition not
    fetched past its committed offset lose nothing: no rewind."""
    consumer = FakeConsumer()
    chat0, chat1, chat2 = TP(CHAT, 0), TP(CHAT, 1), TP(CHAT, 2)
    consumer.assigned = {chat0, chat1, chat2}
    consumer._committed_offset.update({chat0: 100, chat1: 100, chat2: 100})
    consumer._read_offset.update({chat0: 150, chat1: 150, chat2: 99})
    consumer.ends = {chat0: 200, chat1: 200, chat2: 200}
    consumer._unacked_messages = [SimpleNamespace(tp=chat0)]  # an agent is processing it
    ctx, registry, now, check = installed(consumer)
    ctx.app.flow_control._queues = [
        SimpleNamespace(_queue=[SimpleNamespace(message=SimpleNamespace(tp=chat1))])]
    check()
    now[0] += 600
    check()
    assert consumer.seeks == [] and rewinds(registry) is None
