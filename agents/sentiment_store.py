"""``sentiment-store``: scored messages into ClickHouse and the share counters.

The alert worker never waits on ClickHouse: it publishes scored messages in
chunks per community (``pipeline.sentiment-scores.v1``), and this agent,
running wherever ClickHouse is (the ``metrics`` role), stores them.
Idempotent under replay: ``message_sentiment`` is a ReplacingMergeTree on
(community, message id) and every insert carries a token from its source
offsets.  The Prometheus share counters are best effort (a replayed chunk
counts again; DESIGN.md, "Delivery guarantees").
"""

from __future__ import annotations

from collections import Counter

from faust.types import EventT

from pipeline.egress.clickhouse.tables import MESSAGE_SENTIMENT
from pipeline.ingress.batches import batch_agent, offsets_identity
from pipeline.ingress.internal import readable
from pipeline.runtime.context import PipelineContext
from pipeline.topics import SENTIMENT_SCORES
from schemas.scores import decode_chunk

AGENT_NAME = "sentiment-store"


def register(ctx: PipelineContext) -> None:
    prometheus = ctx.prometheus

    async def handle(events: list[EventT]) -> None:
        scored = [m for event in events for m in readable(event, decode_chunk)]
        await MESSAGE_SENTIMENT.write(ctx.clickhouse, scored, offsets_identity(events))
        counts = Counter((m.community_id, m.polarity) for m in scored)
        for (community, label), count in counts.items():
            prometheus.sentiment_messages.labels(
                prometheus.community_label(community), label
            ).inc(count)

    batch_agent(ctx, ctx.topic(SENTIMENT_SCORES), AGENT_NAME, handle)
