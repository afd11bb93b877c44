"""``pulse replay FILE``: your own input events, from a JSON-lines file, to their topics.

Two line formats, mixed freely:

- a bare input event (what a producer would send): its topic is told by the field that
  identifies it (``message_id`` chat, ``snapshot_id`` snapshot, ``order_id``
  transaction, ``event_id`` with ``campaign_id`` funnel, ``event_id`` with ``action``
  member event); the line's bytes are sent as they are, keyed like the pipeline keys
  that topic (community, order or campaign id), so the edge validates them exactly as
  it would a producer's;
- a record of ``pulse generate --out`` (``topic``, ``key``, ``value`` or ``value_b64``,
  ``timestamp_ms``), sent byte for byte.

A line that is neither (not JSON, not an object, no identifying field) is not sent and
is reported with its line number: it has no topic to go to.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pipeline.devtools.generator.stream import OutRecord
from pipeline.topics import (
    CHAT_MESSAGES,
    FUNNEL_EVENTS,
    INPUT_TOPICS,
    MEMBER_EVENTS,
    MEMBERSHIP_SNAPSHOTS,
    TRANSACTIONS,
)

INPUT_NAMES = frozenset(spec.name for spec in INPUT_TOPICS)
KEY_FIELDS = {CHAT_MESSAGES.name: "community_id", MEMBER_EVENTS.name: "community_id",
              MEMBERSHIP_SNAPSHOTS.name: "community_id", TRANSACTIONS.name: "order_id",
              FUNNEL_EVENTS.name: "campaign_id"}
"""What each input topic is keyed by (the events' ``partition_key``)."""


@dataclass(frozen=True, slots=True)
class Unroutable:
    line: int
    reason: str


def topic_of(event: dict) -> str | None:
    """The input topic of a bare event, by the field that identifies it."""
    if "message_id" in event:
        return CHAT_MESSAGES.name
    if "snapshot_id" in event:
        return MEMBERSHIP_SNAPSHOTS.name
    if "order_id" in event:
        return TRANSACTIONS.name
    if "event_id" in event and "campaign_id" in event:
        return FUNNEL_EVENTS.name
    if "event_id" in event and "action" in event:
        return MEMBER_EVENTS.name
    return None


def _bytes(line: dict, name: str) -> bytes | None:
    if f"{name}_b64" in line:
        return base64.b64decode(line[f"{name}_b64"])
    text = line.get(name)
    return None if text is None else str(text).encode("utf-8")


def read_events(lines: Iterable[str]) -> Iterator[OutRecord | Unroutable]:
    """Each line's record, or why it cannot be sent."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            yield Unroutable(number, "not JSON")
            continue
        if not isinstance(line, dict):
            yield Unroutable(number, "not a JSON object")
        elif line.get("topic") in INPUT_NAMES and ("value" in line or "value_b64" in line):
            yield OutRecord(line["topic"], _bytes(line, "key"), _bytes(line, "value") or b"",
                            line.get("timestamp_ms"), line.get("kind", "valid"))
        elif (topic := topic_of(line)) is not None:
            key = line.get(KEY_FIELDS[topic])
            yield OutRecord(topic, None if key is None else str(key).encode("utf-8"),
                            text.strip().encode("utf-8"), None, "valid")
        else:
            yield Unroutable(number, "no field tells its topic (message_id, event_id, ...)")
