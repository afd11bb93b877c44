"""The transport fixes: hand-started delivery (_resume), flow resumption, seeks, records
dropped from the agents' queues."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from weakref import WeakSet

import pytest
from faust.types import TP
from faust.types.tuples import Message
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from pipeline.runtime.transport import (
    DroppedCopies,
    PulseConsumer,
    ResumeClearsOnce,
    _resume,
    committed_after_seek,
)


async def started(coroutine):
    """Run ``coroutine`` to its first suspension by hand, then hand it to a task."""
    yielded = coroutine.send(None)
    return asyncio.ensure_future(_resume(coroutine, yielded))


def test_resumed_coroutine_gets_future_results_and_returns_its_value():
    async def body(gate: asyncio.Future) -> str:
        first = await gate
        await asyncio.sleep(0)
        return f"{first}-done"

    async def scenario():
        gate = asyncio.get_running_loop().create_future()
        task = await started(body(gate))
        gate.set_result("opened")
        return await task

    assert asyncio.run(scenario()) == "opened-done"


def test_exceptions_of_awaited_futures_reach_the_coroutine():
    async def body(gate: asyncio.Future) -> str:
        try:
            await gate
        except KeyError:
            return "handled"
        return "missed"

    async def scenario():
        gate = asyncio.get_running_loop().create_future()
        task = await started(body(gate))
        gate.set_exception(KeyError("x"))
        return await task

    assert asyncio.run(scenario()) == "handled"


def test_cancelling_the_task_cancels_the_coroutine_inside():
    cleaned = []

    async def body(gate: asyncio.Future) -> None:
        try:
            await gate
        finally:
            cleaned.append(gate.cancelled())

    async def scenario():
        gate = asyncio.get_running_loop().create_future()
        task = await started(body(gate))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert cleaned == [True]


def test_resuming_flow_that_was_never_suspended_keeps_queued_records() -> None:
    """Faust's recovery resumes twice; the second resume must not drop what the agents
    were handed in between (those records are past the fetcher and never come again)."""

    async def scenario() -> tuple[int, int]:
        flow = ResumeClearsOnce()
        queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        flow.suspend()
        queue.put_nowait(1)  # a pre-rebalance record: the resume that ends the suspension drops it
        flow.resume()
        after_suspension = queue.qsize()
        queue.put_nowait(2)
        flow.resume()  # already flowing
        return after_suspension, queue.qsize()

    assert asyncio.run(scenario()) == (0, 1)


def test_plain_flow_control_drops_queued_records_on_every_resume() -> None:
    """The behaviour the subclass exists for (if mode changes it, the subclass can go)."""

    async def scenario() -> int:
        flow = FlowControlEvent(initially_suspended=False)
        queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        queue.put_nowait(1)
        flow.resume()
        return queue.qsize()

    assert asyncio.run(scenario()) == 0


def test_a_seek_never_moves_a_committed_offset_back() -> None:
    chat, member, fresh = TP("chat", 3), TP("member", 3), TP("chat", 0)
    held = {chat: 10_809, member: 40}
    fetched = {chat: 2_787, member: 55, fresh: 7, TP("empty", 0): None}
    assert committed_after_seek(held, fetched) == {chat: 10_809, member: 55, fresh: 7}


def test_a_seek_keeps_faust_reading_offset_zero_as_nothing_committed() -> None:
    assert committed_after_seek({}, {TP("chat", 1): 0}) == {TP("chat", 1): None}


def delivered(offset: int, channels: int) -> Message:
    """A record the conductor handed to ``channels`` agents (one count each)."""
    message = Message("chat", 3, offset, 0.0, 0, None, b"k", b"v", None)
    message.incref(channels)
    return message


def copy_of(message: Message) -> SimpleNamespace:
    return SimpleNamespace(message=message)  # what an agent's queue holds: an event


def test_a_record_only_dropped_copies_still_count_is_no_longer_awaited() -> None:
    """The rebalance hang: one agent processed the record, the other's copy was still
    queued when the revocation cleared the queues.  Nothing will release that copy."""
    message = delivered(4_834, channels=2)
    unacked = WeakSet([message])  # the first agent took it (Faust tracks it then)
    message.ack(consumer=None)  # ... and acknowledged its copy
    copies = DroppedCopies()
    copies.add([copy_of(message), "not an event"])
    assert copies.forget_abandoned(unacked) == 1
    assert message not in unacked
    assert not message.acked  # not committable: the second agent never saw it
    assert len(copies) == 0


def test_a_dropped_record_another_agent_still_holds_is_awaited_until_it_is_acked() -> None:
    message = delivered(4_835, channels=2)
    unacked = WeakSet([message])  # in the first agent's batch, not acknowledged yet
    copies = DroppedCopies()
    copies.add([copy_of(message)])
    assert copies.forget_abandoned(unacked) == 0
    assert message in unacked  # the batch is still being handled: wait_empty waits
    message.ack(consumer=None)
    assert copies.forget_abandoned(unacked) == 1
    assert not message.acked


def test_a_record_dropped_from_every_agent_queue_is_forgotten_once() -> None:
    message = delivered(4_836, channels=3)
    unacked = WeakSet([message])
    message.ack(consumer=None)
    copies = DroppedCopies()
    copies.add([copy_of(message)])
    assert copies.forget_abandoned(unacked) == 0  # one copy is still unaccounted for
    copies.add([copy_of(message)])
    assert copies.forget_abandoned(unacked) == 1


def test_acknowledged_records_are_not_counted() -> None:
    message = delivered(1, channels=1)
    message.ack(consumer=None)
    copies = DroppedCopies()
    copies.add([copy_of(message)])
    assert len(copies) == 0


def test_every_clear_reports_what_it_drops_from_the_agents_queues() -> None:
    async def scenario() -> list[list[int]]:
        reports: list[list[int]] = []
        flow = ResumeClearsOnce(initially_suspended=False, on_dropped=reports.append)
        first: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        second: FlowControlQueue[int] = FlowControlQueue(flow_control=flow,
                                                         clear_on_resume=True)
        first.put_nowait(1)
        second.put_nowait(2)
        flow.suspend()  # a revocation: suspend, then clear
        flow.clear()
        first.put_nowait(3)  # arrived during the suspension
        flow.resume()  # ends it: dropped
        first.put_nowait(4)
        flow.resume()  # already flowing: kept, nothing reported
        flow.clear()  # reports 4
        flow.clear()  # nothing queued: no report
        return [sorted(report) for report in reports]

    assert asyncio.run(scenario()) == [[1, 2], [3], [4]]


def test_the_consumer_stops_awaiting_records_a_revocation_dropped() -> None:
    """End to end on the consumer: Faust's ``wait_empty`` loops while ``_unacked_messages``
    is not empty, cleaning it with ``_clean_unacked_messages`` between waits."""
    consumer = object.__new__(PulseConsumer)  # only what the bookkeeping touches
    processed, held = delivered(10, channels=2), delivered(11, channels=2)
    consumer._unacked_messages = WeakSet([processed, held])
    processed.ack(consumer=None)  # the first agent is done with 10, still handles 11
    consumer.release_dropped([copy_of(processed), copy_of(held)])  # the second agent's copies
    assert set(consumer._unacked_messages) == {held}
    held.ack(consumer=None)
    consumer._clean_unacked_messages()
    assert not consumer._unacked_messages
