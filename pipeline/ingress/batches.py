"""The skeleton of every agent: batches in, one handler per batch, acknowledged after it.

Every agent of the pipeline is a :func:`batch_agent`: Faust hands it up to
``batch_max`` records at a time (``stream.take_events``); the sinks and
scorers are started once before the first batch (``ctx.ensure_started``);
the handler runs; its time is observed per agent and its records counted as
processed.  Records are acknowledged (and so committable) only when the
handler has returned, so a crash in the middle replays the whole batch and
every output must be idempotent (DESIGN.md, "Delivery guarantees").
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from faust.types import EventT, StreamT, TopicT

from pipeline.runtime.context import PipelineContext
from pipeline.topics import TopicSpec

BatchHandler = Callable[[list[EventT]], Awaitable[None]]


def batch_agent(
    ctx: PipelineContext,
    source: TopicT,
    name: str,
    handle: BatchHandler,
    *,
    within_s: float | None = None,
    counts_as: TopicSpec | None = None,
) -> None:
    """Register agent ``name`` on ``source``, calling ``handle`` once per batch.

    ``within_s``: longest wait to fill a batch (default ``batch_within_s``; the
    alert path uses a shorter one).  ``counts_as``: the input topic whose
    ``pulse_events_processed_total`` the batch's records add to.
    """
    settings = ctx.settings
    linger_s = settings.batch_within_s if within_s is None else within_s
    duration = ctx.prometheus.batch_duration.labels(name)
    processed = ctx.prometheus.events_processed.labels(counts_as.name) if counts_as else None
    lock = ctx.batch_lock(name)

    async def run(stream: StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, linger_s):
            await ctx.ensure_started()
            started = time.perf_counter()
            async with lock:  # uncontended but for a privacy erasure of the agent's state
                await handle(events)
            duration.observe(time.perf_counter() - started)
            if processed is not None:
                processed.inc(len(events))

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    ctx.app.agent(source, name=name)(run)


def offsets_identity(events: Sequence[EventT]) -> str:
    """Identity of a batch by its source offsets: a replayed batch gets the same one."""
    spans: dict[tuple[str, int], list[int]] = {}
    for event in events:
        message = event.message
        span = spans.setdefault((message.topic, message.partition), [message.offset] * 2 + [0])
        span[0] = min(span[0], message.offset)
        span[1] = max(span[1], message.offset)
        span[2] += 1
    return ";".join(f"{t}/{p}:{a}-{b}#{n}" for (t, p), (a, b, n) in sorted(spans.items()))
