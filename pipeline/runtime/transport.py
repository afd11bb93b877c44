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
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT
from mode import Service, ServiceT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from pipeline.app.settings import Settings
from pipeline.runtime.deferred_sends import DeferredSends
from pipeline.runtime.faust_support import true_end_offsets


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
    """Flow control whose ``resume`` clears the queues only when ending a suspension.

    A resume while already flowing (Faust's recovery calls it twice) would drop records
    that were delivered to the agents since and are no longer fetchable.
    """

    def resume(self) -> None:
        if self.is_active():
            return
        super().resume()


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


class PulseApp(faust.App):
    """A Faust app on :class:`PulseTransport`; knows the pipeline settings and the
    sends its commits must wait for."""

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any) -> None:
        self.pulse_settings = settings
        self.deferred_sends = DeferredSends()
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        return PulseTransport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return ResumeClearsOnce(loop=self.loop)
