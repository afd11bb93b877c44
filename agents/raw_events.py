"""Transactions at the edge (``ingest-transactions``): raw storage, then re-keyed by member.

Validate at the edge, store every valid transaction in its raw ClickHouse
table (SQL over raw tables can answer any question and recompute every
metric), then forward it to ``pipeline.journeys-by-member.v1`` re-keyed by
member, where ``sales-ledgers`` keeps each member's orders on one partition.
The forward is awaited before the batch is acknowledged, so a crash replays
it (duplicates there are dropped by order id).  Chat, member events and
snapshots are stored by ``community-activity``; funnel events by
``campaign-funnels``.
"""

from __future__ import annotations

from pipeline.egress.clickhouse.tables import RAW_TABLES
from pipeline.egress.journeys import journey_messages
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Valid, input_agent
from pipeline.runtime.context import PipelineContext
from pipeline.topics import JOURNEYS_BY_MEMBER, TRANSACTIONS
from schemas.events import Transaction

AGENT_NAME = "ingest-transactions"


def register(ctx: PipelineContext) -> None:
    table = RAW_TABLES[Transaction]

    async def store(valid: Valid) -> None:
        newest = max(record.ts for _, record in valid)
        ctx.prometheus.advance_watermark(TRANSACTIONS.name, newest.timestamp())
        await table.write(ctx.clickhouse, valid, offsets_identity([e for e, _ in valid]))
        await ctx.publish_to_partitions(JOURNEYS_BY_MEMBER, journey_messages(
            [record for _, record in valid], ctx.settings.topic_partitions))

    input_agent(ctx, TRANSACTIONS, Transaction, AGENT_NAME, store)
