"""Sinks of the sentiment path: scored messages and alert revisions into ClickHouse.

The incident agent never waits on ClickHouse: it publishes scored messages
(in chunks, per community) to an internal topic and alert revisions to the
alerts topic, and these agents, running wherever ClickHouse is (the
``metrics`` role), store them.  Alert latency then depends on Kafka alone,
and the alert worker needs no database.

Both stores are idempotent under replay: ``message_sentiment`` is a
ReplacingMergeTree on (community, message id), a ``sentiment_alerts`` row is
identified by (incident, revision), and every insert carries a deduplication
token made from its source offsets.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from faust.types import EventT, StreamT
from pydantic import ValidationError

from agents.raw_rows import offsets_identity
from pipeline.context import PipelineContext
from pipeline.sinks.alerts import store_alerts
from pipeline.topics import SENTIMENT_ALERTS, SENTIMENT_SCORES
from schemas.alerts import Alert

log = logging.getLogger(__name__)

SCORES_AGENT_NAME = "sentiment-store"
ALERTS_AGENT_NAME = "alert-store"
CHUNK_ROWS = 500
SENTIMENT_COLUMNS = (
    "message_id", "community_id", "sender_role", "ts", "score", "polarity",
    "complaint_terms", "crisis_terms", "ingested_at",
)


@dataclass(frozen=True, slots=True)
class ScoredMessage:
    """One row of ``message_sentiment``: no member id and no text leave the alert worker."""

    message_id: str
    community_id: str
    sender_role: str
    ts_ms: int
    score: float
    polarity: str
    complaint_terms: tuple[str, ...]
    crisis_terms: tuple[str, ...]

    def row(self, ingested_at: datetime) -> tuple:
        return (self.message_id, self.community_id, self.sender_role,
                datetime.fromtimestamp(self.ts_ms / 1000, UTC), self.score, self.polarity,
                list(self.complaint_terms), list(self.crisis_terms), ingested_at)


def encode_chunks(scored: list[ScoredMessage]) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` records: per community, at most ``CHUNK_ROWS`` rows each."""
    by_community: dict[str, list[ScoredMessage]] = {}
    for message in scored:
        by_community.setdefault(message.community_id, []).append(message)
    for community, messages in by_community.items():
        for start in range(0, len(messages), CHUNK_ROWS):
            rows = messages[start : start + CHUNK_ROWS]  # orjson writes dataclasses natively
            yield community.encode(), orjson.dumps({"schema_version": 1, "rows": rows})


def decode_chunk(value: bytes) -> list[ScoredMessage]:
    body = orjson.loads(value)
    return [
        ScoredMessage(**{**row, "complaint_terms": tuple(row["complaint_terms"]),
                         "crisis_terms": tuple(row["crisis_terms"])})
        for row in body["rows"]
    ]


def register(ctx: PipelineContext) -> None:
    metrics = ctx.metrics
    batch_max, linger_s = ctx.settings.batch_max, ctx.settings.batch_within_s

    async def store_scores(stream: StreamT) -> None:
        async for events in stream.take_events(batch_max, linger_s):
            await ctx.ensure_started()
            started = time.perf_counter()
            scored = [m for event in events for m in _readable(event, decode_chunk)]
            now = datetime.now(UTC)
            await ctx.clickhouse.insert("message_sentiment", SENTIMENT_COLUMNS,
                                        [m.row(now) for m in scored], offsets_identity(events))
            counts = Counter((m.community_id, m.polarity) for m in scored)
            for (community, label), count in counts.items():
                metrics.sentiment_messages.labels(metrics.community_label(community), label).inc(
                    count
                )
            metrics.batch_duration.labels(SCORES_AGENT_NAME).observe(time.perf_counter() - started)

    async def store_alert_revisions(stream: StreamT) -> None:
        async for events in stream.take_events(batch_max, linger_s):
            await ctx.ensure_started()
            started = time.perf_counter()
            alerts = [a for event in events for a in _readable(event, _alert)]
            await store_alerts(ctx.clickhouse, alerts)
            metrics.batch_duration.labels(ALERTS_AGENT_NAME).observe(time.perf_counter() - started)

    ctx.app.agent(ctx.topic(SENTIMENT_SCORES), name=SCORES_AGENT_NAME)(store_scores)
    ctx.app.agent(ctx.topic(SENTIMENT_ALERTS), name=ALERTS_AGENT_NAME)(store_alert_revisions)


def _alert(value: bytes) -> list[Alert]:
    return [Alert.model_validate_json(value)]


def _readable(event: EventT, parse) -> list:
    """Parsed records of one event; an unreadable one (never written by us) is logged."""
    try:
        return parse(event.message.value or b"")
    except (ValidationError, ValueError, KeyError, TypeError):
        message = event.message
        log.error("unreadable record at %s/%d@%d", message.topic, message.partition,
                  message.offset)
        return []
