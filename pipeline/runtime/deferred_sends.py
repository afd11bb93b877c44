"""Output records an agent sent without waiting for the broker, settled before commits.

Waiting for acknowledgements inside a batch costs a broker round trip per
batch, which the latency-critical alert path cannot afford for outputs
nothing downstream in the batch depends on (scored messages, spread signals).
Such sends are registered here instead, and :class:`~pipeline.runtime.transport.
PulseConsumer` settles them before it commits any offset: the source records
of a lost output are never committed (the worker crashes and replays them),
so delivery stays at-least-once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class OutputNotDelivered(RuntimeError):
    """A deferred send failed: committing now would lose its record."""


class DeferredSends:
    """Futures of sends no batch awaited; :meth:`settle` waits for all of them."""

    def __init__(self) -> None:
        self._futures: list[asyncio.Future] = []

    def add(self, futures: Iterable[asyncio.Future]) -> None:
        # Delivered ones can go; failed ones stay until settle() reports them.
        self._futures = [f for f in self._futures if not _delivered(f)]
        self._futures.extend(futures)

    def __len__(self) -> int:
        return len(self._futures)

    async def settle(self) -> None:
        """Wait for every registered send; raises if any of them failed."""
        futures, self._futures = self._futures, []
        results = await asyncio.gather(*futures, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise OutputNotDelivered(
                f"{len(failures)} of {len(results)} output records not delivered"
            ) from failures[0]


def _delivered(future: asyncio.Future) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None
