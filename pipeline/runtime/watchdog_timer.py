"""The Faust timer that feeds the commit-stall watchdog (:mod:`pipeline.runtime.watchdog`).

Every ``PULSE_COMMIT_STALL_CHECK_S`` it reads, for each assigned input partition,
the offset Faust last committed (``Consumer._committed_offset``: Faust's own
record of its commits) and the end offset the fetcher last saw (``highwater``;
the broker's, for a partition not fetched yet), sets
``pulse_partition_commit_stall_seconds`` and keeps the report for ``/health``.
It reads what the consumer holds and asks the broker only for end offsets, so
the check has no side effects on the consumer it watches.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol

from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import Gauge

from pipeline.runtime.context import PipelineContext
from pipeline.runtime.watchdog import CommitWatchdog, Observation, Partition, WatchdogReport

log = logging.getLogger(__name__)

INTERNAL_TOPIC_MARKS = ("__assignor",)
"""Parts of the names of Faust's own topics (the assignor's leader topic)."""


class WatchedConsumer(Protocol):
    """What the timer reads of a Faust consumer."""

    _committed_offset: Mapping[Any, int | None]

    def assignment(self) -> Collection[Any]: ...

    def highwater(self, tp: Any) -> int | None: ...

    async def highwaters(self, *partitions: Any) -> Mapping[Any, int]: ...


def is_input_topic(topic: str, changelog_topics: Collection[str]) -> bool:
    """Agents' topics only: table changelogs are read for recovery and standbys, never
    committed, and Faust's internal topics are not ours to judge."""
    return topic not in changelog_topics and not any(m in topic for m in INTERNAL_TOPIC_MARKS)


def end_offset(consumer: WatchedConsumer, tp: Any) -> int | None:
    """The partition's last seen end offset; None before its first fetch, or when it was
    revoked since ``assignment()`` was read (aiokafka asserts it is assigned)."""
    try:
        return consumer.highwater(tp)
    except AssertionError:
        return None


def observe(consumer: WatchedConsumer, changelog_topics: Collection[str]) -> list[Observation]:
    """One observation per assigned input partition."""
    return [
        Observation(Partition(tp.topic, tp.partition), consumer._committed_offset.get(tp),
                    end_offset(consumer, tp))
        for tp in sorted(consumer.assignment())
        if is_input_topic(tp.topic, changelog_topics)
    ]


async def with_broker_ends(consumer: WatchedConsumer,
                           observations: list[Observation]) -> list[Observation]:
    """Ask the broker for the end offsets the fetcher does not know: a partition never
    fetched since its assignment (a worker gone idle) must be judged too."""
    unknown = [o.tp for o in observations if o.end is None]
    if not unknown:
        return observations
    ends = await consumer.highwaters(*(TP(tp.topic, tp.partition) for tp in unknown))
    by_partition = {Partition(tp.topic, tp.partition): end for tp, end in ends.items()}
    return [o if o.end is not None else Observation(o.tp, o.committed, by_partition.get(o.tp))
            for o in observations]


def partitions_in_flight(consumer: Any, queues: Iterable[Any]) -> set[Any]:
    """Partitions with a record an agent is processing (taken, not acknowledged) or has
    queued: their commits may be slow, but nothing of theirs is lost."""
    held = {message.tp for message in list(consumer._unacked_messages)}
    for queue in list(queues):
        held.update(event.message.tp for event in list(queue._queue)
                    if getattr(event, "message", None) is not None)
    return held


def lost_inside(committed: int | None, read: int | None, in_flight: bool) -> bool:
    """Records from ``committed`` on were read (the fetcher delivered up to ``read``) and
    none of them is queued or being processed, yet they were not all acknowledged: they
    were dropped inside the worker, and only fetching them again commits the partition."""
    return committed is not None and read is not None and read >= committed and not in_flight


async def rewind_lost(consumer: Any, queues: Iterable[Any], report: WatchdogReport,
                      after_s: float, rewound: dict[Partition, float], now: float,
                      on_rewind: Callable[[Partition, int], None]) -> list[Partition]:
    """Seek each partition stalled for ``after_s`` whose read records were lost inside the
    worker (:func:`lost_inside`) back to its committed offset, at most once per
    ``after_s`` each (``rewound``: when).  At-least-once: what follows is processed again,
    and every output is idempotent."""
    for tp in report.forgotten:
        rewound.pop(tp, None)
    if after_s <= 0:
        return []
    stalled = [tp for tp, seconds in report.seconds.items() if seconds >= after_s
               and now - rewound.get(tp, float("-inf")) >= after_s]
    if not stalled:
        return []
    held = partitions_in_flight(consumer, queues)
    done = []
    for tp in stalled:
        faust_tp = TP(tp.topic, tp.partition)
        committed = consumer._committed_offset.get(faust_tp)
        if not lost_inside(committed, consumer._read_offset.get(faust_tp), faust_tp in held):
            continue
        log.warning("%s/%d stalled at offset %d with the records read past it gone from the "
                    "worker: fetching them again", tp.topic, tp.partition, committed)
        await consumer.seek(faust_tp, committed)
        rewound[tp] = now
        on_rewind(tp, committed)
        done.append(tp)
    return done


def export(gauge: Gauge, report: WatchdogReport) -> None:
    """Set each checked partition's series; drop the series of revoked ones, so the labels
    stay bounded by the assignment."""
    for tp, seconds in report.seconds.items():
        gauge.labels(tp.topic, str(tp.partition)).set(seconds)
    for tp in report.forgotten:
        with contextlib.suppress(KeyError):  # never set: revoked before its first check
            gauge.remove(tp.topic, str(tp.partition))


def install_watchdog(ctx: PipelineContext,
                     clock: Callable[[], float] = time.monotonic) -> CommitWatchdog:
    """Register the check timer on ``ctx.app`` and expose its watchdog as
    ``ctx.commit_watchdog`` (read by ``/health``); ``clock`` is for tests."""
    app, settings = ctx.app, ctx.settings
    watchdog = CommitWatchdog(settings.commit_stall_unhealthy_s)
    ctx.commit_watchdog = watchdog
    rewound: dict[Partition, float] = {}

    def count_rewind(tp: Partition, _offset: int) -> None:
        ctx.prometheus.partition_rewinds.labels(tp.topic).inc()

    @app.timer(settings.commit_stall_check_s, name="commit-stall-watchdog")
    async def check_commits() -> None:
        # A watchdog must never take the worker down: a failed check is logged, and the
        # next one tries again.
        try:
            observations = await with_broker_ends(
                app.consumer, observe(app.consumer, app.tables.changelog_topics))
            now = clock()
            report = watchdog.check(observations, now)
            export(ctx.prometheus.commit_stall, report)
            await rewind_lost(app.consumer, app.flow_control._queues, report,
                              settings.commit_stall_rewind_s, rewound, now, count_rewind)
        except ConsumerNotStarted:
            return
        except Exception:
            log.exception("commit-stall check failed")

    return watchdog
