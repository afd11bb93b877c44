"""Records of ``pipeline.journeys-by-member.v1``: a person's funnel events and joins.

Keyed by person / member id, so they land on the partition of
``pipeline.transactions-by-member.v1`` that holds the member's orders (both
topics are produced with the same partitioner and partition count).  The
value wraps the validated input event with its kind.
"""

from __future__ import annotations

from typing import Literal

import orjson

from pipeline.egress.encoders import KafkaRecord
from schemas.events import FunnelEvent, MemberEvent

JourneyKind = Literal["funnel", "join"]


def journey_record(event: FunnelEvent | MemberEvent) -> KafkaRecord:
    if isinstance(event, FunnelEvent):
        return event.person_id.encode(), orjson.dumps(
            {"t": "funnel", "e": event.model_dump(mode="json")}), None
    return event.member_id.encode(), orjson.dumps(
        {"t": "join", "e": event.model_dump(mode="json")}), None


def read_journey(value: bytes) -> list[FunnelEvent | MemberEvent]:
    """The wrapped event (raises on a record this module did not write)."""
    data = orjson.loads(value)
    model = FunnelEvent if data["t"] == "funnel" else MemberEvent
    return [model.model_validate(data["e"])]
