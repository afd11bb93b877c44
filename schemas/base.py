"""Shared building blocks for every record that crosses a topic boundary.

Records are pydantic models so that validation at the edge, serialisation to
Kafka and the JSON Schema published to downstream consumers all come from one
definition.  Each record carries ``schema_version``; a breaking change means a
new model, a new version number and a new topic suffix (``.v2``).
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""Opaque ids (message, member, community, order ...): non-empty, bounded."""

Platform = Literal["wechat", "wecom", "qq"]
"""Where a community lives: 微信群, 企业微信群, QQ群."""

EventTime = AwareDatetime
"""Event time with an explicit UTC offset (ISO 8601); naive times are rejected."""


class Record(BaseModel):
    """Base of all records: unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    record_name: ClassVar[str]
    """Stable name used for the JSON Schema file (``<record_name>.v<version>.json``)."""

    version: ClassVar[int] = 1

    def to_json(self) -> bytes:
        """Serialise for a Kafka value (UTF-8 JSON, ISO 8601 times)."""
        return self.model_dump_json().encode()


class InputEvent(Record):
    """An event produced by an upstream system into one of our input topics."""

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    ts: EventTime = Field(description="Event time (when it happened), ISO 8601 with offset.")

    @property
    @abstractmethod
    def dedup_id(self) -> str:
        """Identity used to drop at-least-once duplicates."""

    @property
    @abstractmethod
    def partition_key(self) -> str:
        """Kafka key: events sharing it are ordered and processed on one partition."""


def utc_now() -> datetime:
    """Wall-clock time in UTC (one place, so tests can reason about it)."""
    return datetime.now(UTC)
