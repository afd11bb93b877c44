"""Raw storage agents for member, transaction and funnel events (``ingest-*``).

Validate at the edge, store every valid event in its raw ClickHouse table, so
SQL over the raw tables can answer any question about them and every
metric can be recomputed.  Chat messages, member events and membership
snapshots are stored by ``community-activity``.
"""

from __future__ import annotations

from pipeline.egress.clickhouse.tables import RAW_TABLES
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Valid, input_agent
from pipeline.runtime.context import PipelineContext
from pipeline.topics import FUNNEL_EVENTS, TRANSACTIONS, TopicSpec
from schemas.base import InputEvent
from schemas.events import FunnelEvent, Transaction

RAW_ONLY: tuple[tuple[TopicSpec, type[InputEvent]], ...] = (
    (TRANSACTIONS, Transaction),
    (FUNNEL_EVENTS, FunnelEvent),
)


def register(ctx: PipelineContext) -> None:
    for spec, model in RAW_ONLY:
        _register_one(ctx, spec, model)


def _register_one(ctx: PipelineContext, spec: TopicSpec, model: type[InputEvent]) -> None:
    table = RAW_TABLES[model]

    async def store(valid: Valid) -> None:
        newest = max(record.ts for _, record in valid)
        ctx.prometheus.advance_watermark(spec.name, newest.timestamp())
        await table.write(ctx.clickhouse, valid, offsets_identity([e for e, _ in valid]))

    input_agent(ctx, spec, model, f"ingest-{table.name}", store)
