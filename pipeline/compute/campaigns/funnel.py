"""Exact distinct-person funnel counts per campaign: hour, local-day and whole-campaign windows.

Pure logic, no Kafka: the Faust agent applies a batch of funnel events to the
:class:`FunnelBook` (its in-memory view of the persons' records, rebuilt from
its table after every start), saves the changed records, and publishes
:func:`window_stats` of the windows :func:`touched_windows` names.

A person's record (:class:`PersonProgress`) holds, per step, the EARLIEST time
the person was seen there, and the first touch (the earliest event carrying a
channel).  Both are minimums, so applying an event is idempotent and does not
depend on order: a duplicate or a replay changes nothing, and events that arrive
out of order converge to the same record.  Every count is recomputed from the
records, so counts are exact distinct persons under at-least-once delivery.

Effective arrival: with ``implies_earlier``, a person who reached a later step
passed the earlier ones, at the latest when reaching that later step (a signup
whose poster click was not tracked still clicked); so the effective time at step
i is the earliest time seen at any step from i on.

Windows are ``(kind, start_ms)``: ``("hour", UTC hour start)``, ``("day", start
of a local day of the community calendar)`` and ``("campaign", 0)``.  A person
counts at step s in a window when the effective arrival at s lies in it; the
conversion into s is computed over the cohort that arrived at the previous step
in the window (whenever they reached s), so hour counts add up to day counts
and to the campaign's.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline.compute.campaigns.registry import CampaignSpec
from pipeline.compute.health.calendar import HOUR_MS, CommunityCalendar, hour_start_ms

HOUR = "hour"
DAY = "day"
CAMPAIGN = "campaign"
WINDOW_KINDS = (HOUR, DAY, CAMPAIGN)
ALL_CHANNELS = "*"
NO_CHANNEL = "(none)"
"""Channel of persons none of whose events carried one."""
RESERVED_CHANNEL = "(*)"
"""How a channel literally named ``*`` is reported, so it is not mixed up with all."""

Window = tuple[str, int]
PersonWire = list[Any]
Touch = tuple[int, str, str]
"""First touch: (event time ms, event id, channel)."""


class FunnelEventLike(Protocol):
    @property
    def ts(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...
    @property
    def campaign_id(self) -> str: ...
    @property
    def person_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def channel(self) -> str | None: ...


def to_millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def person_key(campaign_id: str, person_id: str) -> str:
    """Table key of one person's record in one campaign (campaign ids have no ``|``)."""
    return f"{campaign_id}|{person_id}"


def split_person_key(key: str) -> tuple[str, str]:
    campaign_id, _, person_id = key.partition("|")
    return campaign_id, person_id


@dataclass(slots=True)
class PersonProgress:
    """One person's progress in one campaign: minimums only, so merging is order-free."""

    reached: dict[str, int] = field(default_factory=dict)
    """Step -> earliest event time (ms) seen at that step."""
    touch: Touch | None = None
    """The smallest (ts_ms, event_id) among the person's events that carry a channel."""

    @property
    def channel(self) -> str | None:
        return None if self.touch is None else self.touch[2]

    def copy(self) -> PersonProgress:
        return PersonProgress(dict(self.reached), self.touch)

    def to_wire(self) -> PersonWire:
        """``[{step: ms}]``, or ``[{step: ms}, touch_ms, touch_event_id, channel]``; steps
        sorted, so equal records have equal JSON."""
        reached = {step: self.reached[step] for step in sorted(self.reached)}
        return [reached] if self.touch is None else [reached, *self.touch]

    @classmethod
    def from_wire(cls, data: PersonWire | None) -> PersonProgress:
        if not data:
            return cls()
        reached = {str(step): int(ms) for step, ms in data[0].items()}
        touch = (int(data[1]), str(data[2]), str(data[3])) if len(data) >= 4 else None
        return cls(reached, touch)


def apply_event(progress: PersonProgress, ts_ms: int, event_id: str, step: str,
                channel: str | None) -> bool:
    """Fold one event into ``progress``; True if it changed (False for duplicates)."""
    changed = False
    seen = progress.reached.get(step)
    if seen is None or ts_ms < seen:
        progress.reached[step] = ts_ms
        changed = True
    if channel:
        touch = (ts_ms, event_id, channel)
        if progress.touch is None or touch < progress.touch:
            progress.touch = touch
            changed = True
    return changed


