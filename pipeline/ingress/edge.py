"""The edge of every input: raw records in, valid events out, rejects to the DLQ.

A rejected record goes to the dead-letter topic unchanged (original key and
bytes) with the reason in ``dlq.*`` headers, so it can be inspected and
replayed after a fix.  Its metadata (never its payload) also lands in
ClickHouse for dashboards.  Nothing here raises for bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from faust.types import EventT

from pipeline.egress.clickhouse.tables import DEAD_LETTERS
from pipeline.egress.encoders import dead_letter_record
from pipeline.ingress.batches import batch_agent, offsets_identity
from pipeline.ingress.internal import readable
from pipeline.runtime.context import PipelineContext
from pipeline.topics import DEAD_LETTER, TopicSpec
from schemas.base import InputEvent
from schemas.decode import Rejection, decode
from schemas.outputs import DeadLetter

log = logging.getLogger(__name__)

E = TypeVar("E", bound=InputEvent)
Valid = list[tuple[EventT, E]]
"""Valid events of a batch, each with the Kafka event it came from (offset order)."""


def input_agent(
    ctx: PipelineContext,
    spec: TopicSpec,
    model: type[E],
    name: str,
    handle_valid: Callable[[Valid], Awaitable[None]],
) -> None:
    """An agent on input topic ``spec``: each batch validated, ``handle_valid`` gets the rest.

    Only ClickHouse-owning roles run input agents (the DLQ metadata goes there);
    the alert path decodes chat itself and leaves rejects to this edge.
    """

    async def handle(events: list[EventT]) -> None:
        valid = await validate_batch(ctx, spec, model, events)
        if valid:
            await handle_valid(valid)

    batch_agent(ctx, ctx.topic(spec), name, handle, counts_as=spec)


Consumed = dict[tuple[str, int], EventT]
"""(topic, partition) -> the batch's last event from it, a reject or not."""


def inputs_agent(
    ctx: PipelineContext,
    inputs: Sequence[tuple[TopicSpec, type[InputEvent]]],
    name: str,
    handle_valid: Callable[[Valid, Consumed], Awaitable[None]],
    internal: Sequence[tuple[TopicSpec, Callable[[bytes], list[Any]]]] = (),
) -> None:
    """One agent on several co-partitioned topics (Faust assigns partition *p* of each to
    the same worker): ``handle_valid`` gets the valid records in arrival order, each with
    its event, and how far each topic-partition was consumed (so a batch of rejects still
    counts).  ``inputs`` are validated at the edge (rejects to the DLQ); ``internal``
    topics carry our own records, read with their parser (several records per message
    allowed; an unreadable one is logged and skipped, see ``internal.readable``)."""
    by_name = {ctx.settings.topic(spec.name): (spec, model) for spec, model in inputs}
    parsers = {ctx.settings.topic(spec.name): (spec, parse) for spec, parse in internal}
    source = ctx.app.topic(
        *by_name, *parsers, key_serializer="raw", value_serializer="raw",
        partitions=ctx.settings.topic_partitions, internal=False,
    )

    async def handle(events: list[EventT]) -> None:
        groups: dict[str, list[EventT]] = {}
        for event in events:
            groups.setdefault(event.message.topic, []).append(event)
        records: dict[int, list[Any]] = {}
        for topic, group in groups.items():
            if topic in parsers:
                parse = parsers[topic][1]
                for event in group:
                    records[id(event)] = readable(event, parse)
                continue
            spec, model = by_name[topic]
            for event, record in await validate_batch(ctx, spec, model, group):
                records[id(event)] = [record]
        valid = [(e, r) for e in events for r in records.get(id(e), ())]
        consumed: Consumed = {(e.message.topic, e.message.partition): e for e in events}
        await handle_valid(valid, consumed)
        for topic, group in groups.items():
            spec = by_name[topic][0] if topic in by_name else parsers[topic][0]
            ctx.prometheus.events_processed.labels(spec.name).inc(len(group))

    batch_agent(ctx, source, name, handle)


async def validate_batch(
    ctx: PipelineContext, spec: TopicSpec, model: type[E], events: Sequence[EventT]
) -> Valid:
    """Decode a batch; publish rejects; return the valid events with their source event."""
    topic_label = spec.name
    now = datetime.now(UTC)
    valid: Valid = []
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
    ctx.prometheus.events_consumed.labels(topic_label).inc(len(events))
    ctx.prometheus.events_valid.labels(topic_label).inc(len(valid))
    if letters:
        await publish_dead_letters(ctx, topic_label, letters)
    return valid


async def publish_dead_letters(
    ctx: PipelineContext, topic_label: str, letters: list[tuple[EventT, DeadLetter]]
) -> None:
    await ctx.publish(
        DEAD_LETTER,
        [dead_letter_record(event.message.key, event.message.value, letter)
         for event, letter in letters],
    )
    for _, letter in letters:
        ctx.prometheus.dead_letters.labels(topic_label, letter.reason).inc()
        log.info(
            "dead letter %s/%d@%d: %s (%s)",
            letter.source_topic, letter.source_partition, letter.source_offset,
            letter.reason, letter.detail,
        )
    await DEAD_LETTERS.write(ctx.clickhouse, [letter for _, letter in letters],
                             offsets_identity([event for event, _ in letters]))
