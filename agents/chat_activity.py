"""Chat activity agent: minute windows per community, to every sink.

Thin Faust wiring around :mod:`pipeline.compute.activity`.  Per batch, in
this order:
1. validate at the edge (rejects to the DLQ);
2. store raw messages in ClickHouse;
3. apply the batch to the windows of each source partition (pure logic);
4. publish changed windows: ClickHouse, the metric topic (delivery awaited)
   and Prometheus;
5. only then write window state and watermarks to the Faust tables.
Outputs go out before state is saved: after a crash the replayed events find
the old state and re-emit the same updates (idempotent downstream), whereas
saved state with lost outputs would never be re-emitted.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from faust.types import EventT

from pipeline.compute.activity import (
    BatchResult,
    PartitionClock,
    WindowState,
    apply_batch,
    latest_final_by_community,
)
from pipeline.egress.clickhouse import tables
from pipeline.egress.encoders import activity_record
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Valid, input_agent
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import ACTIVITY_MINUTE, CHAT_MESSAGES
from schemas.events import ChatMessage

AGENT_NAME = "chat-activity"


def register(ctx: PipelineContext) -> None:
    settings = ctx.settings
    windows = ctx.app.Table(
        "activity-minute-windows", default=None, partitions=settings.topic_partitions
    )
    clocks = ctx.app.Table(
        "activity-minute-clocks", default=None, partitions=settings.topic_partitions
    )
    lateness_ms = settings.allowed_lateness_s * 1000
    raw = tables.RAW_TABLES[ChatMessage]

    async def handle(valid: Valid[ChatMessage]) -> None:
        await raw.write(ctx.clickhouse, valid, offsets_identity([e for e, _ in valid]))
        by_partition: dict[int, list[tuple[EventT, ChatMessage]]] = defaultdict(list)
        for event, message in valid:
            by_partition[event.message.partition].append((event, message))
        results: list[tuple[EventT, PartitionClock, BatchResult]] = []
        for partition, items in by_partition.items():
            clock = PartitionClock.from_wire(clocks.get(partition))
            result = apply_batch(
                clock,
                lambda key: WindowState.from_wire(windows.get(key)),
                [message for _, message in items],
                lateness_ms,
            )
            results.append((items[-1][0], clock, result))
        await publish([result for _, _, result in results])
        for last_event, clock, result in results:
            with acting_for(last_event):
                for key, state in result.changed.items():
                    if key not in result.finalized:
                        windows[key] = state.to_wire()
                clocks[last_event.message.partition] = clock.to_wire()
                for key in result.finalized:
                    windows.pop(key, None)

    async def publish(results: list[BatchResult]) -> None:
        prometheus = ctx.prometheus
        records = [record for result in results for record in result.updates()]
        for result in results:
            prometheus.events_duplicate.labels(CHAT_MESSAGES.name).inc(result.duplicates)
            prometheus.events_too_late.labels(CHAT_MESSAGES.name).inc(result.too_late)
            for community_id, count in Counter(m.community_id for m in result.counted).items():
                prometheus.community_messages.labels(
                    prometheus.community_label(community_id)
                ).inc(count)
            if result.counted:
                newest = max(m.ts for m in result.counted)
                prometheus.advance_watermark(CHAT_MESSAGES.name, newest.timestamp())
        if not records:
            return
        await tables.ACTIVITY_MINUTE.write(ctx.clickhouse, records)
        await ctx.publish(ACTIVITY_MINUTE, [activity_record(r) for r in records])
        for community_id, record in latest_final_by_community(records).items():
            prometheus.community_last_minute.labels(
                prometheus.community_label(community_id)
            ).set(record.messages)

    input_agent(ctx, CHAT_MESSAGES, ChatMessage, AGENT_NAME, handle)
