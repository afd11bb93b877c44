"""How good the anomaly detector is on a labelled series: false alerts and detections.

Pure (no clock, no I/O) so that tests and benchmarks measure the same way.
A community's series is replayed through :func:`pipeline.compute.anomaly.observe`
as the pipeline would feed it: each hour's running value at every step it was
sampled (a partial hour), then its final value.  The caller labels what it
injected; every opening is matched against those windows:

- an opening at time *t* (the hour start plus the fraction it had seen) of
  metric *m* is *true* when a window for *m* (or for any metric) has
  ``start <= t < end + grace``; otherwise it is a *false alert*;
- a window is *detected* by its earliest true opening, with latency ``t - start``
  (an anomaly already open when the window starts does not count: the
  detector would not alert again);
- false alerts are reported per community-week of *armed* hours (hours in
  which at least one metric was past warm-up), so warm-up does not flatter
  the rate; a *reopening* is an opening of a metric within ``flap_ms`` of
  its last resolution (flapping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.compute.anomaly import (
    DEFAULT_CALENDAR,
    HEALTH_METRICS,
    HOUR_MS,
    Baseline,
    MetricSpec,
    SeasonCalendar,
    observe,
)

WEEK_HOURS = 168
BUDGET_MS = 15 * 60_000
"""Detection target: within 15 minutes of onset."""


@dataclass(frozen=True, slots=True)
class HourFeed:
    """One hour as the detector sees it.

    ``running[i]`` is the value after ``(i + 1) / len(running)`` of the hour;
    the last one is the final value.  ``denominators`` likewise (ratios only).
    """

    hour_start_ms: int
    running: tuple[float, ...]
    denominators: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Injected:
    """A labelled anomaly: ``[start_ms, end_ms)`` of one metric (None: any metric)."""

    start_ms: int
    end_ms: int
    metric: str | None = None


@dataclass(frozen=True, slots=True)
class Opening:
    metric: str
    at_ms: int
    deviation: float
    true: bool


@dataclass(slots=True)
class Quality:
    """Counts that add up across communities (:meth:`merged`), and the rates they give."""

    armed_hours: int = 0
    false_alerts: int = 0
    injected: int = 0
    detected: int = 0
    detected_in_budget: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    openings: int = 0
    resolutions: int = 0
    reopenings: int = 0
    budget_ms: int = BUDGET_MS

    @property
    def community_weeks(self) -> float:
        return self.armed_hours / WEEK_HOURS

    @property
    def false_per_community_week(self) -> float:
        weeks = self.community_weeks
        return self.false_alerts / weeks if weeks else 0.0

    @property
    def detection_rate(self) -> float:
        return self.detected / self.injected if self.injected else 0.0

    @property
    def in_budget_rate(self) -> float:
        return self.detected_in_budget / self.injected if self.injected else 0.0

    def latency_quantile(self, q: float) -> int | None:
        """A quantile of detection latency (nearest rank), None without detections."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    def merged(self, other: Quality) -> Quality:
        return Quality(
            self.armed_hours + other.armed_hours, self.false_alerts + other.false_alerts,
            self.injected + other.injected, self.detected + other.detected,
            self.detected_in_budget + other.detected_in_budget,
            self.latencies_ms + other.latencies_ms, self.openings + other.openings,
            self.resolutions + other.resolutions, self.reopenings + other.reopenings,
            self.budget_ms,
        )

    def summary(self) -> dict[str, float | int | None]:
        return {
            "community_weeks": round(self.community_weeks, 2),
            "false_alerts": self.false_alerts,
            "false_per_community_week": round(self.false_per_community_week, 3),
            "injected": self.injected,
            "detection_rate": round(self.detection_rate, 3),
            "in_budget_rate": round(self.in_budget_rate, 3),
            "median_latency_ms": self.latency_quantile(0.5),
            "p90_latency_ms": self.latency_quantile(0.9),
            "reopenings": self.reopenings,
        }


def merge(qualities: Iterable[Quality]) -> Quality:
    total = Quality()
    for quality in qualities:
        total = total.merged(quality)
    return total


def evaluate_community(
    feeds: Mapping[str, Sequence[HourFeed]],
    injected: Sequence[Injected] = (),
    specs: Sequence[MetricSpec] = HEALTH_METRICS,
    *,
    community_id: str = "community",
    budget_ms: int = BUDGET_MS,
    grace_ms: int = HOUR_MS,
    flap_ms: int = 3 * HOUR_MS,
    calendar: SeasonCalendar = DEFAULT_CALENDAR,
) -> Quality:
    """Replay one community's metrics (name -> hours, in order) and score the alerts."""
    armed: set[int] = set()
    openings: list[Opening] = []
    quality = Quality(budget_ms=budget_ms)
    for spec in specs:
        hours = feeds.get(spec.name)
        if not hours:
            continue
        state = Baseline()
        resolved_at: int | None = None
        for hour in hours:
            steps = len(hour.running)
            for i, value in enumerate(hour.running):
                final = i == steps - 1
                fraction = (i + 1) / steps
                denominator = None if hour.denominators is None else hour.denominators[i]
                verdict = observe(state, spec, hour.hour_start_ms, value, fraction, final,
                                  denominator, calendar)
                at_ms = hour.hour_start_ms + round(fraction * HOUR_MS)
                if final and verdict.warm:
                    armed.add(hour.hour_start_ms)
                if verdict.event == "opened":
                    true = any(_matches(window, spec.name, at_ms, grace_ms)
                               for window in injected)
                    openings.append(Opening(spec.name, at_ms, verdict.deviation, true))
                    if resolved_at is not None and at_ms - resolved_at <= flap_ms:
                        quality.reopenings += 1
                elif verdict.event == "resolved":
                    quality.resolutions += 1
                    resolved_at = at_ms
    quality.armed_hours = len(armed)
    quality.openings = len(openings)
    quality.false_alerts = sum(not opening.true for opening in openings)
    quality.injected = len(injected)
    for window in injected:
        times = [o.at_ms for o in openings
                 if o.true and _matches(window, o.metric, o.at_ms, grace_ms)]
        if times:
            latency = min(times) - window.start_ms
            quality.detected += 1
            quality.latencies_ms.append(latency)
            quality.detected_in_budget += latency <= budget_ms
    return quality


def _matches(window: Injected, metric: str, at_ms: int, grace_ms: int) -> bool:
    return (window.metric in (None, metric)
            and window.start_ms <= at_ms < window.end_ms + grace_ms)
