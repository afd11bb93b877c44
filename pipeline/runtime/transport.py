"""Faust's Kafka transport with four fixes, installed by :class:`PulseApp`.

1. **Per-record delivery without four tasks.**  Faust's consumer hands each
   record to the streams through ``Service.wait_first(callback(record),
   suspend_flow.wait())``, which creates four tasks and an ``asyncio.wait``
   per record: about half of a worker's time (a no-op agent doubles its rate
   without it).  :meth:`PulseConsumer._drain_messages` first runs the
   callback eagerly; almost always it finishes without suspending (the
   stream buffer has room) and no task is needed.  Only when it does suspend
   is the rest of it handed to a task and raced against flow suspension
   exactly as Faust does.  When the flow is suspended (rebalancing) or the
   consumer stopping, Faust's own path is taken.
2. **Fetch wait.**  Faust hard-codes ``fetch_max_wait_ms=1500``.  A broker
   that does not answer a waiting fetch as soon as data arrives (the embedded
   Tansu) then adds up to 1.5 s to every record; ``PULSE_KAFKA_FETCH_MAX_WAIT_MS``
   sets it.
3. **True end offsets** for table recovery, where the broker under-reports them
   (see :func:`pipeline.runtime.faust_support.true_end_offsets`).
4. **Deferred sends settled before every commit** (see
   :mod:`pipeline.runtime.deferred_sends`).
5. **No records lost when streams resume after a rebalance.**  Faust's
   recovery resumes the flow to read changelogs, then resumes the stream
   partitions, seeks them to their committed offsets (one broker round trip
   per partition, up to a second with many partitions) and resumes the flow
   *again*.  Records fetched during that seek already sit in the agents'
   queues, and mode's ``FlowControlEvent.resume`` clears every queue on each
   call: they were dropped, never acknowledged and (the fetcher having moved
   past them) never fetched again, so the partition's committed offset stopped
   at the first of them for good.  :class:`ResumeClearsOnce` clears only when
   the flow was actually suspended (the queues hold pre-rebalance records
   then); :meth:`PulseConsumer.perform_seek` never moves a committed offset
   back to a value the broker reported before a commit made during the seek.
6. **A rebalance never waits for records nobody will acknowledge.**  A record
   read by several agents (chat, sentiment scores) is counted once per agent
   (``Message.refcount``) and tracked as unacknowledged as soon as the first
   agent takes it.  At a revocation the flow control drops every record still
   queued for an agent, and mode drops them without releasing their count: a
   record one agent had already processed but another had only queued kept a
   count that nothing would ever release, and Faust's ``wait_empty`` waited for
   it for as long as anything still referenced it (an agent's last batch does)
   -- the rebalance hang.  :class:`DroppedCopies` counts the copies a clear
   drops; a record whose remaining count is only dropped copies is no longer
   awaited, and stays unacknowledged (not committable: it is fetched again
   from the committed offset).
"""

from __future__ import annotations

import asyncio
import logging
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.tables.manager import TableManager
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT
from faust.types.tuples import Message, ack_lock
from mode import Service, ServiceT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from pipeline.app.settings import Settings
from pipeline.runtime.deferred_sends import DeferredSends
from pipeline.runtime.faust_support import true_end_offsets