def effective_times(progress: PersonProgress | None, steps: Sequence[str],
                    implies_earlier: bool) -> list[int | None]:
    """Effective arrival time (ms) at each step, None where the person has not arrived.
    Steps missing from ``steps`` are ignored."""
    if progress is None:
        return [None] * len(steps)
    reached = progress.reached
    if not implies_earlier:
        return [reached.get(step) for step in steps]
    times: list[int | None] = [None] * len(steps)
    earliest: int | None = None
    for index in range(len(steps) - 1, -1, -1):
        seen = reached.get(steps[index])
        if seen is not None and (earliest is None or seen < earliest):
            earliest = seen
        times[index] = earliest
    return times


def channel_label(channel: str | None) -> str:
    """The channel a person's stats are filed under: the first touch's, or ``(none)``."""
    if not channel:
        return NO_CHANNEL
    return RESERVED_CHANNEL if channel == ALL_CHANNELS else channel


def day_start_ms(calendar: CommunityCalendar, ts_ms: int) -> int:
    return calendar.day_bounds_ms(calendar.day_number(ts_ms))[0]


class FunnelBook:
    """Every person record of this worker's campaigns (an in-memory view of its table)."""

    def __init__(self) -> None:
        self.campaigns: dict[str, dict[str, PersonProgress]] = {}

    def load(self, items: Iterable[tuple[str, PersonWire]]) -> None:
        """Replace the view with a table's records, keyed by :func:`person_key`."""
        self.campaigns.clear()
        for key, wire in items:
            campaign_id, person_id = split_person_key(key)
            self.campaigns.setdefault(campaign_id, {})[person_id] = PersonProgress.from_wire(wire)

    def persons(self, campaign_id: str) -> dict[str, PersonProgress]:
        return self.campaigns.get(campaign_id, {})

    def apply(self, events: Iterable[FunnelEventLike],
              ) -> dict[str, dict[str, tuple[PersonProgress | None, PersonProgress]]]:
        """Fold events in; per campaign, per changed person: (a copy of the record before
        this batch, or None for a new person; the record now).  Unchanged persons (only
        duplicates or later sightings) are left out."""
        changes: dict[str, dict[str, tuple[PersonProgress | None, PersonProgress]]] = {}
        for event in events:
            persons = self.campaigns.setdefault(event.campaign_id, {})
            progress = persons.get(event.person_id)
            changed = changes.get(event.campaign_id, {})
            old: PersonProgress | None = None
            if progress is None:
                progress = persons[event.person_id] = PersonProgress()
            elif event.person_id not in changed:
                old = progress.copy()
            if apply_event(progress, to_millis(event.ts), event.event_id, event.step,
                           event.channel) and event.person_id not in changed:
                changes.setdefault(event.campaign_id, changed)[event.person_id] = (old, progress)
        return changes


def touched_windows(spec: CampaignSpec, calendar: CommunityCalendar,
                    old: PersonProgress | None, new: PersonProgress) -> set[Window]:
    """The windows whose stats may differ between ``old`` and ``new`` records of a person:
    those holding a changed effective time or the previous step's (its cohort's conversion
    and wait changed), the first step's when the last changed (overall conversion), all
    of the person's when the first-touch channel changed; and the campaign window."""
    steps = spec.step_names()
    before = effective_times(old, steps, spec.implies_earlier)
    after = effective_times(new, steps, spec.implies_earlier)
    times: set[int | None] = set()
    if old is None or channel_label(old.channel) != channel_label(new.channel):
        times.update(before, after)
    else:
        last = len(steps) - 1
        for index in range(len(steps)):
            if before[index] != after[index]:
                times.update((before[index], after[index]))
                if index > 0:
                    times.update((before[index - 1], after[index - 1]))
                if index == last:
                    times.update((before[0], after[0]))
    windows: set[Window] = {(CAMPAIGN, 0)}
    for ts_ms in times:
        if ts_ms is not None:
            windows.add((HOUR, hour_start_ms(ts_ms)))
            windows.add((DAY, day_start_ms(calendar, ts_ms)))
    return windows


@dataclass(frozen=True, slots=True)
class StepStats:
    step: str
    persons: int
    """Persons whose effective arrival at this step lies in the window."""
    conversion: float | None
    """Share of the previous step's window cohort who reached this step (at any time)."""
    median_seconds: float | None
    """Median wait from the previous step to this one, over that cohort's converted."""


