"""Transactions at the edge (``ingest-transactions``): raw storage, then re-keyed by member.

Validate at the edge, store every valid transaction in its raw ClickHouse
table (SQL over raw tables can answer any question and recompute every
metric), then forward it to ``pipeline.transactions-by-member.v1`` keyed by
member, where ``sales-ledgers`` keeps each member's orders on one partition.
The forward is awaited before the batch is acknowledged, so a crash replays
it (duplicates there are dropped by order id).  Chat, member events and
snapshots are stored by ``community-activity``; funnel events by
``campaign-funnels``.
"""

from __future__ import annotations

from pipeline.egress.clickhouse.tables import RAW_TABLES
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Valid, input_agent
from pipeline.runtime.context import PipelineContext
from pipeline.topics import TRANSACTIONS, TRANSACTIONS_BY_MEMBER
from schemas.events import Transaction

AGENT_NAME = "ingest-transactions"


def register(ctx: PipelineContext) -> None:
    table = RAW_TABLES[Transaction]

    async def store(valid: Valid) -> None:
        newest = max(record.ts for _, record in valid)
        ctx.prometheus.advance_watermark(TRANSACTIONS.name, newest.timestamp())
        await table.write(ctx.clickhouse, valid, offsets_identity([e for e, _ in valid]))
        await ctx.publish(TRANSACTIONS_BY_MEMBER,
                          [(record.member_id.encode(), record.to_json(), None)
                           for _, record in valid])

    input_agent(ctx, TRANSACTIONS, Transaction, AGENT_NAME, store)
