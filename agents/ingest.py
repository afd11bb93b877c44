"""Raw ingestion agents for member, transaction and funnel events.

Validate at the edge, store every valid event in its raw ClickHouse table.
Later issues add their metrics on top; the raw tables already let SQL answer
any question about them.
"""

from __future__ import annotations

from faust.types import StreamT

from agents.edge import batches, validate_batch
from agents.raw_rows import RAW_TABLES
from pipeline.context import PipelineContext
from pipeline.topics import FUNNEL_EVENTS, MEMBER_EVENTS, TRANSACTIONS, TopicSpec
from schemas.base import InputEvent
from schemas.events import FunnelEvent, MemberEvent, Transaction

RAW_ONLY: tuple[tuple[TopicSpec, type[InputEvent]], ...] = (
    (MEMBER_EVENTS, MemberEvent),
    (TRANSACTIONS, Transaction),
    (FUNNEL_EVENTS, FunnelEvent),
)


def register(ctx: PipelineContext) -> None:
    for spec, model in RAW_ONLY:
        _register_one(ctx, spec, model)


def _register_one(ctx: PipelineContext, spec: TopicSpec, model: type[InputEvent]) -> None:
    raw = RAW_TABLES[model]
    agent_name = f"ingest-{raw.table}"

    async def ingest(stream: StreamT) -> None:
        async for events in batches(ctx, stream, agent_name, spec):
            valid = await validate_batch(ctx, spec, model, events)
            if valid:
                newest = max(record.ts for _, record in valid)
                ctx.metrics.advance_watermark(spec.name, newest.timestamp())
                await raw.store(ctx.clickhouse, valid)

    ctx.app.agent(ctx.topic(spec), name=agent_name)(ingest)

