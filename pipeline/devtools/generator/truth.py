"""The ground truth of a generated stream: what a correct pipeline must find.

Written as ``truth.json`` next to the events.  Counts are over valid events
only, each counted once however often and however late it was delivered.
Times are UTC; minute keys are ``datetime.isoformat()`` of the window start
(``2025-05-01T12:34:00+00:00``), as ``CommunityMinuteActivity.key`` writes them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.outputs import DeadLetterReason

Tier = Literal["mild", "moderate", "severe"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KindCounts(_Model):
    valid: int = 0
    late: int = 0
    duplicate: int = 0
    malformed: int = 0


class ExpectedDeadLetter(_Model):
    topic: str
    reason: DeadLetterReason
    fault: str = Field(description="Which producer bug the record imitates.")
    position: int = Field(description="Index of the record in delivery order.")


class CommunityTruth(_Model):
    community_id: str
    platform: str
    theme: str
    name: str
    initial_members: int = Field(description="Members at the start (joined in the week before).")
    joins: int = Field(description="Joins during the period.")
    invited_joins: int = Field(description="Joins during the period with an inviter (裂变).")
    joins_by_channel: dict[str, int]
    leaves: int = Field(description="Leaves during the period (self, action 'leave').")
    removed: int = Field(description="Removals by staff during the period.")
    members_at_end: int
    messages: int = Field(description="Distinct valid chat messages in the period.")
    member_messages: int
    staff_messages: int
    bot_messages: int
    mechanical_messages: int = Field(
        description="Member messages that are stickers, 收到/+1/好的/打卡, thanks or copy-paste."
    )
    speakers: int = Field(description="Distinct members (sender role member) who posted.")


class SilentMember(_Model):
    community_id: str
    member_id: str
    last_active: datetime = Field(description="Event time of their last message.")
    silent_since: datetime = Field(description="From when they post nothing more.")


class EpisodeTruth(_Model):
    episode_id: str
    expected_tier: Tier
    community_ids: list[str]
    start: datetime
    end: datetime
    message_ids: list[str]
    member_ids: list[str]
    terms: list[str] = Field(description="Complaint and crisis terms used in its messages.")


class FunnelTruth(_Model):
    campaign_id: str
    title: str
    community_id: str
    peak_day: date = Field(description="Local (Shanghai) day of the live session (活动日).")
    steps: dict[str, int] = Field(description="Distinct persons per step, FUNNEL_STEPS order.")
    conversion: dict[str, float] = Field(description="'a->b': persons(b) / persons(a).")
    below_target: list[str] = Field(description="Transitions converting below 85%.")
    by_channel: dict[str, dict[str, int]] = Field(description="channel -> step -> persons.")
    events: int = Field(description="Funnel events, repeated poster clicks included.")
    joined_community: int = Field(description="Participants who joined the group via it.")


class OrderTotals(_Model):
    orders: int = 0
    gmv_fen: int = 0
    buyers: int = 0
    repeat_buyers: int = 0
    refunds: int = 0
    refund_fen: int = 0


class OrdersTruth(_Model):
    total: OrderTotals
    by_community: dict[str, OrderTotals]
    by_campaign: dict[str, OrderTotals]
    by_channel: dict[str, OrderTotals]


class PiiMessage(_Model):
    message_id: str
    community_id: str
    kinds: list[str]
    values: list[str] = Field(description="The personal data exactly as written in the text.")


class AnomalyTruth(_Model):
    """An injected hour-scale anomaly (``GeneratorConfig.anomalies``): what changed, when.

    ``magnitude``: for messages and active members the factor on the usual rate at
    the anomaly's plateau (5.2: x5.2; 0.15: -85%; member messages for a quiet
    spell's messages drop, expected distinct members per hour for active
    members); for leaves the number of members who left.
    """

    anomaly_id: str = Field(description="One per injected anomaly; shared by its entries.")
    community_id: str
    metric: Literal["messages", "active_members", "leaves"]
    direction: Literal["spike", "drop"]
    start: datetime = Field(description="Onset (a random minute), inclusive.")
    end: datetime = Field(description="When it is over, exclusive.")
    magnitude: float
    cause: Literal["chatter_burst", "quiet_spell", "mass_leave"]
    primary: bool = Field(default=True, description="False: a consequence of the anomaly "
                          "on another metric (a quiet spell's messages drop).")
    member_ids: list[str] = Field(default_factory=list,
                                  description="Who left (a mass leave).")


class GroundTruth(_Model):
    config: dict[str, Any]
    start: datetime
    end: datetime
    records: int
    topic_counts: dict[str, KindCounts] = Field(description="Logical topic -> records by kind.")
    minute_activity: list[tuple[str, str, int, int]] = Field(
        description="(community_id, minute start ISO, distinct messages, distinct member speakers)."
    )
    dead_letters: list[ExpectedDeadLetter]
    communities: list[CommunityTruth]
    silent_members: list[SilentMember]
    episodes: list[EpisodeTruth]
    funnels: list[FunnelTruth]
    orders: OrdersTruth
    pii_messages: list[PiiMessage]
    anomalies: list[AnomalyTruth] = Field(
        default_factory=list, description="Injected anomalies, in onset order (none unless "
        "GeneratorConfig.anomalies).")

    def minute_counts(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(community_id, minute ISO) -> (messages, speakers), for minutes with messages."""
        return {(c, m): (n, s) for c, m, n, s in self.minute_activity}

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @classmethod
    def from_json(cls, data: str | bytes) -> GroundTruth:
        return cls.model_validate_json(data)
