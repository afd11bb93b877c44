"""Conversion alerts on matured cohorts: Wilson bound, settling, started steps, lifecycle."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from pipeline.compute.campaigns.conversion import (
    ConversionAlerts,
    ConversionChange,
    OpenAlert,
    cohorts,
    judge,
    wilson_upper,
)
from pipeline.compute.campaigns.funnel import PersonProgress, apply_event
from pipeline.compute.campaigns.registry import CampaignSpec
from schemas.events import FUNNEL_STEPS

MINUTE = 60_000
H = 60 * MINUTE
D = 24 * H
T0 = int(datetime(2025, 4, 28, 2, 0, tzinfo=UTC).timestamp()) * 1000
REMINDER_BATCH = T0 + 4 * D + 10 * H
LIVE = REMINDER_BATCH + 30 * MINUTE
SWEEP_END = LIVE + 2 * D


def campaign_events(rng: random.Random, persons: int, rates: list[float]):
    """A campaign's funnel events, sorted by time: poster clicks over four days, a page view
    and a signup minutes later, the reminder batch before the live session, entries when it
    starts, follow-ups hours after.  ``rates[i]`` is the share of the persons at step i who
    reach step i + 1, realised exactly (a random choice of who), so a campaign "at 87%" is
    at 87% when all is done; matured cohorts before that are random subsets."""
    delays = [
        lambda t: t + rng.randrange(MINUTE, 15 * MINUTE),
        lambda t: t + rng.randrange(MINUTE, 20 * MINUTE),
        lambda t: REMINDER_BATCH + rng.randrange(10 * MINUTE),
        lambda t: LIVE + rng.randrange(30 * MINUTE),
        lambda t: t + rng.randrange(H, 20 * H),
    ]
    times = {f"p{k}": [T0 + rng.randrange(4 * D)] for k in range(persons)}
    at_step = sorted(times)
    for rate, delay in zip(rates, delays, strict=True):
        at_step = rng.sample(at_step, round(rate * len(at_step)))
        for person in at_step:
            times[person].append(delay(times[person][-1]))
    return sorted((t, person, FUNNEL_STEPS[index])
                  for person, own in times.items() for index, t in enumerate(own))


def sweep(spec: CampaignSpec, events, every_ms: int = H) -> list[ConversionChange]:
    """Judge at watermarks every ``every_ms``, having applied the events up to each."""
    persons: dict[str, PersonProgress] = {}
    alerts = ConversionAlerts()
    changes: list[ConversionChange] = []
    applied = 0
    for watermark in range(T0, SWEEP_END, every_ms):
        while applied < len(events) and events[applied][0] <= watermark:
            t, person, step = events[applied]
            apply_event(persons.setdefault(person, PersonProgress()), t, f"e{applied}", step, None)
            applied += 1
        changes += judge(spec, persons, watermark, alerts)
    assert ConversionAlerts.from_wire(alerts.to_wire()) == alerts
    return changes


def test_wilson_upper() -> None:
    assert wilson_upper(0, 0, 1.96) == 1.0
    assert wilson_upper(10, 10, 1.96) == 1.0
    assert wilson_upper(0, 10, 1.96) == pytest.approx(1.96**2 / (10 + 1.96**2))
    assert wilson_upper(7, 10, 0) == pytest.approx(0.7)
    # 30 people at 87% (26/30) against a target of 85%: not confidently below
    assert wilson_upper(26, 30, 1.96) > 0.85
    # the bound is above the point estimate, and shrinks towards it as cohorts grow
    bounds = [wilson_upper(round(0.8 * n), n, 1.96) for n in (30, 100, 1000, 10000)]
    assert bounds == sorted(bounds, reverse=True) and all(b > 0.8 for b in bounds)
    assert bounds[0] > 0.85 > bounds[2]


def assert_transient(changes: list[ConversionChange]) -> None:
    """Every alert among ``changes`` opened on a small early cohort and resolved later."""
    statuses: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        statuses.setdefault(change.transition, []).append(change.status)
        assert change.status == "resolved" or change.entered < 80
    assert all(s == ["open", "resolved"] for s in statuses.values()), statuses


def test_healthy_campaigns_raise_no_lasting_alert() -> None:
    """Healthy campaigns (30-300 persons, every step at 87-95%) across a watermark sweep.

    With these seeds none alerts.  It can happen, rarely: early on the matured cohort of a
    transition is a small random subset (its first 50 or so persons), judged again at
    every watermark, and now and then it dips far enough to be confidently below 85% by
    the Wilson bound; such an alert resolves as the cohort grows.  So this test allows 2
    in 100, transient only.  A point-estimate rule alerts on 15 of these campaigns."""
    spec = CampaignSpec(campaign_id="c")
    naive = CampaignSpec(campaign_id="c", confidence_z=0.0)  # upper bound = point estimate
    alerting = naive_alerting = 0
    for seed in range(100):
        rng = random.Random(seed)
        events = campaign_events(rng, rng.randint(30, 300),
                                 [rng.uniform(0.87, 0.95) for _ in range(5)])
        changes = sweep(spec, events)
        assert_transient(changes)
        alerting += bool(changes)
        naive_alerting += any(c.status == "open" for c in sweep(naive, events, every_ms=4 * H))
    assert alerting <= 2
    assert naive_alerting >= 10


def test_healthy_campaigns_with_larger_matured_cohorts_raise_no_alert() -> None:
    spec = CampaignSpec(campaign_id="c", min_entered=60)
    for seed in range(100, 150):
        rng = random.Random(seed)
        events = campaign_events(rng, rng.randint(30, 300),
                                 [rng.uniform(0.87, 0.95) for _ in range(5)])
        assert sweep(spec, events) == []


@pytest.mark.parametrize("weak", range(5))
def test_a_weak_step_raises_exactly_one_alert(weak: int) -> None:
    """A step at 55-75% (150-300 persons, so that its matured cohort is large enough to be
    judged) opens one alert, which stays open through the sweep."""
    spec = CampaignSpec(campaign_id="cmp")
    a, b = FUNNEL_STEPS[weak], FUNNEL_STEPS[weak + 1]
    for seed in range(12):
        rng = random.Random(1000 * weak + seed)
        rates = [rng.uniform(0.87, 0.95) for _ in range(5)]
        rates[weak] = rng.uniform(0.55, 0.75)
        changes = sweep(spec, campaign_events(rng, rng.randint(150, 300), rates))
        weak_changes = [c for c in changes if c.transition == (a, b)]
        assert [c.status for c in weak_changes] == ["open"]
        assert_transient([c for c in changes if c.transition != (a, b)])
        change = weak_changes[0]
        assert change.alert_id == f"cmp|{a}->{b}|1" and change.opened_ms == change.watermark_ms
        assert change.converted / change.entered == change.rate < change.threshold == 0.85
        assert change.upper_bound < 0.85 and change.entered >= spec.min_entered


def persons_at(entries: list[tuple[int, int | None]], a: str = "signup_page",
               b: str = "signup") -> dict[str, PersonProgress]:
    """Persons entering ``a`` at the given times and reaching ``b`` at the other (or not)."""
    persons = {}
    for number, (t_a, t_b) in enumerate(entries):
        progress = PersonProgress()
        apply_event(progress, t_a, f"a{number}", a, None)
        if t_b is not None:
            apply_event(progress, t_b, f"b{number}", b, None)
        persons[f"p{number}"] = progress
    return persons


def test_alert_opens_once_resolves_on_recovery_and_reopens_with_a_new_id() -> None:
    spec = CampaignSpec(campaign_id="cmp", steps=("signup_page", "signup"), threshold=0.8,
                        min_entered=30)
    alerts = ConversionAlerts()
    entries = [(T0, T0 + MINUTE if n < 20 else None) for n in range(40)]  # 50%
    opened = judge(spec, persons_at(entries), T0 + 2 * H, alerts)
    assert [(c.status, c.alert_id, c.entered, c.converted) for c in opened] == [
        ("open", "cmp|signup_page->signup|1", 40, 20)]
    assert opened[0].opened_ms == T0 + 2 * H and opened[0].rate == 0.5
    for hours in range(3, 8):  # still low: nothing new
        assert judge(spec, persons_at(entries), T0 + hours * H, alerts) == []
    wire = alerts.to_wire()
    assert wire == {"open": {"signup_page->signup": ["cmp|signup_page->signup|1", T0 + 2 * H,
                                                     40, 20]},
                    "n": {"signup_page->signup": 1}}
    alerts = ConversionAlerts.from_wire(wire)

    # between the bound and the target: stays open (no flapping)
    entries += [(T0 + H, T0 + H + MINUTE)] * 70  # 90 of 110: 82% < 85%, bound above 85%
    assert wilson_upper(90, 110, 1.96) > 0.85 > 90 / 110 >= 0.8
    spec_85 = spec.model_copy(update={"threshold": 0.85})
    assert judge(spec_85, persons_at(entries), T0 + 9 * H, alerts) == []

    resolved = judge(spec, persons_at(entries), T0 + 10 * H, alerts)  # 82% >= 80%
    assert [(c.status, c.alert_id, c.opened_ms, c.entered, c.converted) for c in resolved] == [
        ("resolved", "cmp|signup_page->signup|1", T0 + 2 * H, 110, 90)]
    assert alerts.open == {} and judge(spec, persons_at(entries), T0 + 11 * H, alerts) == []

    entries += [(T0 + 12 * H, None)] * 100  # a new wave that does not convert
    reopened = judge(spec, persons_at(entries), T0 + 14 * H, alerts)
    assert [(c.status, c.alert_id) for c in reopened] == [
        ("open", "cmp|signup_page->signup|2")]
    assert alerts.openings == {"signup_page->signup": 2}
    assert alerts.open["signup_page->signup"] == OpenAlert(
        "cmp|signup_page->signup|2", T0 + 14 * H, 210, 90)


def test_a_step_that_has_not_started_is_not_judged() -> None:
    spec = CampaignSpec(campaign_id="cmp", steps=("signup", "reminder"))
    signups = [(T0 + n * MINUTE, None) for n in range(100)]
    before_batch = persons_at(signups, "signup", "reminder")
    # every signup is matured (an hour old) but the reminder batch has not gone out
    assert judge(spec, before_batch, REMINDER_BATCH - MINUTE, ConversionAlerts()) == []
    assert cohorts(spec, before_batch, REMINDER_BATCH - MINUTE) == [
        ("signup", "reminder", 100, 0, False)]
    # reminders sent later than the watermark (a replay): still not started at it
    sent = persons_at([(t, REMINDER_BATCH + n) for n, (t, _) in enumerate(signups)],
                      "signup", "reminder")
    assert judge(spec, sent, REMINDER_BATCH - MINUTE, ConversionAlerts()) == []
    assert judge(spec, sent, REMINDER_BATCH + 5 * MINUTE, ConversionAlerts()) == []
    # the batch went out to half of them: judged once the batch is settled, a breach
    half = persons_at([(t, REMINDER_BATCH if n % 2 else None)
                       for n, (t, _) in enumerate(signups)], "signup", "reminder")
    assert spec.settle_ms_of("reminder") == H
    assert judge(spec, half, REMINDER_BATCH + H - 1, ConversionAlerts()) == []
    assert [c.status for c in judge(spec, half, REMINDER_BATCH + H, ConversionAlerts())] == [
        "open"]


def test_persons_count_as_not_converted_only_once_settled() -> None:
    spec = CampaignSpec(campaign_id="cmp", steps=("signup_page", "signup"))
    assert spec.settle_ms_of("signup") == H
    now = T0 + 10 * H
    early = [(T0 + n * MINUTE, T0 + n * MINUTE + 5 * MINUTE) for n in range(40)]  # converted
    fresh = [(now - 50 * MINUTE + n, None) for n in range(100)]  # within the hour, not yet
    persons = persons_at(early + fresh)
    alerts = ConversionAlerts()
    assert judge(spec, persons, now, alerts) == []
    assert cohorts(spec, persons, now) == [("signup_page", "signup", 40, 40, True)]
    # eleven minutes later they have had their hour, and still no signup
    changes = judge(spec, persons, now + 11 * MINUTE, alerts)
    assert [(c.status, c.entered, c.converted) for c in changes] == [("open", 140, 40)]

    slow = CampaignSpec(campaign_id="cmp", steps=(
        "signup_page", {"name": "signup", "settle_minutes": 120}))  # type: ignore[arg-type]
    assert judge(slow, persons, now + 11 * MINUTE, ConversionAlerts()) == []


def test_cohort_too_small_is_not_judged_and_step_thresholds_apply() -> None:
    steps = ("a", {"name": "b", "threshold": 0.5})
    spec = CampaignSpec(campaign_id="cmp", steps=steps, min_entered=30)  # type: ignore[arg-type]
    low = [(T0, T0 + 1 if n < 5 else None) for n in range(29)]
    assert judge(spec, persons_at(low, "a", "b"), T0 + D, ConversionAlerts()) == []
    low.append((T0, None))
    changes = judge(spec, persons_at(low, "a", "b"), T0 + D, ConversionAlerts())
    assert [(c.status, c.threshold, c.entered) for c in changes] == [("open", 0.5, 30)]
    assert math.isclose(changes[0].upper_bound, wilson_upper(5, 30, 1.96))
    fine = [(T0, T0 + 1 if n < 12 else None) for n in range(30)]  # 40%: bound above 50%
    assert judge(spec, persons_at(fine, "a", "b"), T0 + D, ConversionAlerts()) == []


def test_implied_steps_count_as_converted() -> None:
    spec = CampaignSpec(campaign_id="cmp", steps=("signup", "reminder", "activity_entry"),
                        min_entered=30)
    persons = {}
    for n in range(40):  # reminders not tracked for most, but they entered the activity
        progress = PersonProgress()
        apply_event(progress, T0, f"s{n}", "signup", None)
        apply_event(progress, T0 + 2 * H, f"e{n}", "reminder" if n < 2 else "activity_entry",
                    None)
        persons[f"p{n}"] = progress
    # an entry implies the reminder: 40 of 40 reminded, 38 of them entered
    assert judge(spec, persons, T0 + D, ConversionAlerts()) == []
    assert cohorts(spec, persons, T0 + D) == [
        ("signup", "reminder", 40, 40, True), ("reminder", "activity_entry", 40, 38, True)]
    strict = spec.model_copy(update={"implies_earlier": False})
    assert [c.transition for c in judge(strict, persons, T0 + D, ConversionAlerts())] == [
        ("signup", "reminder")]
