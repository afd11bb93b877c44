"""Score sentiment off the event loop, in worker processes.

Scoring is CPU-bound Python/numpy: run inside a Faust agent it would stall
the loop (consumer heartbeats, commits). ``SentimentPool`` ships batches to a
``ProcessPoolExecutor`` whose workers load the model once in their
initializer, bounds the batches in flight with a semaphore so a fast
producer waits instead of queueing unbounded work, and keeps result order.
With ``workers=0`` it scores in-process, synchronously (tests, tiny setups).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from pipeline.compute.sentiment.api import DEFAULT_MODE, score, warm_up


def _init_worker(mode: str, parent_pid: int) -> None:
    from pipeline.runtime.process import die_with_parent

    die_with_parent(parent_pid)  # a killed worker must not leave its scorers behind
    warm_up(mode)


def _score_batch(texts: list[str], mode: str) -> list[float]:
    return score(texts, mode=mode)


class SentimentPool:
    """Async batch scorer backed by worker processes (or inline when ``workers=0``)."""

    def __init__(
        self,
        workers: int = 1,
        mode: str = DEFAULT_MODE,
        max_in_flight: int | None = None,
        batch_size: int = 512,
        mp_context: str = "spawn",
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be >= 0")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.mode = mode
        self.workers = workers
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight if max_in_flight is not None else max(1, 2 * workers)
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.in_flight = 0
        self.peak_in_flight = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._executor: ProcessPoolExecutor | None = None
        if workers:
            # "spawn" by default: forking a process that runs an event loop and
            # client threads can copy held locks into the child.
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(mp_context),
                initializer=_init_worker,
                initargs=(mode, os.getpid()),
            )

    @property
    def closed(self) -> bool:
        return self._closed

    async def score(self, texts: Sequence[str]) -> list[float]:
        """P(positive) per text, in input order; waits while too many batches are out."""
        self._check_open()
        texts = list(texts)
        if not texts:
            return []
        size = self.batch_size
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        parts = await asyncio.gather(*(self._run(batch) for batch in batches))
        return [value for part in parts for value in part]

    async def start(self) -> None:
        """Spawn every worker process and load the model now, not on the first batch.

        A spawned worker imports the scorer and loads its model (seconds); left
        to the first real batch, that delay would land on the first alerts.
        """
        self._check_open()
        if self._executor is None:
            warm_up(self.mode)
            return
        loop = asyncio.get_running_loop()
        # One call per worker: the executor starts a new process while none is idle.
        await asyncio.gather(*(
            loop.run_in_executor(self._executor, _score_batch, ["预热"], self.mode)
            for _ in range(self.workers)
        ))

    def score_sync(self, texts: Sequence[str]) -> list[float]:
        """Blocking variant for code outside the event loop."""
        self._check_open()
        texts = list(texts)
        if self._executor is None:
            return score(texts, mode=self.mode) if texts else []
        size = self.batch_size
        futures = [
            self._executor.submit(_score_batch, texts[i : i + size], self.mode)
            for i in range(0, len(texts), size)
        ]
        return [value for f in futures for value in f.result()]

    def _bound(self) -> asyncio.Semaphore:
        """The in-flight bound of the running loop (a semaphore serves one loop)."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or (self._loop is not loop and self.in_flight == 0):
            self._semaphore = asyncio.Semaphore(self.max_in_flight)
            self._loop = loop
        return self._semaphore

    async def _run(self, batch: list[str]) -> list[float]:
        async with self._bound():
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                if self._executor is None:
                    return score(batch, mode=self.mode)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, _score_batch, batch, self.mode)
            finally:
                self.in_flight -= 1

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("SentimentPool is closed")

    def close(self) -> None:
        """Stop accepting work, cancel queued batches and join the workers."""
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        """``close()`` without blocking the event loop while workers exit."""
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> SentimentPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> SentimentPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