log = logging.getLogger(__name__)


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Go on running a coroutine that was started by hand and has just yielded.

    The same delegation as ``yield from``: the driving task sees every future
    the coroutine waits on, so cancellation and wake-ups reach it unchanged.
    """
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # thrown in by the task (cancellation): pass it on
            try:
                yielded = coroutine.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coroutine.send(sent)
            except StopIteration as stop:
                return stop.value


class ResumeClearsOnce(FlowControlEvent):
    """Flow control whose ``resume`` clears the queues only when ending a suspension,
    and which reports what a clear drops.

    A resume while already flowing (Faust's recovery calls it twice) would drop records
    that were delivered to the agents since and are no longer fetchable.  ``on_dropped``
    gets the queued items every clear (revocation, end of a suspension) throws away.
    """

    def __init__(self, *, on_dropped: Callable[[list[Any]], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_dropped = on_dropped

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()

    def clear(self) -> None:
        queues = list(self._queues)
        dropped = [item for queue in queues for item in queue._queue]  # type: ignore[attr-defined]
        super().clear()
        if dropped and self.on_dropped is not None:
            self.on_dropped(dropped)


class DroppedCopies:
    """Per record, how many of its agent copies a flow-control clear dropped unprocessed.

    Faust counts a record once per channel (agent) it was delivered to and calls it
    processed when every count is released (``Message.ack``); a queue clear releases
    none.  A record whose remaining count is all dropped copies will never be released:
    no agent holds it any more.  It must not be awaited (``Consumer.wait_empty``), and
    it must not become committable either (the agent whose copy was dropped never saw
    it): it is only forgotten, and fetched again from the committed offset.
    """

    def __init__(self) -> None:
        self._dropped: weakref.WeakKeyDictionary[Message, int] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._dropped)

    def add(self, items: Iterable[Any]) -> None:
        """Count the dropped queue items (events; anything else is ignored)."""
        with ack_lock:
            for item in items:
                message = getattr(item, "message", None)
                if isinstance(message, Message) and not message.acked:
                    self._dropped[message] = self._dropped.get(message, 0) + 1

    def forget_abandoned(self, unacked: Any) -> int:
        """Remove from ``unacked`` the records only dropped copies still count; how many."""
        forgotten = 0
        with ack_lock:
            for message, dropped in list(self._dropped.items()):
                if message.acked:
                    del self._dropped[message]
                elif message.refcount <= dropped:
                    if message in unacked:
                        unacked.discard(message)
                        forgotten += 1
                    del self._dropped[message]
        return forgotten


def committed_after_seek(held: Mapping[TP, int | None], fetched: Mapping[TP, int | None],
                         ) -> dict[TP, int | None]:
    """Committed offsets after a seek: the broker's, unless this consumer committed a
    later one while the seek waited for the broker (streams run meanwhile).  Going back
    would make every newer acknowledgement look like a gap, and nothing would commit
    again (``Consumer._new_offset``)."""
    merged: dict[TP, int | None] = {}
    for tp, offset in fetched.items():
        if offset is None:
            continue
        mine = held.get(tp)
        merged[tp] = max(offset, mine) if mine is not None else (offset or None)
    return merged


class PulseConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: TransportT) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)  # type: ignore[arg-type]
        settings: Settings = self.app.pulse_settings  # type: ignore[attr-defined]
        # aiokafka reads this when it starts its fetcher, which happens later.
        consumer._fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
        return consumer


class PulseConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return PulseConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @cached_property
    def dropped_copies(self) -> DroppedCopies:
        return DroppedCopies()

    def release_dropped(self, items: list[Any]) -> None:
        """The flow control dropped these queued events (see :class:`DroppedCopies`)."""
        self.dropped_copies.add(items)
        forgotten = self.dropped_copies.forget_abandoned(self._unacked_messages)
        if forgotten:
            log.info("%d records dropped from the agents' queues are no longer awaited "
                     "(fetched again from the committed offsets)", forgotten)

    def _clean_unacked_messages(self) -> None:
        """Faust's, and records whose only unreleased copies were dropped (once the
        agents that did take them have acknowledged them, ``wait_empty`` is done)."""
        super()._clean_unacked_messages()
        self.dropped_copies.forget_abandoned(self._unacked_messages)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        reported = await super().highwaters(*partitions)
        settings: Settings = self.app.pulse_settings  # type: ignore[attr-defined]
        if not settings.kafka_verify_end_offsets:
            return reported
        return cast(Mapping[TP, int], await true_end_offsets(settings, reported))

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets, without moving one backwards."""
        fetched = await self.seek_to_committed()
        self._read_offset.update(
            {tp: offset if offset is not None and offset >= 0 else None
             for tp, offset in fetched.items()})
        self._committed_offset.update(committed_after_seek(self._committed_offset, fetched))

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        """Faust flushed the producer already; a failed deferred send stops the commit."""
        deferred: DeferredSends = self.app.deferred_sends  # type: ignore[attr-defined]
        await deferred.settle()
        return await super()._commit(offsets)

    async def _deliver(self, message: Any) -> None:
        """Hand one record to the streams: eagerly, or Faust's way if it must wait."""
        coroutine = self.callback(message)
        if self.suspend_flow.is_set() or self.should_stop or self._crashed.is_set():
            await self.wait_first(coroutine, self.suspend_flow.wait())
            return
        try:
            yielded = cast(Coroutine[Any, Any, Any], coroutine).send(None)
        except StopIteration:
            return  # delivered without waiting: the common case
        rest = asyncio.ensure_future(_resume(cast(Coroutine[Any, Any, Any], coroutine), yielded))
        await self.wait_first(rest, self.suspend_flow.wait())

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover
        """Faust 0.15's loop (``faust.transport.consumer.Consumer``), delivering
        through :meth:`_deliver`; gap tracking and commits are unchanged."""
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        deliver = self._deliver
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in records:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is None or offset >= read_offset:
                            gap = offset - (read_offset or 0)
                            if gap > 1 and read_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, read_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver(message)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class PulseTransport(faust_aiokafka.Transport):
    Consumer = PulseConsumer


class PulseTableManager(TableManager):
    """Faust's table manager without its fixed one-second sleep before the tables'
    changelogs are registered (and the consumer may subscribe): every table exists
    before the worker starts (a table added later still fails, as in Faust)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class PulseApp(faust.App):
    """A Faust app on :class:`PulseTransport`; knows the pipeline settings and the
    sends its commits must wait for."""

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any) -> None:
        self.pulse_settings = settings
        self.deferred_sends = DeferredSends()
        self.early_starters: list[Callable[[], Awaitable[None]]] = []
        """Started with the app, beside the group join and table recovery (which take
        seconds of waiting); each must be idempotent, as whatever needs it calls it
        again (a failure here is logged, and raised by that later call)."""
        kwargs.setdefault("TableManager", PulseTableManager)
        super().__init__(*args, **kwargs)

    async def on_start(self) -> None:
        await super().on_start()
        for start in self.early_starters:
            self.add_future(self._start_early(start))

    @staticmethod
    async def _start_early(start: Callable[[], Awaitable[None]]) -> None:
        try:
            await start()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("early start failed; retried before the first batch")

    def _new_transport(self) -> TransportT:
        return PulseTransport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return ResumeClearsOnce(loop=self.loop, on_dropped=self._release_dropped)

    def _release_dropped(self, items: list[Any]) -> None:
        consumer = self._consumer
        if isinstance(consumer, PulseConsumer):
            consumer.release_dropped(items)
