"""Raw event rows for ClickHouse: every valid event, so any metric can be recomputed.

Duplicates are written too (ReplacingMergeTree keyed by event identity folds
them); chat text is masked first, because raw storage is read by dashboards
and analysts and needs no personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faust.types import EventT

from pipeline.privacy import mask_pii
from pipeline.sinks.clickhouse import ClickHouseSink
from schemas.base import InputEvent
from schemas.events import ChatMessage, FunnelEvent, MemberEvent, Transaction

KAFKA_COLUMNS = ("kafka_partition", "kafka_offset", "ingested_at")


@dataclass(frozen=True, slots=True)
class RawTable:
    """How one input model lands in its raw table."""

    table: str
    fields: tuple[str, ...]
    transform: dict[str, Callable[[Any], Any]]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.fields + KAFKA_COLUMNS

    async def store(self, sink: ClickHouseSink, items: Sequence[tuple[EventT, InputEvent]]) -> None:
        """Insert the batch's valid events; a replayed batch carries the same token."""
        identity = offsets_identity([event for event, _ in items])
        await sink.insert(self.table, self.columns, self.rows(items, datetime.now(UTC)), identity)

    def rows(
        self, items: Sequence[tuple[EventT, InputEvent]], ingested_at: datetime
    ) -> list[tuple]:
        rows = []
        for event, record in items:
            values = [getattr(record, name) for name in self.fields]
            for index, name in enumerate(self.fields):
                if name in self.transform:
                    values[index] = self.transform[name](values[index])
            values += (event.message.partition, event.message.offset, ingested_at)
            rows.append(tuple(values))
        return rows


def offsets_identity(events: Sequence[EventT]) -> str:
    """Identity of a batch by its source offsets: a replayed batch gets the same one."""
    spans: dict[tuple[str, int], list[int]] = {}
    for event in events:
        message = event.message
        span = spans.setdefault((message.topic, message.partition), [message.offset] * 2 + [0])
        span[0] = min(span[0], message.offset)
        span[1] = max(span[1], message.offset)
        span[2] += 1
    return ";".join(f"{t}/{p}:{a}-{b}#{n}" for (t, p), (a, b, n) in sorted(spans.items()))


RAW_TABLES: dict[type[InputEvent], RawTable] = {
    ChatMessage: RawTable(
        "chat_messages",
        ("message_id", "community_id", "platform", "member_id", "sender_role", "msg_type",
         "text", "reply_to", "mentions", "ts"),
        {"text": mask_pii},
    ),
    MemberEvent: RawTable(
        "member_events",
        ("event_id", "community_id", "platform", "member_id", "action", "inviter_id",
         "channel", "qr_code_id", "ts"),
        {},
    ),
    Transaction: RawTable(
        "transactions",
        ("order_id", "status", "member_id", "community_id", "campaign_id", "channel",
         "amount_fen", "currency", "ts"),
        {},
    ),
    FunnelEvent: RawTable(
        "funnel_events",
        ("event_id", "campaign_id", "person_id", "step", "channel", "community_id", "ts"),
        {},
    ),
}
