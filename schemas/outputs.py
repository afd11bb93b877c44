"""Output records: what the pipeline publishes for downstream services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Record

DeadLetterReason = Literal[
    "invalid_encoding",
    "invalid_json",
    "schema",
    "unsupported_version",
    "oversized",
    "timestamp_out_of_range",
]


class CommunityMinuteActivity(Record):
    """Messages and speakers of one community in one event-time minute.

    Published on every change of the window, keyed ``<community_id>|<window_start>``
    on a compacted topic: consumers upsert by key and keep the highest ``revision``.
    """

    record_name = "community_minute_activity"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the window belongs to.")
    window_start: datetime = Field(description="Window start (inclusive), UTC.")
    window_end: datetime = Field(description="Window end (exclusive), UTC.")
    messages: int = Field(ge=0, description="Distinct messages with event time in the window.")
    speakers: int = Field(ge=0, description="Distinct members who posted in the window.")
    is_final: bool = Field(
        description="True once the window is past the allowed lateness and will not change."
    )
    revision: int = Field(
        ge=0, description="Monotonic per window: a higher revision supersedes a lower one."
    )

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.window_start.isoformat()}"


class DeadLetter(Record):
    """Why an input record was rejected; travels as headers next to the original bytes."""

    record_name = "dead_letter"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    source_topic: str = Field(description="Topic the record was read from.")
    source_partition: int = Field(ge=0, description="Partition it was read from.")
    source_offset: int = Field(ge=0, description="Offset it was read at.")
    reason: DeadLetterReason = Field(description="Machine-readable rejection class.")
    detail: str = Field(max_length=500, description="Human-readable detail (no payload data).")
    rejected_at: datetime = Field(description="When the pipeline rejected it, UTC.")
    size_bytes: int = Field(ge=0, description="Size of the original value in bytes.")


OUTPUT_RECORDS: tuple[type[Record], ...] = (CommunityMinuteActivity, DeadLetter)
