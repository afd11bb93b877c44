"""Serialise simulated events to the exact bytes producers put on the input topics.

JSON is written by hand from plain values (no pydantic in the hot loop): field
order as in the models, compact separators, UTF-8 without escaping Chinese.
Tests check every record against ``schemas.decode.decode``.  Transactions
carry +08:00 offsets, as Chinese order systems stamp local time; everything
else is UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.devtools.generator.campaigns import Campaign
from pipeline.devtools.generator.chat import Message
from pipeline.devtools.generator.clock import IsoFormatter
from pipeline.devtools.generator.orders import Order
from pipeline.devtools.generator.world import NEVER, World
from pipeline.topics import (
    CHAT_MESSAGES,
    FUNNEL_EVENTS,
    MEMBER_EVENTS,
    MEMBERSHIP_SNAPSHOTS,
    TRANSACTIONS,
)

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> bytes:
    return _encoder.encode(value).encode()


@dataclass(slots=True)
class WireEvent:
    """One valid input event: event time, logical topic, key and value bytes."""

    ts: int
    topic: str
    key: bytes
    value: bytes


def chat_events(world: World, messages: list[Message], fmt: IsoFormatter) -> list[WireEvent]:
    out = []
    topic = CHAT_MESSAGES.name
    for m in messages:
        community = world.communities[m.community]
        value = dumps({
            "schema_version": 1, "ts": fmt.utc(m.ts), "message_id": m.message_id,
            "community_id": community.community_id, "platform": community.platform,
            "member_id": m.member_id, "sender_role": m.role, "msg_type": m.msg_type,
            "text": m.text, "reply_to": m.reply_to, "mentions": list(m.mentions),
        })
        out.append(WireEvent(m.ts, topic, community.community_id.encode(), value))
    return out


def member_events(world: World, fmt: IsoFormatter) -> list[WireEvent]:
    happenings = []
    for community in world.communities:
        for m in community.memberships:
            happenings.append((m.join_ms, community.index, m, "join"))
            if m.leave_ms != NEVER:
                happenings.append((m.leave_ms, community.index, m, m.leave_action))
    happenings.sort(key=lambda h: (h[0], h[1]))
    out = []
    topic = MEMBER_EVENTS.name
    for ms, index, m, action in happenings:
        community = world.communities[index]
        joined = action == "join"
        value = dumps({
            "schema_version": 1, "ts": fmt.utc(ms), "event_id": world.ids.next("me-", 8),
            "community_id": community.community_id, "platform": community.platform,
            "member_id": m.member_id, "action": action,
            "inviter_id": m.inviter_id if joined else None,
            "channel": m.channel if joined else None,
            "qr_code_id": m.qr_code_id if joined else None,
        })
        out.append(WireEvent(ms, topic, community.community_id.encode(), value))
    return out


def snapshot_events(world: World, fmt: IsoFormatter) -> list[WireEvent]:
    """Half-way through the period, the member list of every other community (the platform's
    member-list API as an operator would import it)."""
    if not world.config.snapshots:
        return []
    ms = world.start_ms + (world.end_ms - world.start_ms) // 2
    out = []
    for community in world.communities[::2]:
        members = sorted(m.member_id for m in community.memberships if m.is_member(ms))
        value = dumps({
            "schema_version": 1, "ts": fmt.utc(ms),
            "snapshot_id": f"snap-{community.community_id}-{ms // 1000}",
            "community_id": community.community_id, "platform": community.platform,
            "member_ids": members,
        })
        out.append(WireEvent(ms, MEMBERSHIP_SNAPSHOTS.name, community.community_id.encode(),
                             value))
    return out


def funnel_events(campaigns: list[Campaign], fmt: IsoFormatter) -> list[WireEvent]:
    out = []
    topic = FUNNEL_EVENTS.name
    for campaign in campaigns:
        key = campaign.campaign_id.encode()
        for e in campaign.events:
            value = dumps({
                "schema_version": 1, "ts": fmt.utc(e.ts), "event_id": e.event_id,
                "campaign_id": e.campaign_id, "person_id": e.person_id, "step": e.step,
                "channel": e.channel, "community_id": e.community_id,
            })
            out.append(WireEvent(e.ts, topic, key, value))
    return out


def transaction_events(orders: list[Order], fmt: IsoFormatter) -> list[WireEvent]:
    out = []
    topic = TRANSACTIONS.name
    for o in orders:
        value = dumps({
            "schema_version": 1, "ts": fmt.shanghai(o.ts), "order_id": o.order_id,
            "member_id": o.member_id, "community_id": o.community_id,
            "campaign_id": o.campaign_id, "channel": o.channel, "amount_fen": o.amount_fen,
            "currency": "CNY", "status": o.status,
        })
        out.append(WireEvent(o.ts, topic, o.order_id.encode(), value))
    return out


def serialise(world: World, messages: list[Message], campaigns: list[Campaign],
              orders: list[Order]) -> list[WireEvent]:
    """Every valid event of every input topic, in event-time order (ties keep topic order)."""
    fmt = IsoFormatter()
    events = (member_events(world, fmt) + snapshot_events(world, fmt)
              + funnel_events(campaigns, fmt)
              + chat_events(world, messages, fmt) + transaction_events(orders, fmt))
    events.sort(key=lambda e: e.ts)
    return events
