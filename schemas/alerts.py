"""Sentiment alerts: incidents graded mild / moderate / severe, and their lifecycle.

An *incident* is one negative episode in one community (possibly spreading to
others).  Every change of an incident (opened, upgraded, updated, acknowledged,
escalated, resolved, followed up) is published as one :class:`Alert` record
with a higher ``revision``; consumers keep the latest revision per
``incident_id``.  Commands (:class:`IncidentCommand`) are how moderators,
timers and the spread detector ask for a change; the incident agent is the
only writer of incident state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Record

Tier = Literal["mild", "moderate", "severe"]
"""轻度 (customer service) / 中度 (cross-department) / 重度 (crisis PR + management)."""

TIERS: tuple[Tier, ...] = ("mild", "moderate", "severe")
TIER_NAMES_ZH: dict[str, str] = {"mild": "轻度", "moderate": "中度", "severe": "重度"}

AlertStatus = Literal["open", "acknowledged", "resolved", "followed_up"]
"""受理前 open → acknowledged (受理) → resolved (解决) → followed_up (回访)."""

AlertEvent = Literal[
    "opened", "upgraded", "updated", "acknowledged", "escalated", "resolved", "followed_up"
]

CommandKind = Literal["acknowledge", "resolve", "follow_up", "escalate", "spread"]


class Excerpt(Record):
    """One representative message, masked and shortened: enough to act on, no more."""

    record_name = "alert_excerpt"

    message_id: Identifier = Field(description="Message id (to find it in the group).")
    member_ref: str = Field(description="Pseudonymous member reference (hash), not the id.")
    ts: datetime = Field(description="Event time of the message.")
    text: str = Field(max_length=300, description="Message text, personal data masked.")
    score: float = Field(ge=0, le=1, description="P(positive): 0 = very negative.")
    terms: list[str] = Field(default_factory=list, description="Lexicon terms matched.")


class SlaDeadlines(Record):
    """Deadlines from the operations rules (docs/product.md, "SLAs")."""

    record_name = "alert_sla"

    respond_by: datetime = Field(description="Respond to negative feedback within 3 h.")
    close_loop_by: datetime = Field(description="受理→解决→回访 closed within 48 h.")
    statement_by: datetime | None = Field(
        None, description="Official statement within 24 h (severe incidents only)."
    )


class Alert(Record):
    """The state of one incident after one change; published on the alerts topic."""

    record_name = "sentiment_alert"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    incident_id: Identifier = Field(description="Stable id of the incident.")
    revision: int = Field(ge=1, description="Monotonic per incident; highest wins.")
    event: AlertEvent = Field(description="The change this record reports.")
    tier: Tier = Field(description="Current severity tier.")
    status: AlertStatus = Field(description="Lifecycle status.")
    community_id: Identifier = Field(description="Community where the incident started.")
    community_ids: list[Identifier] = Field(
        description="Every community involved (spread), the origin first."
    )
    window_start: datetime = Field(description="Event time of the first negative message.")
    window_end: datetime = Field(description="Event time of the latest negative message.")
    opened_at: datetime = Field(description="When the incident was opened (event time).")
    updated_at: datetime = Field(description="When this revision was produced (event time).")
    reasons: list[str] = Field(description="Why this tier, in plain words (中文/English).")
    matched_terms: list[str] = Field(description="Complaint / crisis terms seen.")
    negative_messages: int = Field(ge=0, description="Negative messages in the incident.")
    members: int = Field(ge=0, description="Distinct members who posted them.")
    min_score: float = Field(ge=0, le=1, description="Lowest sentiment score seen.")
    mean_score: float = Field(ge=0, le=1, description="Mean sentiment of negative messages.")
    heat: int = Field(ge=0, description="Replies and @mentions the negative messages drew.")
    excerpts: list[Excerpt] = Field(description="Up to 5 representative masked messages.")
    sla: SlaDeadlines = Field(description="Response, loop-closing and statement deadlines.")
    escalations: int = Field(0, ge=0, description="Times escalated for a missed deadline.")
    acknowledged_by: str | None = Field(None, description="Moderator who acknowledged.")
    acknowledged_at: datetime | None = Field(None, description="When it was acknowledged.")
    resolved_by: str | None = Field(None, description="Who resolved it.")
    resolved_at: datetime | None = Field(None, description="When it was resolved.")
    followed_up_by: str | None = Field(None, description="Who did the follow-up (回访).")
    followed_up_at: datetime | None = Field(None, description="When the follow-up happened.")
    notes: list[str] = Field(default_factory=list, description="Moderator notes, in order.")


class IncidentCommand(Record):
    """A request to change an incident, keyed by community id on the commands topic."""

    record_name = "incident_command"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    command_id: Identifier = Field(description="Unique id: replays of a command are ignored.")
    kind: CommandKind = Field(description="What to do.")
    incident_id: Identifier | None = Field(
        None, description="Target incident (None for spread: the community's open incident)."
    )
    community_id: Identifier = Field(description="Community owning the incident (the key).")
    actor: str = Field(max_length=64, description="Moderator name, or 'system'.")
    note: str = Field("", max_length=1000, description="Free text (masked before storage).")
    issued_at: datetime = Field(description="When the command was issued.")
    related_communities: list[Identifier] = Field(
        default_factory=list, description="For spread: the other communities involved."
    )
    terms: list[str] = Field(default_factory=list, description="For spread: shared terms.")


ALERT_RECORDS: tuple[type[Record], ...] = (Alert, IncidentCommand)
