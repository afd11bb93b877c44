"""Feeding hour records to the anomaly detector (:mod:`pipeline.compute.anomaly`).

Per community and metric one :class:`Baseline`.  Each batch's hour records of
a community are judged in time order: an open hour with the share of it the
chat watermark has covered (a partial value, compared pro rata, so a burst
shows within minutes), a closed hour with its final value.  Hours that closed
without a single event are silent and get a final zero, otherwise a group
falling quiet would never be seen: every hour up to the fold horizon is
judged once as final, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime

from pipeline.compute.activity import to_millis
from pipeline.compute.anomaly import (
    HOUR_MS,
    METRICS_BY_NAME,
    AnomalyRecord,
    Baseline,
    SeasonCalendar,
    anomaly_record,
    observe,
)
from schemas.outputs import CommunityAnomaly, CommunityHourActivity

HOUR_METRICS: dict[str, Callable[[CommunityHourActivity], tuple[float, float | None]]] = {
    "active_members": lambda r: (r.active_members, None),
    "messages": lambda r: (r.messages, None),
    "leaves": lambda r: (r.leaves + r.removals, None),
    "joins": lambda r: (r.joins, None),
    "negative_share": lambda r: (r.negative_messages / r.scored_messages
                                 if r.scored_messages else 0.0, r.scored_messages),
}
"""Metric -> (value, denominator) of an hour record: four counts and one share."""

MAX_SILENT_HOURS = 24 * 31
"""Silent hours filled at most at once: a community quiet for longer restarts its series."""


def baseline_key(community_id: str, metric: str) -> str:
    return f"{community_id}|{metric}"


def judge_community(
    baselines: MutableMapping[str, Baseline],
    community_id: str,
    records: Iterable[CommunityHourActivity],
    horizon_ms: int,
    fraction_of: Callable[[int], float],
    calendar: SeasonCalendar,
) -> list[AnomalyRecord]:
    """Judge a community's hour records (any order) and its silent hours up to the horizon.

    ``baselines`` maps metric -> state (updated in place); ``fraction_of(hour start)``
    says how much of an open hour the watermark covers.
    """
    by_start = sorted(records, key=lambda r: (r.window_start, r.is_final))
    found: list[AnomalyRecord] = []
    for metric, value_of in HOUR_METRICS.items():
        series = _Series(baselines.setdefault(metric, Baseline()), metric, community_id,
                         calendar, found)
        for record in by_start:
            start = to_millis(record.window_start)
            value, denominator = value_of(record)
            if record.is_final:
                series.fill_silent(start)
                series.judge(start, value, 1.0, True, denominator)
            else:
                fraction = min(1.0, fraction_of(start))
                if fraction > 0:
                    series.judge(start, value, fraction, False, denominator)
        series.fill_silent(horizon_ms - horizon_ms % HOUR_MS)
    return found


class _Series:
    """One (community, metric): judge values, collect the alerts they call for."""

    def __init__(self, state: Baseline, metric: str, community_id: str,
                 calendar: SeasonCalendar, found: list[AnomalyRecord]) -> None:
        self.state, self.spec = state, METRICS_BY_NAME[metric]
        self.community_id, self.calendar, self.found = community_id, calendar, found

    def judge(self, hour_ms: int, value: float, fraction: float, final: bool,
              denominator: float | None = None) -> None:
        if self.spec.kind == "ratio" and denominator is None:
            denominator = 0.0
        if self.state.last_final_ms is None and not (denominator if self.spec.kind == "ratio"
                                                     else value):
            return  # the series starts with its first non-zero hour, not with the hours of
            # a backfilled member history before any chat (a week of zeros would "warm" it)
        verdict = observe(self.state, self.spec, hour_ms, value, fraction, final, denominator,
                          calendar=self.calendar)
        record = anomaly_record(self.community_id, verdict)
        if record is not None:
            self.found.append(record)

    def fill_silent(self, until_ms: int) -> None:
        """Final zeros for the hours after the last final one and before ``until_ms``."""
        last = self.state.last_final_ms
        if last is None:
            return
        first = max(last + HOUR_MS, until_ms - MAX_SILENT_HOURS * HOUR_MS)
        for hour_ms in range(first, until_ms, HOUR_MS):
            self.judge(hour_ms, 0, 1.0, True)


def to_anomaly(record: AnomalyRecord) -> CommunityAnomaly:
    return CommunityAnomaly(
        anomaly_id=record.anomaly_id, community_id=record.community_id,
        metric=record.metric,  # type: ignore[arg-type]
        direction=record.direction, status=record.status,
        window_start=_utc(record.window_start_ms), window_end=_utc(record.window_end_ms),
        expected=round(record.expected, 4), observed=round(record.observed, 4),
        deviation=round(record.deviation, 3), fraction=round(record.fraction, 4),
        severity=record.severity, revision=1 if record.status == "open" else 2,
    )


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
