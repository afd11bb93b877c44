"""_resume: a hand-started coroutine finishes in a task exactly as if awaited there."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.runtime.transport import _resume


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
