"""Deferred sends: settled before any commit, and a failed one stops the commit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from pipeline.runtime.deferred_sends import DeferredSends, OutputNotDelivered
from pipeline.runtime.transport import PulseConsumer


def test_settle_waits_for_sends_still_in_flight() -> None:
    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        deferred = DeferredSends()
        pending = loop.create_future()
        deferred.add([pending])
        loop.call_later(0.01, pending.set_result, "delivered")
        await deferred.settle()
        return pending.done()

    assert asyncio.run(scenario())


def one_delivered_one_lost() -> DeferredSends:
    """Two settled sends (call inside a running loop): one delivered, one failed."""
    loop = asyncio.get_running_loop()
    deferred = DeferredSends()
    ok, lost = loop.create_future(), loop.create_future()
    ok.set_result(None)
    lost.set_exception(ConnectionError("broker gone"))
    deferred.add([ok, lost])
    return deferred


def test_a_failed_send_is_reported_once_by_settle() -> None:
    async def scenario() -> DeferredSends:
        deferred = one_delivered_one_lost()
        with pytest.raises(OutputNotDelivered, match="1 of 2") as raised:
            await deferred.settle()
        assert isinstance(raised.value.__cause__, ConnectionError)
        await deferred.settle()  # reported: nothing left to wait for
        return deferred

    assert len(asyncio.run(scenario())) == 0


def test_delivered_sends_are_dropped_but_failed_ones_kept_until_settled() -> None:
    async def scenario() -> int:
        deferred = one_delivered_one_lost()
        deferred.add([])
        remaining = len(deferred)
        with pytest.raises(OutputNotDelivered):
            await deferred.settle()
        return remaining

    assert asyncio.run(scenario()) == 1


class RecordingThread:
    def __init__(self) -> None:
        self.committed: list[dict] = []

    async def commit(self, offsets: dict) -> bool:
        self.committed.append(dict(offsets))
        return True


def consumer_with(deferred: DeferredSends) -> tuple[PulseConsumer, RecordingThread]:
    consumer = object.__new__(PulseConsumer)  # only what _commit touches
    thread = RecordingThread()
    consumer._thread = thread
    consumer.app = SimpleNamespace(deferred_sends=deferred)
    return consumer, thread


def test_consumer_commits_only_after_deferred_sends_are_delivered() -> None:
    async def scenario() -> list[dict]:
        loop = asyncio.get_running_loop()
        deferred = DeferredSends()
        consumer, thread = consumer_with(deferred)
        pending = loop.create_future()
        deferred.add([pending])
        loop.call_later(0.01, pending.set_result, None)
        assert await consumer._commit({"tp": 5})
        assert pending.done()
        return thread.committed

    assert asyncio.run(scenario()) == [{"tp": 5}]


def test_consumer_does_not_commit_past_a_lost_output() -> None:
    async def scenario() -> list[dict]:
        loop = asyncio.get_running_loop()
        deferred = DeferredSends()
        consumer, thread = consumer_with(deferred)
        lost = loop.create_future()
        lost.set_exception(ConnectionError("broker gone"))
        deferred.add([lost])
        with pytest.raises(OutputNotDelivered):
            await consumer._commit({"tp": 5})
        return thread.committed

    assert asyncio.run(scenario()) == []
