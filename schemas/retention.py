"""Output records about join cohorts: how many of a day's new members stay and stay active
(docs/metrics.md, "Retention cohorts")."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Record

MAX_CHANNELS = 20
"""Distinct join channels kept per community; later ones are counted as ``other``."""
CHANNEL_DESCRIPTION = (
    "* for the whole cohort; otherwise the channel of the members' first join (the event's "
    "channel, else its QR code id), (none) without either, other beyond the community's "
    f"first {MAX_CHANNELS} channels."
)
RETAINED = (
    " Members of the cohort present at the end of local day cohort_day + {n} and active "
    "(a real interaction, as for DAU) that day; None until that day has closed."
)
RATE = " retained_d{n} / cohort_size; None until that day has closed."


class CommunityRetentionCohort(Record):
    """The members who first joined a community on one local day, and how many of them are
    still there and active 1, 7 and 30 days later: the whole cohort (channel ``*``) and per
    join channel.

    Keyed ``<community_id>|<cohort_day>|<channel>`` on a compacted topic; consumers keep
    the highest ``revision``.  Published when the cohort's day closes and again when day
    1, 7 and 30 after it close; final after day 30.
    """

    record_name = "community_retention_cohort"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    community_id: Identifier = Field(description="Community the members joined.")
    cohort_day: date = Field(
        description="Local day (the community zone, Asia/Shanghai by default) of the members' "
        "first join event in this community."
    )
    timezone: str = Field(description="Zone whose midnights bound the days.")
    channel: str = Field(description=CHANNEL_DESCRIPTION)
    cohort_size: int = Field(ge=1, description="Members whose first join was that day.")
    retained_d1: int | None = Field(None, ge=0, description=RETAINED.format(n=1).strip())
    retained_d7: int | None = Field(None, ge=0, description=RETAINED.format(n=7).strip())
    retained_d30: int | None = Field(None, ge=0, description=RETAINED.format(n=30).strip())
    retention_d1: float | None = Field(None, description="Next-day retention:" + RATE.format(n=1))
    retention_d7: float | None = Field(
        None, description="Day-7 retention (target > 0.6):" + RATE.format(n=7)
    )
    retention_d30: float | None = Field(None, description="Day-30 retention:" + RATE.format(n=30))
    is_final: bool = Field(description="True once day 30 after the cohort has closed.")
    revision: int = Field(ge=0, description="Monotonic per key; highest wins.")

    @property
    def key(self) -> str:
        return f"{self.community_id}|{self.cohort_day.isoformat()}|{self.channel}"


RETENTION_RECORDS: tuple[type[Record], ...] = (CommunityRetentionCohort,)
