"""The transport fixes: hand-started delivery (_resume), flow resumption, seeks."""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from pipeline.runtime.transport import ResumeClearsOnce, _resume, committed_after_seek


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