@dataclass(frozen=True, slots=True)
class FunnelWindowStats:
    campaign_id: str
    channel: str
    """A channel label (:func:`channel_label`) or ``*`` for all persons."""
    kind: str
    start_ms: int
    end_ms: int
    """Exclusive; 0 (like ``start_ms``) for the campaign window."""
    steps: tuple[StepStats, ...]
    entered: int
    """Persons whose arrival at the first step lies in the window."""
    overall_conversion: float | None
    """Share of ``entered`` who reached the last step."""


@dataclass(slots=True)
class _Tally:
    persons: list[int]
    converted: list[int]
    waits: list[list[int]]
    completed: int = 0

    @classmethod
    def empty(cls, size: int) -> _Tally:
        return cls([0] * size, [0] * size, [[] for _ in range(size)])

    def stats(self, spec: CampaignSpec, channel: str, kind: str, start_ms: int,
              end_ms: int) -> FunnelWindowStats:
        names = spec.step_names()
        steps = [StepStats(names[0], self.persons[0], None, None)]
        for index in range(1, len(names)):
            cohort = self.persons[index - 1]
            waits = self.waits[index]
            steps.append(StepStats(
                names[index], self.persons[index],
                self.converted[index] / cohort if cohort else None,
                statistics.median(waits) / 1000 if waits else None))
        entered = self.persons[0]
        return FunnelWindowStats(
            spec.campaign_id, channel, kind, start_ms, end_ms, tuple(steps), entered,
            self.completed / entered if entered else None)


def window_stats(persons: dict[str, PersonProgress], spec: CampaignSpec,
                 calendar: CommunityCalendar, windows: set[Window]) -> list[FunnelWindowStats]:
    """Stats of the requested windows, for all persons (``*``, always emitted, so a count
    can go back to 0) and per channel (only channels with a person in the window), sorted
    by (kind, start_ms, channel).  One pass over the campaign's persons."""
    hours: set[int] = set()
    days: set[int] = set()
    whole = False
    for kind, start_ms in windows:
        if kind == HOUR:
            hours.add(start_ms)
        elif kind == DAY:
            days.add(start_ms)
        elif kind == CAMPAIGN and start_ms == 0:
            whole = True
        else:
            raise ValueError(f"unknown window {(kind, start_ms)!r}")

    names = spec.step_names()
    size = len(names)
    last = size - 1
    tallies: dict[tuple[str, int, str], _Tally] = {}
    day_of_hour: dict[int, int] = {}
    for progress in persons.values():
        times = effective_times(progress, names, spec.implies_earlier)
        channel = channel_label(progress.channel)
        for index, ts_ms in enumerate(times):
            if ts_ms is None:
                continue
            targets: list[Window] = [(CAMPAIGN, 0)] if whole else []
            if hours or days:
                hour = hour_start_ms(ts_ms)
                if hour in hours:
                    targets.append((HOUR, hour))
                if days:
                    day = day_of_hour.get(hour)
                    if day is None:  # whole-hour zones: an hour lies in one local day
                        day = day_of_hour[hour] = day_start_ms(calendar, hour)
                    if day in days:
                        targets.append((DAY, day))
            if not targets:
                continue
            following = times[index + 1] if index < last else None
            completed = index == 0 and times[last] is not None
            for kind, start_ms in targets:
                for label in (ALL_CHANNELS, channel):
                    tally = tallies.get((kind, start_ms, label))
                    if tally is None:
                        tally = tallies[(kind, start_ms, label)] = _Tally.empty(size)
                    tally.persons[index] += 1
                    if following is not None:
                        tally.converted[index + 1] += 1
                        tally.waits[index + 1].append(max(0, following - ts_ms))
                    tally.completed += completed

    for kind, start_ms in windows:
        tallies.setdefault((kind, start_ms, ALL_CHANNELS), _Tally.empty(size))
    results = []
    for (kind, start_ms, label) in sorted(tallies):
        results.append(tallies[(kind, start_ms, label)].stats(
            spec, label, kind, start_ms, _window_end(calendar, kind, start_ms)))
    return results


def _window_end(calendar: CommunityCalendar, kind: str, start_ms: int) -> int:
    if kind == HOUR:
        return start_ms + HOUR_MS
    if kind == DAY:
        return calendar.day_bounds_ms(calendar.day_number(start_ms))[1]
    return 0
