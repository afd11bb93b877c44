"""Output records about members over time: silence status changes (docs/metrics.md,
"Silent members")."""

from __future__ import annotations

from datetime import datetime
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


MEMBER_RECORDS: tuple[type[Record], ...] = (MemberStatusChange,)
