"""Chat activity agent: minute windows per community, to every sink.

Thin Faust wiring around :mod:`agents.activity`.  Per batch, in this order:
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
from datetime import UTC, datetime

from faust.types import EventT, StreamT

from agents.activity import BatchResult, PartitionClock, WindowState, apply_batch
from agents.edge import batches, validate_batch
from agents.raw_rows import RAW_TABLES
from pipeline.context import PipelineContext
from pipeline.faust_support import acting_for
from pipeline.topics import ACTIVITY_MINUTE, CHAT_MESSAGES
from schemas.events import ChatMessage
from schemas.outputs import CommunityMinuteActivity

AGENT_NAME = "chat-activity"
ACTIVITY_COLUMNS = (
    "community_id", "window_start", "window_end", "messages", "speakers", "is_final",
    "revision", "updated_at",
)


def register(ctx: PipelineContext) -> None:
    settings = ctx.settings
    windows = ctx.app.Table(
        "activity-minute-windows", default=None, partitions=settings.topic_partitions
    )
    clocks = ctx.app.Table(
        "activity-minute-clocks", default=None, partitions=settings.topic_partitions
    )
    lateness_ms = settings.allowed_lateness_s * 1000
    raw = RAW_TABLES[ChatMessage]

    async def chat_activity(stream: StreamT) -> None:
        async for events in batches(ctx, stream, AGENT_NAME, CHAT_MESSAGES):
            valid = await validate_batch(ctx, CHAT_MESSAGES, ChatMessage, events)
            if valid:
                await handle(valid)

    async def handle(valid: list[tuple[EventT, ChatMessage]]) -> None:
        await raw.store(ctx.clickhouse, valid)
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
        records: list[CommunityMinuteActivity] = []
        metrics = ctx.metrics
        for result in results:
            records += result.updates()
            metrics.events_duplicate.labels(CHAT_MESSAGES.name).inc(result.duplicates)
            metrics.events_too_late.labels(CHAT_MESSAGES.name).inc(result.too_late)
            for community_id, count in Counter(m.community_id for m in result.counted).items():
                metrics.community_messages.labels(metrics.community_label(community_id)).inc(count)
            if result.counted:
                newest = max(m.ts for m in result.counted)
                metrics.advance_watermark(CHAT_MESSAGES.name, newest.timestamp())
        if not records:
            return
        now = datetime.now(UTC)
        await ctx.clickhouse.insert(
            "community_activity_minute",
            ACTIVITY_COLUMNS,
            [
                (r.community_id, r.window_start, r.window_end, r.messages, r.speakers,
                 int(r.is_final), r.revision, now)
                for r in records
            ],
        )
        await ctx.publish(
            ACTIVITY_MINUTE, [(r.key.encode(), r.to_json(), None) for r in records]
        )
        latest_final: dict[str, CommunityMinuteActivity] = {}
        for record in records:
            if record.is_final:
                current = latest_final.get(record.community_id)
                if current is None or record.window_start > current.window_start:
                    latest_final[record.community_id] = record
        for community_id, record in latest_final.items():
            metrics.community_last_minute.labels(metrics.community_label(community_id)).set(
                record.messages
            )

    ctx.app.agent(ctx.topic(CHAT_MESSAGES), name=AGENT_NAME)(chat_activity)
