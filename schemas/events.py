"""Input events: the four streams the pipeline consumes (docs/product.md, "Input events")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Identifier, InputEvent, Platform

MAX_TEXT_CHARS = 4000
"""WeChat caps a text message at a few thousand characters; more is not a chat message."""

MessageType = Literal["text", "image", "link", "sticker", "red_packet", "system"]
SenderRole = Literal["member", "staff", "bot"]
MemberAction = Literal["join", "leave", "removed"]
OrderStatus = Literal["paid", "refunded"]
FUNNEL_STEPS: tuple[str, ...] = (
    "poster_click",
    "signup_page",
    "signup",
    "reminder",
    "activity_entry",
    "follow_up",
)
"""The default campaign funnel, in order (海报点击 → 报名页 → 报名 → 提醒 → 进入活动 → 跟进);
a campaign registry may give a campaign its own steps (``pipeline.compute.campaigns``)."""


class ChatMessage(InputEvent):
    """One message posted in a community group (微信群 / 企业微信群 / QQ群)."""

    record_name = "chat_message"

    message_id: Identifier = Field(description="Platform message id, unique per message.")
    community_id: Identifier = Field(description="Community (group) the message was posted in.")
    platform: Platform = Field("wechat", description="Messaging platform of the community.")
    member_id: Identifier = Field(description="Sender's member id (pseudonymous).")
    sender_role: SenderRole = Field("member", description="member, staff (运营/客服) or bot.")
    msg_type: MessageType = Field("text", description="Kind of message.")
    text: str = Field(
        "", max_length=MAX_TEXT_CHARS, description="Message text (empty for media messages)."
    )
    reply_to: Identifier | None = Field(None, description="Message id this one replies to.")
    mentions: list[Identifier] = Field(
        default_factory=list, max_length=200, description="Member ids @-mentioned."
    )

    @property
    def dedup_id(self) -> str:
        return self.message_id

    @property
    def partition_key(self) -> str:
        return self.community_id


class MemberEvent(InputEvent):
    """A member joined, left or was removed from a community."""

    record_name = "member_event"

    event_id: Identifier = Field(description="Unique id of this membership event.")
    community_id: Identifier = Field(description="Community the event belongs to.")
    platform: Platform = Field("wechat", description="Messaging platform of the community.")
    member_id: Identifier = Field(description="Member who joined or left.")
    action: MemberAction = Field(description="join, leave (self) or removed (by staff).")
    inviter_id: Identifier | None = Field(None, description="Who invited the member (裂变).")
    channel: str | None = Field(
        None, max_length=128, description="Acquisition channel (UTM source)."
    )
    qr_code_id: str | None = Field(
        None, max_length=128, description="Parameterised QR code the member scanned."
    )

    @property
    def dedup_id(self) -> str:
        return self.event_id

    @property
    def partition_key(self) -> str:
        return self.community_id


MAX_SNAPSHOT_MEMBERS = 100_000
"""A WeCom customer group holds at most a few thousand members; more is not one group."""


class MembershipSnapshot(InputEvent):
    """Who is in a community at ``ts``: the anchor of its member count.

    Groups exist before the pipeline starts; a snapshot (from the platform's
    member list API, or ``pulse members snapshot``) says who was in the group
    then, and joins and leaves are tracked from it.
    """

    record_name = "membership_snapshot"

    snapshot_id: Identifier = Field(description="Unique id of this snapshot (a version).")
    community_id: Identifier = Field(description="Community the member list belongs to.")
    platform: Platform = Field("wechat", description="Messaging platform of the community.")
    member_ids: list[Identifier] = Field(
        max_length=MAX_SNAPSHOT_MEMBERS, description="Every member present at ``ts``."
    )

    @property
    def dedup_id(self) -> str:
        return self.snapshot_id

    @property
    def partition_key(self) -> str:
        return self.community_id


class Transaction(InputEvent):
    """An order paid or refunded; amounts in CNY minor units (分)."""

    record_name = "transaction"

    order_id: Identifier = Field(description="Order id; a refund reuses the order's id.")
    member_id: Identifier = Field(description="Paying member.")
    community_id: Identifier | None = Field(None, description="Attributed community, if any.")
    campaign_id: Identifier | None = Field(None, description="Attributed campaign, if any.")
    channel: str | None = Field(None, max_length=128, description="Attributed channel (UTM).")
    amount_fen: int = Field(ge=0, le=10_000_000_000, description="Amount in 分 (CNY/100).")
    currency: Literal["CNY"] = Field("CNY", description="Currency; only CNY is accepted.")
    status: OrderStatus = Field(description="paid or refunded.")

    @property
    def dedup_id(self) -> str:
        return f"{self.order_id}:{self.status}"

    @property
    def partition_key(self) -> str:
        return self.order_id


class FunnelEvent(InputEvent):
    """A person reached one step of a campaign funnel."""

    record_name = "funnel_event"

    event_id: Identifier = Field(description="Unique id of this funnel event.")
    campaign_id: Identifier = Field(description="Campaign (活动) id.")
    person_id: Identifier = Field(description="Person (member or prospect) id.")
    step: Identifier = Field(
        description="Funnel step reached: one of the campaign's steps in the registry (the "
        "default six otherwise); any other name is a dead letter (unknown_step)."
    )
    channel: str | None = Field(None, max_length=128, description="Channel (UTM / QR code).")
    community_id: Identifier | None = Field(None, description="Community, once joined.")

    @property
    def dedup_id(self) -> str:
        return self.event_id

    @property
    def partition_key(self) -> str:
        return self.campaign_id


INPUT_EVENTS: tuple[type[InputEvent], ...] = (
    ChatMessage, MemberEvent, MembershipSnapshot, Transaction, FunnelEvent
)
