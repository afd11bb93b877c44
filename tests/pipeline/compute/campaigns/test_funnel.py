"""Funnel records and window stats: idempotent records, exact counts against a brute force."""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.compute.campaigns.funnel import (
    FunnelBook,
    FunnelWindowStats,
    PersonProgress,
    apply_event,
    effective_times,
    person_key,
    split_person_key,
    touched_windows,
    window_stats,
)
from pipeline.compute.campaigns.registry import CampaignSpec
from pipeline.compute.health.calendar import CommunityCalendar
from schemas.events import FUNNEL_STEPS

H = 3_600_000
BASE = datetime(2025, 4, 27, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai: days split the range
BASE_MS = int(BASE.timestamp()) * 1000
CHANNELS = ("wechat", "qq", "poster", "*", None, None)
CALENDAR = CommunityCalendar()


@dataclass(frozen=True)
class Event:
    ts: datetime
    event_id: str
    campaign_id: str
    person_id: str
    step: str
    channel: str | None = None

    @property
    def ms(self) -> int:
        return BASE_MS + (self.ts - BASE) // timedelta(milliseconds=1)


def event(offset_ms: int, person: str, step: str, channel: str | None = None,
          event_id: str | None = None, campaign: str = "c") -> Event:
    return Event(BASE + timedelta(milliseconds=offset_ms), event_id or f"e{offset_ms}-{step}",
                 campaign, person, step, channel)


def random_events(rng: random.Random, persons: int, span_ms: int, steps=FUNNEL_STEPS,
                  campaign: str = "c") -> list[Event]:
    events = []
    for number in range(persons):
        person = f"p{number}"
        for _ in range(rng.randrange(1, 9)):
            step = rng.choice(steps)
            events.append(event(rng.randrange(span_ms), person, step, rng.choice(CHANNELS),
                                f"e{len(events)}", campaign))
    return events


def book_of(events: list[Event]) -> FunnelBook:
    book = FunnelBook()
    book.apply(events)
    return book


# --- records -----------------------------------------------------------------------------


def test_apply_event_is_idempotent_and_order_free() -> None:
    rng = random.Random(7)
    for _ in range(200):
        events = random_events(rng, 1, 5 * H)
        reference = PersonProgress()
        for e in events:
            apply_event(reference, e.ms, e.event_id, e.step, e.channel)
        wire = json.dumps(reference.to_wire())
        for _ in range(5):
            replay = events + rng.sample(events, rng.randrange(len(events) + 1))
            rng.shuffle(replay)
            progress = PersonProgress()
            for e in replay:
                apply_event(progress, e.ms, e.event_id, e.step, e.channel)
            assert json.dumps(progress.to_wire()) == wire
            assert not any(apply_event(progress, e.ms, e.event_id, e.step, e.channel)
                           for e in replay)
        assert PersonProgress.from_wire(json.loads(wire)) == reference


def test_record_holds_earliest_times_and_first_touch() -> None:
    progress = PersonProgress()
    assert apply_event(progress, 5_000, "b", "signup", "qq")
    assert not apply_event(progress, 6_000, "a", "signup", "wechat")  # later: no change
    assert apply_event(progress, 5_000, "a", "poster_click", "poster")  # same ms, smaller id
    assert apply_event(progress, 4_000, "z", "signup", None)  # earlier, but carries no channel
    assert progress.reached == {"signup": 4_000, "poster_click": 5_000}
    assert progress.touch == (5_000, "a", "poster") and progress.channel == "poster"
    assert progress.to_wire() == [{"poster_click": 5_000, "signup": 4_000}, 5_000, "a", "poster"]
    assert PersonProgress.from_wire(progress.to_wire()) == progress
    assert PersonProgress(reached={"signup": 1}).to_wire() == [{"signup": 1}]
    assert PersonProgress.from_wire([{"signup": 1}]).touch is None
    assert PersonProgress.from_wire(None) == PersonProgress()


def test_effective_times_with_and_without_implied_earlier_steps() -> None:
    steps = ("a", "b", "c", "d")
    progress = PersonProgress(reached={"a": 50, "c": 30, "d": 40, "other": 1})
    assert effective_times(progress, steps, implies_earlier=True) == [30, 30, 30, 40]
    assert effective_times(progress, steps, implies_earlier=False) == [50, None, 30, 40]
    assert effective_times(PersonProgress(reached={"b": 9}), steps, True) == [9, 9, None, None]
    assert effective_times(None, steps, True) == [None] * 4


def test_book_reports_changes_with_the_previous_record() -> None:
    book = FunnelBook()
    book.load([(person_key("c", "p1"), [{"signup": 1_000}]),
               (person_key("c", "p|2"), [{"signup": 2_000}, 2_000, "x", "qq"])])
    assert split_person_key(person_key("c", "p|2")) == ("c", "p|2")
    changes = book.apply([
        Event(BASE, "e1", "c", "p1", "signup", None),  # later than known: no change
        Event(BASE, "e2", "c", "p|2", "reminder", None),
        Event(BASE, "e3", "d", "p1", "signup", "wechat"),
        Event(BASE, "e4", "c", "p|2", "follow_up", None),
    ])
    assert set(changes) == {"c", "d"} and set(changes["c"]) == {"p|2"}
    old, new = changes["c"]["p|2"]
    assert old == PersonProgress({"signup": 2_000}, (2_000, "x", "qq"))
    assert new is book.campaigns["c"]["p|2"] and set(new.reached) == {
        "signup", "reminder", "follow_up"}
    assert changes["d"]["p1"][0] is None and book.persons("d")["p1"].channel == "wechat"
    assert book.apply(reversed([Event(BASE, "e2", "c", "p|2", "reminder", None)])) == {}
    assert book.persons("nothing") == {}


# --- window stats against a brute force ------------------------------------------------------


def brute_effective(events: list[Event], steps: tuple[str, ...], implies: bool):
    """Per person: (effective times, channel label), straight from the raw events."""
    people: dict[str, list[Event]] = {}
    for e in events:
        people.setdefault(e.person_id, []).append(e)
    result = {}
    for person, own in people.items():
        first = {s: min((e.ms for e in own if e.step == s), default=None) for s in steps}
        times = []
        for index in range(len(steps)):
            later = [first[s] for s in (steps[index:] if implies else steps[index:index + 1])
                     if first[s] is not None]
            times.append(min(later) if later else None)
        touched = sorted((e.ms, e.event_id, e.channel) for e in own if e.channel)
        channel = touched[0][2] if touched else "(none)"
        result[person] = (times, "(*)" if channel == "*" else channel)
    return result


def brute_bounds(kind: str, start: int) -> tuple[int, int]:
    if kind == "hour":
        return start, start + H
    if kind == "day":
        local = datetime.fromtimestamp(start / 1000, ZoneInfo("Asia/Shanghai"))
        assert (local.hour, local.minute) == (0, 0)
        following = (local.date() + timedelta(days=1))
        end = datetime(following.year, following.month, following.day,
                       tzinfo=ZoneInfo("Asia/Shanghai"))
        return start, int(end.timestamp() * 1000)
    return 0, 0


def brute_stats(effective, spec: CampaignSpec, windows) -> dict[tuple, FunnelWindowStats]:
    steps = spec.step_names()
    expected = {}
    channels = sorted({label for _, label in effective.values()})
    for kind, start in windows:
        start_ms, end_ms = brute_bounds(kind, start)

        def inside(t, kind=kind, start_ms=start_ms, end_ms=end_ms) -> bool:
            return t is not None and (kind == "campaign" or start_ms <= t < end_ms)

        for channel in ["*", *channels]:
            members = [times for times, label in effective.values()
                       if channel in ("*", label)]
            if channel != "*" and not any(inside(t) for times in members for t in times):
                continue
            stats = []
            for index, step in enumerate(steps):
                persons = sum(inside(times[index]) for times in members)
                conversion = median = None
                if index:
                    cohort = [times for times in members if inside(times[index - 1])]
                    reached = [times for times in cohort if times[index] is not None]
                    if cohort:
                        conversion = len(reached) / len(cohort)
                    if reached:
                        median = statistics.median(
                            max(0, times[index] - times[index - 1]) for times in reached) / 1000
                stats.append((step, persons, conversion, median))
            entered = [times for times in members if inside(times[0])]
            overall = (sum(times[-1] is not None for times in entered) / len(entered)
                       if entered else None)
            expected[(kind, start, channel)] = (start_ms, end_ms, stats, len(entered), overall)
    return expected


def as_comparable(results: list[FunnelWindowStats]):
    return {(r.kind, r.start_ms, r.channel): (
        r.start_ms, r.end_ms, [(s.step, s.persons, s.conversion, s.median_seconds)
                               for s in r.steps], r.entered, r.overall_conversion)
        for r in results}


def all_windows(events: list[Event]) -> set[tuple[str, int]]:
    windows = {("campaign", 0)}
    for e in events:
        windows.add(("hour", e.ms - e.ms % H))
        windows.add(("day", CALENDAR.day_bounds_ms(CALENDAR.day_number(e.ms))[0]))
    return windows


@pytest.mark.parametrize("implies", [True, False])
def test_window_stats_match_a_brute_force(implies: bool) -> None:
    rng = random.Random(11 + implies)
    custom = ("poster_click", "signup", "activity_entry", "quiz")
    for round_ in range(12):
        steps = custom if round_ % 3 == 0 else FUNNEL_STEPS
        spec = CampaignSpec(campaign_id="c", steps=steps, implies_earlier=implies)
        events = random_events(rng, rng.randrange(1, 60), rng.choice([2 * H, 30 * H, 80 * H]),
                               steps=(*steps, "unknown_step"))
        book = book_of(events)
        windows = all_windows(events)
        some = set(rng.sample(sorted(windows), k=len(windows) // 2))
        empty = {("hour", BASE_MS - 5 * H), ("day", CALENDAR.day_bounds_ms(
            CALENDAR.day_number(BASE_MS) - 3)[0])}
        effective = brute_effective(events, steps, implies)
        for requested in (windows, some | empty, {("campaign", 0)}):
            results = window_stats(book.persons("c"), spec, CALENDAR, requested)
            keys = [(r.kind, r.start_ms, r.channel) for r in results]
            assert keys == sorted(keys)
            assert as_comparable(results) == brute_stats(effective, spec, requested)


def test_empty_windows_are_emitted_for_all_channels_only() -> None:
    spec = CampaignSpec(campaign_id="c")
    results = window_stats({}, spec, CALENDAR, {("hour", BASE_MS), ("campaign", 0)})
    assert [(r.kind, r.channel, r.entered, r.overall_conversion) for r in results] == [
        ("campaign", "*", 0, None), ("hour", "*", 0, None)]
    assert all(s.persons == 0 and s.conversion is None and s.median_seconds is None
               for r in results for s in r.steps)
    assert results[1].end_ms == BASE_MS + H and results[0].end_ms == 0
    with pytest.raises(ValueError):
        window_stats({}, spec, CALENDAR, {("week", 0)})


def test_hours_add_up_to_days_and_days_to_the_campaign() -> None:
    rng = random.Random(5)
    spec = CampaignSpec(campaign_id="c")
    events = random_events(rng, 150, 70 * H)
    persons = book_of(events).persons("c")
    windows = all_windows(events)
    results = window_stats(persons, spec, CALENDAR, windows)
    by_key = {(r.kind, r.start_ms, r.channel): r for r in results}

    def totals(rs: list[FunnelWindowStats]) -> list[int]:
        sums = [sum(r.entered for r in rs), sum(
            round(r.overall_conversion * r.entered) for r in rs if r.entered)]
        for index in range(len(FUNNEL_STEPS)):
            sums.append(sum(r.steps[index].persons for r in rs))
            if index:  # the cohort's converted persons
                sums.append(sum(round(r.steps[index].conversion * r.steps[index - 1].persons)
                                for r in rs if r.steps[index - 1].persons))
        return sums

    days = [r for r in results if r.kind == "day" and r.channel == "*"]
    assert len(days) >= 3
    for day in days:
        hours = [r for r in results if r.kind == "hour" and r.channel == "*"
                 and day.start_ms <= r.start_ms < day.end_ms]
        assert day.end_ms - day.start_ms == 24 * H and totals(hours) == totals([day])
        assert sum(r.entered for r in hours) == day.entered
    assert totals(days) == totals([by_key[("campaign", 0, "*")]])
    channels = [r for r in results if r.kind == "campaign" and r.channel != "*"]
    assert totals(channels) == totals([by_key[("campaign", 0, "*")]])
    assert by_key[("campaign", 0, "*")].steps[0].persons == len(persons)


def test_channel_is_the_first_touch() -> None:
    spec = CampaignSpec(campaign_id="c", steps=("poster_click", "signup"))
    book = book_of([
        event(10 * 60_000, "p1", "signup", "wechat"),
        event(5 * 60_000, "p1", "poster_click", None),  # earliest, but no channel
        event(20 * 60_000, "p1", "poster_click", "qq"),
        event(30 * 60_000, "p2", "signup", None),
        event(40 * 60_000, "p3", "poster_click", "*"),
    ])
    stats = window_stats(book.persons("c"), spec, CALENDAR, {("campaign", 0)})
    assert {r.channel: r.entered for r in stats} == {
        "*": 3, "wechat": 1, "(none)": 1, "(*)": 1}
    book.apply([event(8 * 60_000, "p1", "signup", "qq", event_id="late")])  # replayed, earlier
    stats = window_stats(book.persons("c"), spec, CALENDAR, {("campaign", 0)})
    assert {r.channel: r.entered for r in stats} == {"*": 3, "qq": 1, "(none)": 1, "(*)": 1}


def test_median_wait_and_conversion() -> None:
    spec = CampaignSpec(campaign_id="c", steps=("poster_click", "signup", "reminder"))
    book = book_of([
        event(0, "p1", "poster_click"), event(60_000, "p1", "signup"),
        event(0, "p2", "poster_click"), event(180_500, "p2", "signup"),
        event(0, "p3", "poster_click"), event(3 * H, "p3", "signup"),  # converts next hours
        event(0, "p4", "poster_click"),
        event(4 * H, "p1", "reminder"),
    ])
    whole, hour = [r for r in window_stats(book.persons("c"), spec, CALENDAR, {
        ("hour", BASE_MS), ("campaign", 0)}) if r.channel == "*"]
    assert hour.kind == "hour" and whole.kind == "campaign"
    assert [s.persons for s in hour.steps] == [4, 2, 0]
    assert hour.steps[1].conversion == 3 / 4  # p3 converted after the hour: still counted
    assert hour.steps[1].median_seconds == 180.5  # waits 60, 180.5 and 10800 seconds
    assert hour.steps[2].conversion == 1 / 2  # of p1 and p2, who signed up in the hour
    assert hour.steps[2].median_seconds == 4 * H / 1000 - 60  # p1's wait
    assert hour.entered == 4 and hour.overall_conversion == 1 / 4
    assert [s.persons for s in whole.steps] == [4, 3, 1]
    assert whole.steps[2].conversion == 1 / 3
    assert whole.steps[2].median_seconds == 4 * H / 1000 - 60
    quiet = window_stats(book.persons("c"), spec, CALENDAR, {("hour", BASE_MS + H)})
    assert [s.conversion for s in quiet[0].steps] == [None, None, None]


def test_touched_windows_cover_every_window_that_changes() -> None:
    rng = random.Random(3)
    for implies in (True, False):
        spec = CampaignSpec(campaign_id="c", implies_earlier=implies)
        for _ in range(60):
            events = random_events(rng, 12, 50 * H)
            batch = random_events(rng, 12, 50 * H)
            book = book_of(events)
            windows = all_windows(events) | all_windows(batch)
            before = as_comparable(window_stats(book.persons("c"), spec, CALENDAR, windows))
            changes = book.apply(batch)
            after = as_comparable(window_stats(book.persons("c"), spec, CALENDAR, windows))
            touched = set()
            for old, new in changes.get("c", {}).values():
                touched |= touched_windows(spec, CALENDAR, old, new)
            differing = {key[:2] for key in before.keys() | after.keys()
                         if before.get(key) != after.get(key)}
            assert differing <= touched
            assert ("campaign", 0) in touched or not changes


def test_touched_windows_are_only_those_of_changed_times() -> None:
    spec = CampaignSpec(campaign_id="c")
    old = PersonProgress(reached={"poster_click": BASE_MS, "signup_page": BASE_MS + 30 * H,
                                  "signup": BASE_MS + 31 * H})
    new = old.copy()
    apply_event(new, BASE_MS + 40 * H, "x", "reminder", None)

    def hours(old: PersonProgress | None, new: PersonProgress) -> list[int]:
        return sorted((start - BASE_MS) // H
                      for kind, start in touched_windows(spec, CALENDAR, old, new)
                      if kind == "hour")

    # the reminder's hour, and signup's (its cohort converted); not the earlier steps'
    assert hours(old, new) == [31, 40]
    apply_event(new, BASE_MS + 50 * H, "y", "follow_up", None)  # the last step: overall too
    assert hours(old, new) == [0, 31, 40, 50]
    assert hours(None, old) == [0, 30, 31]
    moved = old.copy()
    apply_event(moved, BASE_MS + 45 * H, "z", "signup", "qq")  # channel changes: all of them
    assert hours(old, moved) == [0, 30, 31]
