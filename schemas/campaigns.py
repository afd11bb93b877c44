"""Output records of campaigns and sales: funnels, conversion alerts, order totals.

Amounts are integer 分 (CNY/100), never floats.  Definitions: docs/metrics.md,
"Campaigns and sales".
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Record

FunnelWindow = Literal["hour", "day", "campaign"]
Phase = Literal["warm_up", "peak", "continuation", "outside", "unphased", "all"]
PHASE_DESCRIPTION = (
    "Campaign phase of the window's local day (registry peak day: warm_up the days before, "
    "peak, continuation the days after, outside otherwise; unphased without a peak day); "
    "all for whole-campaign windows."
)


class FunnelStepStats(Record):
    """One step of a funnel window."""

    record_name = "funnel_step_stats"

    step: str = Field(description="Step name, in the campaign's order.")
    persons: int = Field(
        ge=0, description="Distinct persons whose (effective) arrival at the step lies in the "
        "window; for the campaign window everyone who reached it."
    )
    conversion: float | None = Field(
        description="Of the persons who arrived at the previous step in the window, the share "
        "who reached this one (at any time). None for the first step or an empty cohort."
    )
    median_seconds: float | None = Field(
        description="Median time from the previous step to this one over that cohort's "
        "converted persons."
    )
    threshold: float = Field(description="Conversion target of the step (registry).")


class CampaignFunnel(Record):
    """Distinct persons per step of one campaign, channel and window.

    Keyed ``<campaign_id>|<channel>|<window>|<window_start or all>`` on a compacted
    topic; consumers keep the highest ``revision``.
    """

    record_name = "campaign_funnel"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    campaign_id: Identifier = Field(description="Campaign (活动) id.")
    campaign_name: str = Field(description="Name from the campaign registry ('' if unknown).")
    registered: bool = Field(description="False: not in the registry, default steps applied.")
    channel: str = Field(
        description="First-touch channel of the persons counted; * for all channels, "
        "(none) for persons whose events carry no channel."
    )
    window: FunnelWindow = Field(description="hour (UTC-aligned), day (local) or campaign.")
    window_start: datetime | None = Field(description="Window start, UTC; None for campaign.")
    window_end: datetime | None = Field(description="Window end (exclusive); None for campaign.")
    phase: Phase = Field(description=PHASE_DESCRIPTION)
    entered: int = Field(ge=0, description="Persons who arrived at the first step in the window.")
    overall_conversion: float | None = Field(
        description="Of those, the share who reached the last step; None if none entered."
    )
    steps: list[FunnelStepStats] = Field(description="Every step of the campaign, in order.")
    revision: int = Field(ge=0, description="Monotonic per key; highest wins.")

    @property
    def key(self) -> str:
        start = self.window_start.isoformat() if self.window_start else "all"
        return f"{self.campaign_id}|{self.channel}|{self.window}|{start}"


class ConversionAlert(Record):
    """A funnel step converting below its target: opened once, resolved when it recovers.

    Keyed ``alert_id`` (``<campaign_id>|<from>-><to>|<n>``, n counting openings);
    consumers keep the highest ``revision`` (1 opened, 2 resolved).
    """

    record_name = "campaign_conversion_alert"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    alert_id: str = Field(description="Stable id: campaign, transition and opening count.")
    campaign_id: Identifier = Field(description="Campaign whose step converts badly.")
    campaign_name: str = Field(description="Name from the campaign registry.")
    from_step: str = Field(description="Step the cohort entered.")
    to_step: str = Field(description="Step they should have reached.")
    status: Literal["open", "resolved"] = Field(description="open, or resolved (recovered).")
    entered: int = Field(ge=0, description="Persons in the matured cohort of from_step.")
    converted: int = Field(ge=0, description="Of them, persons who reached to_step.")
    rate: float = Field(ge=0, le=1, description="converted / entered.")
    upper_bound: float = Field(
        ge=0, le=1, description="Wilson upper confidence bound of the rate; opened when below "
        "the threshold (confidently below target)."
    )
    threshold: float = Field(description="The step's conversion target.")
    opened_at: datetime = Field(description="Event-time watermark when it opened, UTC.")
    evaluated_at: datetime = Field(description="Event-time watermark of this evaluation, UTC.")
    revision: int = Field(ge=1, description="1 when opened, 2 when resolved; highest wins.")

    @property
    def key(self) -> str:
        return self.alert_id


SalesDimension = Literal["all", "community", "campaign", "channel", "first_touch", "last_touch",
                         "inviter"]
DIMENSION_DESCRIPTION = (
    "all; community, campaign or channel (the order's own attributes); first_touch / "
    "last_touch: attribution, value '<campaign or ->|<channel>' of the touch a join, "
    "participation or order is credited to; inviter: fission, value "
    "'<campaign or *>|<inviter member id>'. Rules: docs/metrics.md."
)
SalesWindow = Literal["hour", "day", "all"]


class SalesTotals(Record):
    """Orders, GMV and buyers of one dimension value and window (hour, local day, all time);
    attribution (joins, participants, orders and GMV credited to the first or last touch)
    and fission (invited joins per inviter) in their own dimensions.

    Keyed ``<dimension>|<dimension_value>|<window>|<window_start or all>`` on a compacted topic;
    consumers keep the highest ``revision``.  Idempotent by order id: a duplicated
    order or a replay never counts twice.
    """

    record_name = "sales_totals"

    schema_version: Literal[1] = Field(1, description="Schema version of this record.")
    dimension: SalesDimension = Field(description=DIMENSION_DESCRIPTION)
    dimension_value: str = Field(description="The community, campaign, channel, attributed "
                                 "campaign|channel or campaign|inviter; * for all.")
    window: SalesWindow = Field(description="hour (UTC-aligned), day (local) or all (cumulative).")
    window_start: datetime | None = Field(description="Window start, UTC; None for all.")
    phase: Phase | None = Field(
        None, description="Campaign rows of hour and day windows: the campaign's phase that "
        "day (registry peak day); None otherwise."
    )
    orders: int = Field(ge=0, description="Paid orders with payment time in the window.")
    gmv_fen: int = Field(ge=0, description="Sum of their amounts, 分.")
    refunds: int = Field(ge=0, description="Refunds matched to an order, by refund time.")
    refund_fen: int = Field(ge=0, description="Their amounts, each capped at its order's.")
    net_gmv_fen: int = Field(description="gmv_fen - refund_fen.")
    refunds_capped: int = Field(ge=0, description="Refunds larger than their order (capped).")
    unmatched_refunds: int = Field(
        ge=0, description="Refunds whose order is unknown (dimension all only); not in net GMV."
    )
    unmatched_refund_fen: int = Field(ge=0, description="Their amounts, 分.")
    paying_members: int = Field(ge=0, description="Distinct members with a paid order.")
    repeat_members: int = Field(ge=0, description="Distinct members with >= 2 paid orders.")
    aov_fen: int | None = Field(description="gmv_fen / orders, rounded half to even.")
    repurchase_rate: float | None = Field(description="repeat_members / paying_members.")
    joins: int = Field(0, ge=0, description="Attribution rows: community joins credited.")
    invited_joins: int = Field(
        0, ge=0, description="Attribution and inviter rows: joins with an inviter (裂变)."
    )
    participants: int = Field(
        0, ge=0, description="Attribution rows: persons who reached a campaign's "
        "participation step, credited."
    )
    revision: int = Field(ge=0, description="Monotonic per key; highest wins.")

    @property
    def key(self) -> str:
        start = self.window_start.isoformat() if self.window_start else "all"
        return f"{self.dimension}|{self.dimension_value}|{self.window}|{start}"


CAMPAIGN_RECORDS: tuple[type[Record], ...] = (CampaignFunnel, ConversionAlert, SalesTotals)
