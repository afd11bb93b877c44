"""Scored chat messages: what the alert worker hands the ClickHouse store, in chunks.

Internal record of ``pipeline.sentiment-scores.v1``: no member id and no text
leave the alert worker, only what ``message_sentiment`` and the share metrics
need.  Chunks are per community (the topic's key), at most ``CHUNK_ROWS`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

CHUNK_ROWS = 500


@dataclass(frozen=True, slots=True)
class ScoredMessage:
    """One row of ``message_sentiment``."""

    message_id: str
    community_id: str
    sender_role: str
    ts_ms: int
    score: float
    polarity: str
    complaint_terms: tuple[str, ...]
    crisis_terms: tuple[str, ...]


TIME_SLICE_MS = 600_000
"""Chunks cover at most ten minutes of event time, sent in time order (below)."""


def encode_chunks(scored: list[ScoredMessage]) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` records: per community and ten-minute slice of event time, at most
    ``CHUNK_ROWS`` rows each, slices in time order.

    A batch can span hours of event time (a worker catching up).  Chunks by community
    alone would put each community's hours behind the previous community's on the
    shared partition, so the reader's per-partition watermark would call most of them
    too late; slices keep the partition in event-time order to within ten minutes.
    """
    by_slice: dict[tuple[int, str], list[ScoredMessage]] = {}
    for message in scored:
        by_slice.setdefault((message.ts_ms // TIME_SLICE_MS, message.community_id),
                            []).append(message)
    for (_slice, community), messages in sorted(by_slice.items()):
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
