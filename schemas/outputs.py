"""Output records: what the pipeline publishes for downstream services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from schemas.base import Identifier, Record

DeadLetterReason = Literal[
    "invalid_encoding",
    "invalid_json",
    "schema",
    "unsupported_version",
    "oversized",
    "timestamp_out_of_range",
    "unknown_step",
]


class CommunityMinuteActivity(Record):
    """Messages and speakers of one community in one event-time minute.

    Published on every change of the window, keyed ``<community_id>|<window_start>``
    on a compacted topic: consumers upsert by key and keep the highest ``revision``.
    """

    record_name = "community_minute_activity"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the window belongs to.")
    window_start: datetime = Field(description="Window start (inclusive), UTC.")
    window_end: datetime = Field(description="Window end (exclusive), UTC.")
    messages: int = Field(ge=0, description="Distinct messages with event time in the window.")
    speakers: int = Field(
        ge=0, description="Distinct members (sender role member) who posted in the window."
    )
    senders: int = Field(
        0, ge=0, description="Distinct senders of any role (members, staff, bots)."
    )
    is_final: bool = Field(
        description="True once the window is past the allowed lateness and will not change."
    )
    revision: int = Field(
        ge=0, description="Monotonic per window: a higher revision supersedes a lower one."
    )

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.window_start.isoformat()}"


MemberCountAnchor = Literal["snapshot", "relative"]
ANCHOR_DESCRIPTION = (
    "snapshot: counted from a membership snapshot; relative: net change since the first "
    "membership event seen (may be negative)."
)
SLOT_DESCRIPTION = (
    "Interactions in a 3+2 posting slot: from 9:00, 12:00 and 20:00 local time, "
    "PULSE_SLOT_MINUTES wide."
)
NO_MEMBERS = " None when member_count <= 0."
SCORED_DESCRIPTION = (
    "Member text messages the sentiment path scored (not mechanical); negative when "
    "escalation grades them negative feedback, positive when they score at least the scorer "
    "mode's calibrated positive score (PULSE_POSITIVE_SCORE overrides it)."
)


# Fields shared by the hour and day records (the same definition in both).
Messages = Annotated[int, Field(ge=0, description="Distinct messages of any sender and type.")]
MemberMessages = Annotated[int, Field(ge=0, description="Messages sent by members.")]
StaffMessages = Annotated[int, Field(ge=0, description="Messages sent by staff (运营/客服).")]
BotMessages = Annotated[int, Field(ge=0, description="Messages sent by bots.")]
Interactions = Annotated[int, Field(
    ge=0, description="Member messages other than system messages."
)]
RealInteractions = Annotated[int, Field(
    ge=0, description="Interactions that are neither mechanical nor copies."
)]
MechanicalMessages = Annotated[int, Field(
    ge=0, description="Sticker-only, 收到, +1, 打卡 and the like."
)]
CopyMessages = Annotated[int, Field(ge=0, description="Member texts repeating an earlier message.")]
SlotInteractions = Annotated[int, Field(ge=0, description=SLOT_DESCRIPTION)]
Joins = Annotated[int, Field(ge=0, description="Distinct join events.")]
Leaves = Annotated[int, Field(ge=0, description="Distinct leave events (the member left).")]
Removals = Annotated[int, Field(ge=0, description="Distinct removal events (staff removed).")]
NetGrowth = Annotated[int, Field(description="joins - leaves - removals.")]
Anchor = Annotated[MemberCountAnchor, Field(description=ANCHOR_DESCRIPTION)]
SpeakingRate = Annotated[float | None, Field(description="speakers / member_count." + NO_MEMBERS)]
ScoredMessages = Annotated[int, Field(ge=0, description=SCORED_DESCRIPTION)]
PositiveMessages = Annotated[int, Field(ge=0, description="Scored messages graded positive.")]
NegativeMessages = Annotated[int, Field(ge=0, description="Scored messages graded negative.")]
NegativeShare = Annotated[float | None, Field(
    description="negative_messages / scored_messages; None without scored messages."
)]
IsFinal = Annotated[bool, Field(
    description="True once past the allowed lateness; never changes again."
)]
Revision = Annotated[int, Field(ge=0, description="Monotonic per window; highest wins.")]


class CommunityHourActivity(Record):
    """One community's event-time hour: activity, interaction and membership.

    Keyed ``<community_id>|<window_start>`` on a compacted topic; consumers keep
    the highest ``revision``.  Definitions: docs/metrics.md.
    """

    record_name = "community_hour_activity"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the window belongs to.")
    window_start: datetime = Field(description="Window start (inclusive), UTC.")
    window_end: datetime = Field(description="Window end (exclusive), UTC.")
    messages: Messages
    member_messages: MemberMessages
    staff_messages: StaffMessages
    bot_messages: BotMessages
    interactions: Interactions
    real_interactions: RealInteractions
    mechanical_messages: MechanicalMessages
    copy_messages: CopyMessages
    speakers: int = Field(
        ge=0, description="Distinct members with an interaction (a member message other than "
        "a system message)."
    )
    active_members: int = Field(ge=0, description="Distinct members with a real interaction.")
    senders: int = Field(ge=0, description="Distinct senders of any role.")
    slot_interactions: SlotInteractions
    joins: Joins
    leaves: Leaves
    removals: Removals
    net_growth: NetGrowth
    member_count: int = Field(description="Members at window end (see member_count_anchor).")
    member_count_anchor: Anchor
    speaking_rate: SpeakingRate
    scored_messages: ScoredMessages
    positive_messages: PositiveMessages
    negative_messages: NegativeMessages
    negative_share: NegativeShare
    is_final: IsFinal
    revision: Revision

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.window_start.isoformat()}"


class HotWord(Record):
    record_name = "hot_word"
    word: str = Field(description="A word (jieba segmentation), personal data masked first.")
    count: int = Field(ge=1, description="Occurrences in members' messages.")


class CommunityDayHealth(Record):
    """One community's local day (Asia/Shanghai by default): the health report.

    Keyed ``<community_id>|<day>`` on a compacted topic; consumers keep the
    highest ``revision``.  Definitions and targets: docs/metrics.md.
    """

    record_name = "community_day_health"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the day belongs to.")
    day: date = Field(description="Local calendar day.")
    timezone: str = Field(description="Zone whose midnights bound the day.")
    window_start: datetime = Field(description="Local midnight, UTC.")
    window_end: datetime = Field(description="Next local midnight, UTC.")
    messages: Messages
    member_messages: MemberMessages
    staff_messages: StaffMessages
    bot_messages: BotMessages
    interactions: Interactions
    real_interactions: RealInteractions
    mechanical_messages: MechanicalMessages
    copy_messages: CopyMessages
    speakers: int = Field(
        ge=0, description="Distinct members with an interaction (a member message other than "
        "a system message) that day."
    )
    dau: int = Field(ge=0, description="Distinct members with a real interaction that day.")
    wau: int = Field(
        ge=0, description="Distinct members with a real interaction in the 7 days ending "
        "with this one."
    )
    mau: int = Field(
        ge=0, description="Distinct members with a real interaction in the 30 days ending "
        "with this one."
    )
    stickiness: float | None = Field(description="dau / mau (target >= 0.4); None without mau.")
    ugc_messages: int = Field(
        ge=0, description="Member-created content: the real interactions (so equal to them)."
    )
    ugc_share: float | None = Field(
        description="ugc_messages / (ugc_messages + staff and bot messages other than system "
        "messages) (target >= 0.6); None without content."
    )
    slot_interactions: SlotInteractions
    slot_share: float | None = Field(
        description="slot_interactions / interactions; None without interactions."
    )
    hourly_interactions: list[int] = Field(
        description="Interactions per local hour of day (24 values)."
    )
    joins: Joins
    leaves: Leaves
    removals: Removals
    net_growth: NetGrowth
    member_count: int = Field(description="Members at the day's end (see member_count_anchor).")
    member_count_anchor: Anchor
    membership_conflicts: int = Field(
        ge=0, description="Membership events contradicting the state, ignored (docs/metrics.md)."
    )
    churn_risk_members: int | None = Field(
        None, ge=0, description="Present members at the day's end silent 3 to 30 days "
        "(status churn_risk, docs/metrics.md \"Silent members\"); None until the day closes."
    )
    win_back_members: int | None = Field(
        None, ge=0, description="Present members at the day's end silent 30 days or more "
        "(status win_back); None until the day closes."
    )
    koc_members: int | None = Field(
        None, ge=0, description="Present members flagged KOC at the day's end (docs/metrics.md "
        "\"KOC and member layers\"); None until the day closes."
    )
    core_members: int | None = Field(
        None, ge=0, description="Present members in the core layer (核心: KOC, or a real "
        "interaction on at least the configured number of the last 30 days); None until the "
        "day closes."
    )
    participating_members: int | None = Field(
        None, ge=0, description="Present members in the participating layer (参与: a real "
        "interaction in the last 30 days, not core); None until the day closes."
    )
    onlooker_members: int | None = Field(
        None, ge=0, description="Present members in the onlooker layer (围观: no real "
        "interaction in the last 30 days); members known to be present only (a snapshot makes "
        "that all of them); None until the day closes."
    )
    join_rate: float | None = Field(description="joins / member_count." + NO_MEMBERS)
    leave_rate: float | None = Field(
        description="(leaves + removals) / member_count." + NO_MEMBERS
    )
    speaking_rate: SpeakingRate
    interaction_rate: float | None = Field(
        description="Daily interaction rate: members who interacted / member_count (target "
        ">= 0.15); the same number as speaking_rate by definition." + NO_MEMBERS
    )
    real_interaction_rate: float | None = Field(
        description="dau / member_count: members with a real interaction, the daily active "
        "rate (target >= 0.15)." + NO_MEMBERS
    )
    weekly_active_rate: float | None = Field(description="wau / member_count." + NO_MEMBERS)
    interactions_per_member_30d: float | None = Field(
        description="Real interactions of the 30 days ending with this one / member_count "
        "(target >= 8)." + NO_MEMBERS
    )
    hot_words: list[HotWord] = Field(
        description="Top 20 words of members' content texts by count (ties by word), "
        "personal data masked before segmentation."
    )
    scored_messages: ScoredMessages
    positive_messages: PositiveMessages
    negative_messages: NegativeMessages
    positive_share: float | None = Field(
        description="positive_messages / scored_messages (target >= 0.6); None without "
        "scored messages."
    )
    negative_share: NegativeShare
    is_final: IsFinal
    revision: Revision

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.day.isoformat()}"


AnomalyMetric = Literal["active_members", "messages", "leaves", "joins", "negative_share"]


class CommunityAnomaly(Record):
    """A community metric far from its own seasonal baseline: opened once, then resolved.

    Keyed ``anomaly_id`` (``<community_id>|<metric>|<opening hour>``, the same when a
    replay opens it again); consumers keep the highest ``revision`` (1 opened,
    2 resolved).  Method: docs/metrics.md, "Anomalies".
    """

    record_name = "community_anomaly"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    anomaly_id: str = Field(description="Stable id: community, metric and opening hour.")
    community_id: Identifier = Field(description="Community whose metric is anomalous.")
    metric: AnomalyMetric = Field(
        description="active_members, messages, leaves (leaves + removals), joins or "
        "negative_share, per event-time hour."
    )
    direction: Literal["drop", "spike"] = Field(description="Below or above the baseline.")
    status: Literal["open", "resolved"] = Field(description="open, or resolved (back to normal).")
    window_start: datetime = Field(description="Start of the hour the anomaly opened in, UTC.")
    window_end: datetime = Field(
        description="Open: how far into that hour the evidence went; resolved: start of "
        "the first normal hour."
    )
    expected: float = Field(
        description="Expected value (pro rata for a partial hour) at the opening evaluation, "
        "or at the worst one once resolved."
    )
    observed: float = Field(description="Observed value of the same evaluation.")
    deviation: float = Field(
        description="Standardised deviation (z-like; negative for a drop), capped at 12."
    )
    fraction: float = Field(ge=0, le=1, description="Share of its hour that evaluation covers.")
    severity: Literal["warning", "critical"] = Field(
        description="critical from 6 standard deviations; an anomaly never gets milder."
    )
    revision: int = Field(ge=1, description="1 when opened, 2 when resolved; highest wins.")

    @property
    def key(self) -> str:
        return self.anomaly_id


class DeadLetter(Record):
    """Why an input record was rejected; travels as headers next to the original bytes."""

    record_name = "dead_letter"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    source_topic: str = Field(description="Topic the record was read from.")
    source_partition: int = Field(ge=0, description="Partition it was read from.")
    source_offset: int = Field(ge=0, description="Offset it was read at.")
    reason: DeadLetterReason = Field(description="Machine-readable rejection class.")
    detail: str = Field(max_length=500, description="Human-readable detail (no payload data).")
    rejected_at: datetime = Field(description="When the pipeline rejected it, UTC.")
    size_bytes: int = Field(ge=0, description="Size of the original value in bytes.")


OUTPUT_RECORDS: tuple[type[Record], ...] = (
    CommunityMinuteActivity, CommunityHourActivity, CommunityDayHealth, CommunityAnomaly,
    DeadLetter,
)
