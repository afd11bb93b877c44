"""Output records about members over time: silence status changes (docs/metrics.md,
"Silent members") and daily member profiles (KOC score and layer, "KOC and member
layers")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Record

MemberStatus = Literal["active", "churn_risk", "win_back", "reactivated", "left"]
STATUS_CODES: dict[str, int] = {"active": 0, "churn_risk": 1, "win_back": 2, "left": 3,
                                "reactivated": 4}


class MemberStatusChange(Record):
    """One member's silence status changed in one community.

    Keyed ``<community_id>|<member_id>`` on a compacted topic, so the topic holds every
    member's latest status; consumers keep the highest ``revision``.  A replay produces
    the same record (same time, same revision), never a second, different one.
    """

    record_name = "member_status_change"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the status is about.")
    member_id: Identifier = Field(description="The member (pseudonymous id).")
    status: MemberStatus = Field(
        description="churn_risk: no real interaction for 3 days; win_back: for 30 days; "
        "reactivated: interacted again after churn_risk or win_back (then active); left: "
        "left, removed or missing from a snapshot; active: present again after leaving."
    )
    previous: MemberStatus = Field(description="Status before this change.")
    at: datetime = Field(
        description="Event time of the change: silence start + 3 or 30 days, the first real "
        "interaction again, or the membership event / snapshot, UTC."
    )
    silent_since: datetime | None = Field(
        description="Start of the silence (last real interaction, or becoming present if "
        "none since) for churn_risk, win_back and reactivated; None otherwise."
    )
    revision: int = Field(
        ge=0, description="Event time in ms x 8 + status code: a later change wins."
    )

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.member_id}"


MemberLayer = Literal["core", "participating", "onlooker"]
POINTS = " points of the score (docs/metrics.md \"KOC and member layers\")."


class MemberProfile(Record):
    """One member of one community at the end of a local day: their KOC score over the
    last 30 days with the components behind it, their rank and their layer.

    Keyed ``<community_id>|<member_id>`` on a compacted topic, so the topic holds every
    member's latest profile; consumers keep the highest ``revision``.  Published when the
    community's day closes, for the present members with a real interaction, reply,
    mention or invitation in the last 31 days (the 31st: the day a member falls back to
    onlooker).  Departures are on the member-status topic.
    """

    record_name = "member_profile"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the profile is about.")
    member_id: Identifier = Field(description="The member (pseudonymous id).")
    member_ref: str = Field(
        description="The member's salted reference, as in sentiment alerts: what dashboards "
        "show instead of the id."
    )
    day: date = Field(description="Local day whose end the profile describes.")
    timezone: str = Field(description="Zone whose midnights bound the days.")
    layer: MemberLayer = Field(
        description="core (核心): KOC, or real interactions on at least the configured number "
        "of the 30 days; participating (参与): a real interaction in the 30 days; onlooker "
        "(围观): none."
    )
    is_koc: bool = Field(
        description="Among the top KOC share (configured, 6% by default) of the community's "
        "active members by score, with at least the minimum score."
    )
    rank: int | None = Field(
        None, ge=1, description="Rank by score among the community's members with a real "
        "interaction in the 30 days (ties by member id); None without one."
    )
    score: float = Field(ge=0, le=100, description="KOC score: the sum of the five points.")
    points_messages: float = Field(ge=0, description="Message frequency" + POINTS)
    points_engagement: float = Field(ge=0, description="Replies and @mentions received" + POINTS)
    points_content: float = Field(ge=0, description="Content length" + POINTS)
    points_sentiment: float = Field(ge=0, description="Positive sentiment share" + POINTS)
    points_invitations: float = Field(ge=0, description="Invited joins" + POINTS)
    real_interactions: int = Field(
        ge=0, description="Real interactions (not mechanical, not copies) in the 30 days."
    )
    active_days: int = Field(ge=0, le=30, description="Days of the 30 with a real interaction.")
    replies_received: int = Field(
        ge=0, description="Other members' real interactions replying to this member's messages."
    )
    mentions_received: int = Field(
        ge=0, description="Other members' real interactions @mentioning this member."
    )
    avg_text_length: float | None = Field(
        None, description="Mean characters of the member's real text messages (each counted "
        "up to 300); None without one."
    )
    positive_share: float | None = Field(
        None, description="Positive share of the member's scored real interactions; None "
        "without one."
    )
    scored_messages: int = Field(ge=0, description="Scored real interactions of the member.")
    invited_joins: int = Field(ge=0, description="Joins naming this member as inviter.")
    revision: int = Field(ge=0, description="Monotonic per key; highest wins.")

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.member_id}"


MEMBER_RECORDS: tuple[type[Record], ...] = (MemberStatusChange, MemberProfile)
