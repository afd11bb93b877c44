"""SentimentPool: order, empty input, backpressure bound, close, inline fallback."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.compute.sentiment import score
from pipeline.devtools.sentiment_samples import chat_like
from pipeline.runtime.scoring_pool import SentimentPool

TEXTS = chat_like(60, seed=51)


@pytest.fixture(scope="module")
def process_pool():
    pool = SentimentPool(workers=1, mode="improved", max_in_flight=2, batch_size=4)
    yield pool
    pool.close()


def test_order_preserved_across_batches(process_pool) -> None:
    result = asyncio.run(process_pool.score(TEXTS))
    assert result == score(TEXTS, mode="improved")


def test_empty_input(process_pool) -> None:
    assert asyncio.run(process_pool.score([])) == []
    assert process_pool.score_sync([]) == []


def test_backpressure_bound_is_respected_and_reached(process_pool) -> None:
    async def many_callers() -> list[list[float]]:
        return await asyncio.gather(*(process_pool.score(TEXTS[i::3]) for i in range(3)))

    process_pool.peak_in_flight = 0
    results = asyncio.run(many_callers())
    assert process_pool.peak_in_flight == process_pool.max_in_flight == 2
    assert process_pool.in_flight == 0
    assert results == [score(TEXTS[i::3], mode="improved") for i in range(3)]


def test_score_sync_matches(process_pool) -> None:
    assert process_pool.score_sync(TEXTS[:9]) == score(TEXTS[:9], mode="improved")


def test_snownlp_mode_in_workers() -> None:
    with SentimentPool(workers=1, mode="snownlp", batch_size=16) as pool:
        assert asyncio.run(pool.score(TEXTS)) == score(TEXTS, mode="snownlp")


def test_close_is_clean_and_final() -> None:
    pool = SentimentPool(workers=1, mode="improved")
    assert asyncio.run(pool.score(TEXTS[:3])) == score(TEXTS[:3], mode="improved")
    executor = pool._executor
    pool.close()
    pool.close()  # idempotent
    assert pool.closed
    with pytest.raises(RuntimeError):
        asyncio.run(pool.score(TEXTS[:1]))
    with pytest.raises(RuntimeError):
        pool.score_sync(TEXTS[:1])
    with pytest.raises(RuntimeError):  # the executor itself is shut down
        executor.submit(len, "x")


def test_async_context_manager_closes() -> None:
    async def use() -> SentimentPool:
        async with SentimentPool(workers=0, mode="improved") as pool:
            assert await pool.score(TEXTS[:5]) == score(TEXTS[:5], mode="improved")
        return pool

    assert asyncio.run(use()).closed


def test_inline_fallback_with_zero_workers() -> None:
    pool = SentimentPool(workers=0, mode="snownlp", batch_size=7)
    assert pool.max_in_flight == 1
    assert asyncio.run(pool.score(TEXTS)) == score(TEXTS, mode="snownlp")
    assert pool.score_sync(TEXTS) == score(TEXTS, mode="snownlp")
    assert pool.peak_in_flight == 1
    pool.close()


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        SentimentPool(workers=-1)
    with pytest.raises(ValueError):
        SentimentPool(workers=0, batch_size=0)
    with pytest.raises(ValueError):
        SentimentPool(workers=0, max_in_flight=0)


def test_scoring_processes_die_with_a_killed_worker(tmp_path) -> None:
    """kill -9 of the worker must not leave its (spawned) scoring processes behind."""
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import asyncio, multiprocessing, time\n"
        "from pipeline.runtime.scoring_pool import SentimentPool\n"
        "pool = SentimentPool(workers=1, mode='snownlp')\n"
        "asyncio.run(pool.start())\n"
        "print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert children
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in children if _running(pid)]
    assert not alive, "scoring processes outlived their worker"


def _running(pid: int) -> bool:

    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
