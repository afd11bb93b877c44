"""What the generator hands out: records in delivery order, plus the ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.devtools.generator.truth import GroundTruth

RecordKind = Literal["valid", "late", "duplicate", "malformed"]


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record as produced.

    ``timestamp_ms`` is the event time (for malformed records: the time of the
    delivery slot they were injected into).  ``kind`` says what the record is
    in the ground truth: an on-time valid event, a valid event delivered late
    (after events with later event times), a byte-identical redelivery, or
    garbage that must end up on the dead-letter topic.
    """

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None
    """None: the producer's clock (replayed events of your own)."""
    kind: RecordKind


@dataclass(slots=True)
class GeneratedStream:
    records: list[OutRecord]
    truth: GroundTruth
