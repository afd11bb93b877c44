"""Funnel statistics and conversion changes as the published records."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.compute.campaigns.conversion import ConversionChange
from pipeline.compute.campaigns.funnel import FunnelWindowStats
from pipeline.compute.campaigns.registry import CampaignSpec
from pipeline.compute.health.calendar import CommunityCalendar
from schemas.campaigns import CampaignFunnel, ConversionAlert, FunnelStepStats


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def window_phase(stats: FunnelWindowStats, spec: CampaignSpec,
                 calendar: CommunityCalendar) -> str:
    """The campaign phase of the window's local day ("all" for the whole campaign)."""
    if stats.kind == "campaign":
        return "all"
    return spec.phase_of_day(calendar.local(stats.start_ms).date())


def funnel_record(stats: FunnelWindowStats, spec: CampaignSpec, calendar: CommunityCalendar,
                  revision: int) -> CampaignFunnel:
    whole = stats.kind == "campaign"
    return CampaignFunnel(
        campaign_id=stats.campaign_id, campaign_name=spec.name, registered=spec.registered,
        channel=stats.channel, window=stats.kind,
        window_start=None if whole else _time(stats.start_ms),
        window_end=None if whole else _time(stats.end_ms),
        phase=window_phase(stats, spec, calendar), entered=stats.entered,
        overall_conversion=stats.overall_conversion,
        steps=[FunnelStepStats(step=s.step, persons=s.persons, conversion=s.conversion,
                               median_seconds=s.median_seconds,
                               threshold=spec.threshold_of(s.step))
               for s in stats.steps],
        revision=revision,
    )


def conversion_alert(change: ConversionChange, spec: CampaignSpec) -> ConversionAlert:
    from_step, to_step = change.transition
    return ConversionAlert(
        alert_id=change.alert_id, campaign_id=change.campaign_id, campaign_name=spec.name,
        from_step=from_step, to_step=to_step, status=change.status, entered=change.entered,
        converted=change.converted, rate=change.rate, upper_bound=change.upper_bound,
        threshold=change.threshold, opened_at=_time(change.opened_ms),
        evaluated_at=_time(change.watermark_ms),
        revision=1 if change.status == "open" else 2,
    )
