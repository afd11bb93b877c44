"""Records of ``pipeline.journeys-by-member.v1``: what ``sales-ledgers`` needs of a member.

Transactions, funnel events and community joins, re-keyed by member (person) id
and packed per partition (:mod:`pipeline.egress.packed`), so one partition
holds a member's orders, touches and joins.  Each entry wraps the validated
input event with its kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.egress.packed import pack, unpack
from schemas.events import FunnelEvent, MemberEvent, Transaction

Journeyed = FunnelEvent | MemberEvent | Transaction
KINDS: dict[str, type[Journeyed]] = {
    "funnel": FunnelEvent, "join": MemberEvent, "transaction": Transaction}
KIND_OF = {model: kind for kind, model in KINDS.items()}


def member_of(event: Journeyed) -> str:
    return event.person_id if isinstance(event, FunnelEvent) else event.member_id


def journey_messages(events: Iterable[Journeyed], partitions: int) -> list[tuple[int, bytes]]:
    """``(partition, value)`` messages carrying ``events`` to their members' partitions."""
    entries: list[tuple[str, Any]] = [
        (member_of(e), {"t": KIND_OF[type(e)], "e": e.model_dump(mode="json")}) for e in events]
    return pack(entries, partitions)


def read_journeys(value: bytes) -> list[Journeyed]:
    """The wrapped events (raises on a message this module did not write)."""
    return [KINDS[entry["t"]].model_validate(entry["e"]) for _, entry in unpack(value)]
