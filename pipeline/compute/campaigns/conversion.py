"""Conversion alerts: a funnel transition confidently below its target, on matured cohorts.

For a transition a -> b judged at event-time watermark W, the cohort is the persons
whose effective arrival at a is at least ``settle_ms_of(b)`` before W: they have had
the time to reach b, so one who has not counts as not converted.  Persons who arrived
later are left out rather than counted as failures, or every burst of fresh sign-ups
would look like a drop in conversion.

A transition is judged only when the cohort holds ``min_entered`` persons and step b
started at least its settle time before W (somebody reached it by W - settle):
reminders, for one, go out in one batch shortly before the live session, and until
that batch is over most of the cohort cannot have converted yet.

An alert opens when the Wilson score upper bound of the conversion (at
``confidence_z``) is below the target: the step is confidently weak, so a small cohort
of a healthy step (50 people at 87% against 85%) rarely alerts by chance.  It
resolves when the point estimate is back at the target.  Between the two it stays as
it is (hysteresis), so a rate hovering near the target does not flap.

Alert ids are deterministic (campaign, transition, number of the opening), so a
replay after a crash produces the same ids and downstream deduplication holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.compute.campaigns.funnel import PersonProgress, effective_times
from pipeline.compute.campaigns.registry import CampaignSpec

Status = Literal["open", "resolved"]


def transition_key(a: str, b: str) -> str:
    return f"{a}->{b}"


def wilson_upper(converted: int, entered: int, z: float) -> float:
    """Upper bound of the Wilson score interval of ``converted / entered`` (1 when empty)."""
    if entered <= 0:
        return 1.0
    p = converted / entered
    z2 = z * z
    center = p + z2 / (2 * entered)
    margin = z * math.sqrt(p * (1 - p) / entered + z2 / (4 * entered * entered))
    return min(1.0, (center + margin) / (1 + z2 / entered))


@dataclass(slots=True)
class OpenAlert:
    alert_id: str
    opened_ms: int
    """Watermark at which the alert opened."""
    entered: int
    """Cohort size and conversions when it opened."""
    converted: int

    def to_wire(self) -> list[Any]:
        return [self.alert_id, self.opened_ms, self.entered, self.converted]

    @classmethod
    def from_wire(cls, data: list[Any]) -> OpenAlert:
        return cls(str(data[0]), int(data[1]), int(data[2]), int(data[3]))


@dataclass(slots=True)
class ConversionAlerts:
    """One campaign's alert state: open alerts and opening counts per transition ``a->b``.
    It changes only when :func:`judge` reports a change, so it need only be saved then."""

    open: dict[str, OpenAlert] = field(default_factory=dict)
    openings: dict[str, int] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"open": {key: self.open[key].to_wire() for key in sorted(self.open)},
                "n": {key: self.openings[key] for key in sorted(self.openings)}}

    @classmethod
    def from_wire(cls, data: dict[str, Any] | None) -> ConversionAlerts:
        if not data:
            return cls()
        return cls({str(key): OpenAlert.from_wire(value)
                    for key, value in data.get("open", {}).items()},
                   {str(key): int(value) for key, value in data.get("n", {}).items()})


@dataclass(frozen=True, slots=True)
class ConversionChange:
    campaign_id: str
    transition: tuple[str, str]
    alert_id: str
    status: Status
    entered: int
    converted: int
    rate: float
    upper_bound: float
    threshold: float
    watermark_ms: int
    opened_ms: int


@dataclass(slots=True)
class _Cohort:
    entered: int = 0
    converted: int = 0
    started: bool = False


def cohorts(spec: CampaignSpec, persons: dict[str, PersonProgress],
            watermark_ms: int) -> list[tuple[str, str, int, int, bool]]:
    """Per transition: (a, b, entered, converted, started): b "started" when somebody
    reached it at least its settle time before the watermark, so a step reached by
    everyone at about the same time (reminders sent in one batch, entries to the live
    session) is judged only once it is over, never while it is still under way."""
    names = spec.step_names()
    cutoffs = [watermark_ms - spec.settle_ms_of(step) for step in names]
    tallies = [_Cohort() for _ in names]
    for progress in persons.values():
        times = effective_times(progress, names, spec.implies_earlier)
        for index in range(1, len(names)):
            previous, current = times[index - 1], times[index]
            tally = tallies[index]
            if current is not None and current <= cutoffs[index]:
                tally.started = True
            if previous is not None and previous <= cutoffs[index]:
                tally.entered += 1
                tally.converted += current is not None
    return [(names[i - 1], names[i], tallies[i].entered, tallies[i].converted,
             tallies[i].started) for i in range(1, len(names))]


def judge(spec: CampaignSpec, persons: dict[str, PersonProgress], watermark_ms: int,
          alerts: ConversionAlerts) -> list[ConversionChange]:
    """Judge every transition of the campaign at ``watermark_ms``; update ``alerts`` and
    return what opened or resolved (nothing while a breach merely continues)."""
    changes = []
    for a, b, entered, converted, started in cohorts(spec, persons, watermark_ms):
        if entered < spec.min_entered or not started:
            continue
        key = transition_key(a, b)
        threshold = spec.threshold_of(b)
        rate = converted / entered
        upper = wilson_upper(converted, entered, spec.confidence_z)
        current = alerts.open.get(key)
        if current is None and upper < threshold:
            number = alerts.openings.get(key, 0) + 1
            alerts.openings[key] = number
            current = alerts.open[key] = OpenAlert(
                f"{spec.campaign_id}|{key}|{number}", watermark_ms, entered, converted)
            status: Status = "open"
        elif current is not None and rate >= threshold:
            del alerts.open[key]
            status = "resolved"
        else:
            continue
        changes.append(ConversionChange(
            spec.campaign_id, (a, b), current.alert_id, status, entered, converted, rate, upper,
            threshold, watermark_ms, current.opened_ms))
    return changes
