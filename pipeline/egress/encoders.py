"""Kafka records of every output: key, value and headers, one encoder per record type.

The key decides the partition, so it is part of each topic's contract
(``pipeline.topics``): alerts by incident, incident commands by community (so
they reach the partition that owns the community's incidents), activity
windows by window, spread signals by complaint fingerprint.  Dead letters keep
the original key and bytes, with the reason in ``dlq.*`` headers (the way
Kafka Connect does it), so they can be inspected and replayed after a fix.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from pipeline.compute.escalation import SpreadSignal
from schemas.alerts import Alert, IncidentCommand
from schemas.outputs import (
    DeadLetter,
)
from schemas.scores import ScoredMessage, encode_chunks

Headers = list[tuple[str, bytes]]
KafkaRecord = tuple[bytes | None, bytes, Headers | None]
"""``(key, value, headers)`` as :meth:`PipelineContext.publish` sends them."""


def alert_record(alert: Alert) -> KafkaRecord:
    return alert.incident_id.encode(), alert.to_json(), None


def command_record(command: IncidentCommand) -> KafkaRecord:
    return command.community_id.encode(), command.to_json(), None


class Keyed(Protocol):
    @property
    def key(self) -> str: ...

    def to_json(self) -> bytes: ...


def keyed_record(record: Keyed) -> KafkaRecord:
    """A record by its own ``key``: metric windows by community and window start (or
    local day), anomalies and conversion alerts by id, totals by row."""
    return record.key.encode(), record.to_json(), None


def spread_record(signal: SpreadSignal) -> KafkaRecord:
    return signal.fingerprint.encode(), orjson.dumps(signal.to_wire()), None


def score_chunk_records(scored: list[ScoredMessage]) -> list[KafkaRecord]:
    return [(key, value, None) for key, value in encode_chunks(scored)]


def dead_letter_headers(letter: DeadLetter) -> Headers:
    return [
        ("dlq.schema_version", str(letter.schema_version).encode()),
        ("dlq.reason", letter.reason.encode()),
        ("dlq.detail", letter.detail.encode()),
        ("dlq.source.topic", letter.source_topic.encode()),
        ("dlq.source.partition", str(letter.source_partition).encode()),
        ("dlq.source.offset", str(letter.source_offset).encode()),
        ("dlq.rejected_at", letter.rejected_at.isoformat().encode()),
    ]


def dead_letter_record(key: bytes | None, value: bytes | None, letter: DeadLetter) -> KafkaRecord:
    return key, value or b"", dead_letter_headers(letter)

