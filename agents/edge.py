"""The edge of every agent: raw records in, valid events out, rejects to the DLQ.

A rejected record goes to the dead-letter topic unchanged (original key and
bytes) with the reason in ``dlq.*`` headers, the way Kafka Connect does it, so
it can be inspected and replayed after a fix.  Its metadata (never its
payload) also lands in ClickHouse for dashboards.  Nothing here raises for bad
input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from faust.types import EventT, StreamT

from agents.raw_rows import offsets_identity
from pipeline.context import PipelineContext
from pipeline.topics import DEAD_LETTER, TopicSpec
from schemas.base import InputEvent
from schemas.decode import Rejection, decode
from schemas.outputs import DeadLetter

log = logging.getLogger(__name__)

E = TypeVar("E", bound=InputEvent)

DEAD_LETTER_COLUMNS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "reason",
    "detail",
    "size_bytes",
    "rejected_at",
)


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("dlq.schema_version", str(letter.schema_version).encode()),
        ("dlq.reason", letter.reason.encode()),
        ("dlq.detail", letter.detail.encode()),
        ("dlq.source.topic", letter.source_topic.encode()),
        ("dlq.source.partition", str(letter.source_partition).encode()),
        ("dlq.source.offset", str(letter.source_offset).encode()),
        ("dlq.rejected_at", letter.rejected_at.isoformat().encode()),
    ]


async def batches(
    ctx: PipelineContext, stream: StreamT, agent_name: str, spec: TopicSpec
) -> AsyncIterator[list[EventT]]:
    """Batches of raw events; the caller's loop body is timed and counted as processed.

    Events are acknowledged (and so committable) only after the body returns.
    """
    settings = ctx.settings
    async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
        await ctx.ensure_started()
        started = time.perf_counter()
        yield events
        ctx.metrics.batch_duration.labels(agent_name).observe(time.perf_counter() - started)
        ctx.metrics.events_processed.labels(spec.name).inc(len(events))


async def validate_batch(
    ctx: PipelineContext, spec: TopicSpec, model: type[E], events: Sequence[EventT]
) -> list[tuple[EventT, E]]:
    """Decode a batch; publish rejects; return the valid events with their source event."""
    topic_label = spec.name
    now = datetime.now(UTC)
    valid: list[tuple[EventT, E]] = []
    letters: list[tuple[EventT, DeadLetter]] = []
    for event in events:
        value = event.message.value
        result = decode(value, model, ctx.policy, now)
        if isinstance(result, Rejection):
            message = event.message
            letters.append((event, DeadLetter(
                source_topic=message.topic,
                source_partition=message.partition,
                source_offset=message.offset,
                reason=result.reason,
                detail=result.detail,
                rejected_at=now,
                size_bytes=len(value or b""),
            )))
        else:
            valid.append((event, result))
    ctx.metrics.events_consumed.labels(topic_label).inc(len(events))
    ctx.metrics.events_valid.labels(topic_label).inc(len(valid))
    if letters:
        await publish_dead_letters(ctx, topic_label, letters)
    return valid


async def publish_dead_letters(
    ctx: PipelineContext, topic_label: str, letters: list[tuple[EventT, DeadLetter]]
) -> None:
    await ctx.publish(
        DEAD_LETTER,
        [
            (event.message.key, event.message.value or b"", dead_letter_headers(letter))
            for event, letter in letters
        ],
    )
    for _, letter in letters:
        ctx.metrics.dead_letters.labels(topic_label, letter.reason).inc()
        log.info(
            "dead letter %s/%d@%d: %s (%s)",
            letter.source_topic, letter.source_partition, letter.source_offset,
            letter.reason, letter.detail,
        )
    await ctx.clickhouse.insert(
        "dead_letters",
        DEAD_LETTER_COLUMNS,
        [
            (
                letter.source_topic, letter.source_partition, letter.source_offset,
                letter.reason, letter.detail, letter.size_bytes, letter.rejected_at,
            )
            for _, letter in letters
        ],
        identity=offsets_identity([event for event, _ in letters]),
    )
