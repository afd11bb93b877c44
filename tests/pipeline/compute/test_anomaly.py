"""Anomaly detector: false alerts on normal seasonal data, injected anomalies, lifecycle.

The series are synthetic and seeded (``random.Random``), on fixed dates from
2026-11-02 00:00 UTC (a Monday, 08:00 in Beijing): busy at 9:00, 12:00 and
20:00 Beijing time, quiet at night, another shape at weekends, day-to-day
swings, a mood that makes the rate bursty (an AR(1) on its log every 15
minutes, sd 0.31, like the stream generator's) and messages in runs (a member
posts several in a row).
Running values are sampled every 15 minutes, as the pipeline would feed them.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from statistics import NormalDist

import pytest

from pipeline.compute.anomaly import (
    HEALTH_METRICS,
    HOUR_MS,
    METRICS_BY_NAME,
    Baseline,
    MetricSpec,
    SeasonCalendar,
    Verdict,
    _count_tail_z,
    _share_tail_z,
    anomaly_record,
    observe,
)
from pipeline.compute.anomaly_quality import (
    HourFeed,
    Injected,
    Quality,
    evaluate_community,
    merge,
)

DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
T0_MS = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
BEIJING_MS = 8 * HOUR_MS
STEPS = 4
"""Running values every 15 minutes."""


def _normalised(weights: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(weights) / len(weights)
    return tuple(w / mean for w in weights)


WORKDAY = _normalised((
    0.35, 0.18, 0.09, 0.05, 0.05, 0.08, 0.25, 0.6, 1.0, 2.5, 1.3, 1.15,
    2.4, 1.3, 0.95, 0.9, 0.9, 0.95, 1.05, 1.4, 2.8, 1.7, 1.1, 0.7,
))
RESTDAY = _normalised((
    0.5, 0.3, 0.15, 0.07, 0.05, 0.05, 0.1, 0.25, 0.5, 1.2, 1.8, 1.6,
    2.0, 1.6, 1.3, 1.3, 1.3, 1.3, 1.4, 1.7, 2.6, 2.0, 1.4, 0.9,
))
MEMBERSHIP = _normalised((
    0.3, 0.15, 0.05, 0.05, 0.05, 0.1, 0.3, 0.7, 1.1, 1.5, 1.3, 1.2,
    1.4, 1.2, 1.1, 1.1, 1.1, 1.2, 1.3, 1.5, 1.9, 1.7, 1.1, 0.6,
))
NEW_SPEAKER = (0.8, 0.7, 0.62, 0.55)
"""Chance that a burst in each quarter of the hour comes from a member not yet seen in it:
distinct counts grow slower than pro rata within an hour."""


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 40:
        return sum(rng.random() < p for _ in range(n))
    return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))


@dataclass(frozen=True)
class Group:
    """A simulated community: ``scale`` messages in an average workday hour.

    ``mood``: sd of the 15-minute AR(1) step on the log rate; ``day``: sd of
    the log of each day's volume; ``sour``: the same for its negative share.
    """

    name: str
    scale: float
    seed: int
    mood: float = 0.22
    day: float = 0.15
    sour: float = 0.25


@dataclass(frozen=True)
class Injection:
    """Multiply ``metric``'s rate by ``factor`` for ``hours`` (negative_share: set the share)."""

    metric: str
    start_ms: int
    hours: int
    factor: float

    def window(self) -> Injected:
        return Injected(self.start_ms, self.start_ms + self.hours * HOUR_MS, self.metric)


def local_hour(ms: int) -> tuple[int, bool]:
    """Beijing hour of day, and whether it is a weekend (computed without zoneinfo)."""
    local = ms + BEIJING_MS
    return (local // HOUR_MS) % 24, (local // DAY_MS + 3) % 7 >= 5


def simulate(group: Group, weeks: int = 8,
             injections: tuple[Injection, ...] = ()) -> dict[str, list[HourFeed]]:
    rng = random.Random(group.seed)
    feeds: dict[str, list[HourFeed]] = {spec.name: [] for spec in HEALTH_METRICS}
    days: dict[int, tuple[float, float]] = {}
    burst = 0.0
    bias = group.mood**2 / (1 - 0.7**2) / 2
    for h in range(weeks * 168):
        start = T0_MS + h * HOUR_MS
        hour, rest = local_hour(start)
        day = (start + BEIJING_MS) // DAY_MS
        if day not in days:
            days[day] = (rng.lognormvariate(0, group.day), rng.lognormvariate(0, group.sour))
        volume, mood = days[day]
        shape = 0.8 * RESTDAY[hour] if rest else WORKDAY[hour]
        lam = group.scale * shape * volume
        members = group.scale * 0.06 * MEMBERSHIP[hour] * volume
        on = {i.metric: i.factor for i in injections
              if i.start_ms <= start < i.start_ms + i.hours * HOUR_MS}
        share = on.get("negative_share", min(0.5, 0.1 * mood))
        totals = [0, 0, 0, 0, 0]
        running: list[list[float]] = [[], [], [], [], [], []]
        for q in range(STEPS):
            burst = 0.7 * burst + rng.gauss(0, group.mood)
            rate = lam * math.exp(burst - bias) / STEPS / 1.6
            bursts = poisson(rng, rate)
            messages = bursts + poisson(rng, 0.6 * bursts)
            if "messages" in on:
                extra = poisson(rng, (on["messages"] - 1) * rate)
                messages += extra + poisson(rng, 0.6 * extra)
            speakers = binomial(rng, bursts, NEW_SPEAKER[q])
            if "active_members" in on:
                speakers = binomial(rng, speakers, on["active_members"])
            negative = binomial(rng, messages, share)
            joins = poisson(rng, 2 * members / STEPS * on.get("joins", 1.0))
            leaves = poisson(rng, members / STEPS * on.get("leaves", 1.0))
            for i, x in enumerate((speakers, messages, leaves, negative, joins)):
                totals[i] += x
            active, sent, left, negatives, joined = totals
            running[0].append(active)
            running[1].append(sent)
            running[2].append(left)
            running[3].append(negatives / sent if sent else 0.0)
            running[4].append(joined)
            running[5].append(sent)
        for i, name in enumerate(("active_members", "messages", "leaves")):
            feeds[name].append(HourFeed(start, tuple(running[i])))
        feeds["negative_share"].append(HourFeed(start, tuple(running[3]), tuple(running[5])))
        feeds["joins"].append(HourFeed(start, tuple(running[4])))
    return feeds


GROUPS = (
    Group("quiet", 0.5, 11),
    Group("small", 3, 12),
    Group("medium", 12, 13),
    Group("busy", 40, 14),
    Group("large", 150, 15),
    Group("huge", 600, 16),
)
STEADY = Group("steady", 150, 21, mood=0.08, day=0.05, sour=0.1)
"""A large, even-tempered group: single injected changes stand far out of its noise."""
SPECS = {spec.name: spec for spec in HEALTH_METRICS}


def beijing(week: int, weekday: int, hour: int) -> int:
    """Epoch ms of ``hour``:00 Beijing time on ``weekday`` (0 = Monday) of ``week`` (0-based)."""
    return T0_MS + week * WEEK_MS + weekday * DAY_MS + (hour - 8) * HOUR_MS


def replay(metric: str, hours: list[HourFeed], state: Baseline | None = None,
           spec: MetricSpec | None = None) -> list[Verdict]:
    """Feed hours as the pipeline would: each running value, then the final one."""
    spec = spec or SPECS[metric]
    state = Baseline() if state is None else state
    verdicts = []
    for hour in hours:
        for i, value in enumerate(hour.running):
            denominator = None if hour.denominators is None else hour.denominators[i]
            verdicts.append(observe(state, spec, hour.hour_start_ms, value, (i + 1) / STEPS,
                                    i == STEPS - 1, denominator))
    return verdicts


def events(verdicts: list[Verdict]) -> list[tuple[str, int, float]]:
    return [(v.event, v.hour_start_ms, v.fraction) for v in verdicts if v.event]


# Time -------------------------------------------------------------------------------


def test_slots_follow_beijing_hours_weekends_and_the_holiday_calendar() -> None:
    calendar = SeasonCalendar()
    assert calendar.slot(T0_MS) == 8  # Monday 00:00 UTC is Monday 08:00 in Beijing
    assert calendar.slot(beijing(0, 5, 0)) == 24  # Saturday 00:00 Beijing = Friday 16:00 UTC
    assert calendar.slot(beijing(0, 6, 23)) == 24 + 23
    assert calendar.slot(beijing(1, 0, 0)) == 0  # Sunday 16:00 UTC is a workday in Beijing
    assert SeasonCalendar(zone="UTC").slot(T0_MS) == 0
    holidays = SeasonCalendar(rest_days=frozenset({date(2026, 11, 3)}),
                              work_days=frozenset({date(2026, 11, 8)}))
    assert holidays.slot(beijing(0, 1, 10)) == 24 + 10  # a Tuesday off
    assert holidays.slot(beijing(0, 6, 10)) == 10  # a Sunday worked (调休)
    for ms in range(T0_MS, T0_MS + 2 * WEEK_MS, HOUR_MS):
        hour, rest = local_hour(ms)
        assert calendar.slot(ms) == hour + 24 * rest


# Normal data ----------------------------------------------------------------------------


def test_normal_data_gives_at_most_one_false_alert_per_community_week() -> None:
    """Eight weeks of six communities, from 0.5 to 600 messages an hour, no anomaly."""
    qualities = {group.name: evaluate_community(simulate(group), community_id=group.name)
                 for group in GROUPS}
    total = merge(qualities.values())
    assert total.community_weeks == pytest.approx(6 * 7, abs=0.5)  # the warm-up week is not armed
    assert total.false_per_community_week <= 0.5, {n: q.false_alerts for n, q in qualities.items()}
    assert all(q.false_per_community_week <= 1.0 for q in qualities.values())
    assert qualities["quiet"].false_alerts == 0
    assert total.reopenings == 0  # no flapping
    assert total.resolutions >= total.openings - len(GROUPS) * len(HEALTH_METRICS)


def test_a_quiet_group_going_silent_at_night_is_not_an_anomaly() -> None:
    spec = SPECS["messages"]
    state = Baseline()
    for h in range(3 * 168):
        start = T0_MS + h * HOUR_MS
        hour, _ = local_hour(start)
        observe(state, spec, start, 60.0 if hour == 20 else 2.0 + h % 2)
    night, evening = beijing(3, 1, 3), beijing(3, 1, 20)
    quiet = observe(state, spec, night, 0.0)
    assert quiet.warm and quiet.deviation < 0
    assert quiet.event is None and quiet.severity is None
    silent = observe(state, spec, evening, 0.0)  # the same silence at the busy hour is
    assert silent.event == "opened" and silent.severity == "critical"


def test_small_counts_are_judged_by_their_exact_tails() -> None:
    """3 leaves when 0.2 are expected: a 1-in-900 event, not the 6 sigma a normal gives."""
    p = 1 - math.exp(-0.2) * (1 + 0.2 + 0.02)
    assert _count_tail_z(3, 0.2, 0.2) == pytest.approx(-NormalDist().inv_cdf(p), rel=1e-6)
    assert (3 - 0.2) / math.sqrt(0.2) > 6
    assert _count_tail_z(0, 12, 12) == pytest.approx(NormalDist().inv_cdf(math.exp(-12)))
    assert -3 < _count_tail_z(0, 12, 48) < -2  # runs of messages: zero is far likelier
    assert _count_tail_z(1, 0.8, 0.8) == 0.0  # more likely than not to reach 1
    binomial_p = sum(math.comb(20, k) * 0.1**k * 0.9 ** (20 - k) for k in range(9, 21))
    assert _share_tail_z(9, 20, 0.1) == pytest.approx(-NormalDist().inv_cdf(binomial_p))
    assert _share_tail_z(1, 40, 0.1) < 0


# Injected anomalies ---------------------------------------------------------------------


def _injections(seed: int) -> tuple[Injection, ...]:
    """One of each kind a week, weeks 3 to 8, at a random day and daytime hour."""
    rng = random.Random(seed)
    kinds = (("active_members", 3, 0.4), ("messages", 1, 4.0), ("leaves", 1, 8.0),
             ("negative_share", 1, 0.45))
    return tuple(Injection(metric, beijing(week, rng.randrange(7), rng.randrange(9, 21)),
                           hours, factor)
                 for week in range(2, 8) for metric, hours, factor in kinds)


def test_injected_anomalies_are_detected() -> None:
    """Bursty large groups: spikes within 15 minutes, drops within their three hours."""
    per_metric: dict[str, list[Quality]] = {}
    for group in (GROUPS[4], GROUPS[5], replace(GROUPS[4], seed=25), replace(GROUPS[5], seed=26)):
        injections = _injections(group.seed)
        feeds = simulate(group, injections=injections)
        for metric in ("active_members", "messages", "leaves", "negative_share"):
            windows = [i.window() for i in injections if i.metric == metric]
            per_metric.setdefault(metric, []).append(evaluate_community(
                {metric: feeds[metric]}, windows, (SPECS[metric],)))
    found = {metric: merge(qualities) for metric, qualities in per_metric.items()}
    rates = {m: (q.detection_rate, q.in_budget_rate) for m, q in found.items()}
    assert found["leaves"].detection_rate >= 0.95 and found["leaves"].in_budget_rate >= 0.9, rates
    assert found["negative_share"].detection_rate >= 0.95, rates
    assert found["negative_share"].in_budget_rate >= 0.75, rates
    assert found["messages"].detection_rate >= 0.5, rates  # x4 is ~3.7 sd of a bursty hour
    assert found["messages"].latency_quantile(0.5) <= 15 * 60_000, rates
    assert found["active_members"].detection_rate >= 0.4, rates  # hourly swings of 30%
    weeks = found["messages"].community_weeks
    assert sum(q.false_alerts for q in found.values()) / weeks <= 1.0


def test_a_large_change_is_seen_in_the_partial_hour() -> None:
    """Within 15 minutes of onset: the first running value of the hour opens the anomaly."""
    onset = beijing(4, 2, 20)
    for metric, factor in (("messages", 4.0), ("leaves", 8.0), ("negative_share", 0.45)):
        feeds = simulate(STEADY, weeks=5, injections=(Injection(metric, onset, 1, factor),))
        opened = [e for e in events(replay(metric, feeds[metric])) if e[0] == "opened"]
        assert opened == [("opened", onset, 0.25)], metric


def test_a_drop_opens_once_stays_open_and_resolves_when_back_to_normal() -> None:
    onset = beijing(3, 1, 19)
    feeds = simulate(STEADY, weeks=5, injections=(Injection("active_members", onset, 3, 0.4),))
    verdicts = replay("active_members", feeds["active_members"])
    found = events(verdicts)
    assert [e[:2] for e in found] == [("opened", onset), ("resolved", onset + 4 * HOUR_MS)]
    assert 0.5 <= found[0][2] <= 0.75 and found[1][2] == 1.0  # resolved after two normal hours
    during = [v for v in verdicts if onset <= v.hour_start_ms < onset + 3 * HOUR_MS
              and (v.hour_start_ms, v.fraction) >= found[0][1:]]
    assert all(v.status == "open" and v.anomaly is not None for v in during)
    assert all(v.deviation < -3.5 for v in during if v.final)
    opened = anomaly_record("c1", next(v for v in verdicts if v.event == "opened"))
    resolved = anomaly_record("c1", next(v for v in verdicts if v.event == "resolved"))
    assert opened is not None and resolved is not None
    assert opened.anomaly_id == resolved.anomaly_id == f"c1|active_members|{onset}"
    assert (opened.status, opened.direction, opened.window_start_ms) == ("open", "drop", onset)
    assert opened.window_end_ms == onset + round(found[0][2] * HOUR_MS)
    assert opened.observed < 0.6 * opened.expected
    assert (resolved.status, resolved.window_end_ms) == ("resolved", onset + 3 * HOUR_MS)
    assert resolved.deviation <= opened.deviation  # the worst evaluation of the three hours
    assert json.loads(json.dumps(resolved.to_wire()))["metric"] == "active_members"
    assert anomaly_record("c1", verdicts[0]) is None


def test_a_long_borderline_anomaly_does_not_flap() -> None:
    """Ten hours at -45%: under the opening gate at times, never back to normal."""
    onset = beijing(3, 2, 10)
    feeds = simulate(STEADY, weeks=5, injections=(Injection("messages", onset, 10, 0.55),))
    hours = feeds["messages"]
    for i, hour in enumerate(hours):  # thin the messages, as the factor only adds
        if onset <= hour.hour_start_ms < onset + 10 * HOUR_MS:
            hours[i] = HourFeed(hour.hour_start_ms, tuple(round(0.55 * x) for x in hour.running))
    found = events(replay("messages", hours))
    assert [e[0] for e in found] == ["opened", "resolved"]
    assert onset <= found[0][1] < onset + 3 * HOUR_MS
    assert found[1][1] == onset + 11 * HOUR_MS


def test_warm_up_suppresses_alerts() -> None:
    early, late = beijing(0, 3, 20), beijing(3, 3, 20)
    injections = (Injection("messages", early, 1, 6.0), Injection("messages", late, 1, 6.0))
    verdicts = replay("messages", simulate(STEADY, weeks=4, injections=injections)["messages"])
    assert not any(v.warm for v in verdicts if v.hour_start_ms < T0_MS + 168 * HOUR_MS)
    assert [e[1] for e in events(verdicts) if e[0] == "opened"] == [late]
    assert next(v for v in verdicts if v.hour_start_ms == early and v.final).deviation > 4


# Idempotence, determinism, state ------------------------------------------------------


def test_the_same_partial_value_twice_gives_one_alert() -> None:
    onset = beijing(4, 2, 20)
    feeds = simulate(STEADY, weeks=5, injections=(Injection("messages", onset, 1, 4.0),))
    before = [h for h in feeds["messages"] if h.hour_start_ms < onset]
    hour = next(h for h in feeds["messages"] if h.hour_start_ms == onset)
    state = Baseline()
    replay("messages", before, state)
    spec = SPECS["messages"]
    first = observe(state, spec, onset, hour.running[0], 0.25, final=False)
    wire = json.dumps(state.to_wire())
    again = observe(state, spec, onset, hour.running[0], 0.25, final=False)
    assert (first.event, again.event) == ("opened", None)
    assert json.dumps(state.to_wire()) == wire
    assert again.status == "open" and again.deviation == first.deviation


def test_a_final_hour_teaches_the_baseline_once() -> None:
    hours = simulate(STEADY, weeks=2)["messages"]
    state = Baseline()
    replay("messages", hours, state)
    wire = json.dumps(state.to_wire())
    last = hours[-1]
    stale = observe(state, SPECS["messages"], last.hour_start_ms, last.running[-1] * 5)
    assert stale.stale and stale.event is None and stale.severity is None
    older = observe(state, SPECS["messages"], hours[-5].hour_start_ms, 1.0, 0.5, final=False)
    assert older.stale
    assert json.dumps(state.to_wire()) == wire
    assert state.hours == len(hours) and state.last_final_ms == last.hour_start_ms


def test_replays_are_deterministic_and_survive_restarts() -> None:
    """The same input twice gives the same verdicts; so does reloading the state from
    JSON after every hour (a worker restarting from its table)."""
    onset = beijing(3, 3, 12)
    injections = (Injection("messages", onset, 2, 4.0), Injection("negative_share", onset, 1, 0.5),
                  Injection("active_members", onset, 3, 0.3))
    feeds = simulate(STEADY, weeks=4, injections=injections)
    for metric in ("messages", "negative_share", "active_members"):
        once = replay(metric, feeds[metric])
        assert replay(metric, feeds[metric]) == once
        restarted, wire = [], None
        for hour in feeds[metric]:
            state = Baseline.from_wire(json.loads(json.dumps(wire)) if wire else None)
            restarted += replay(metric, [hour], state)
            wire = state.to_wire()
        assert restarted == once, metric
        assert [e[0] for e in events(once)] == ["opened", "resolved"], metric


def test_state_round_trips_through_json_and_stays_small() -> None:
    onset = beijing(4, 2, 20)
    feeds = simulate(STEADY, weeks=5, injections=(Injection("messages", onset, 2, 4.0),))
    hours = [h for h in feeds["messages"] if h.hour_start_ms <= onset]
    state = Baseline()
    replay("messages", hours, state)
    assert state.anomaly is not None
    text = json.dumps(state.to_wire())
    assert len(text) < 4000
    back = Baseline.from_wire(json.loads(text))
    assert back == state and json.dumps(back.to_wire()) == text
    share = Baseline()
    replay("negative_share", feeds["negative_share"][:300], share)
    assert Baseline.from_wire(json.loads(json.dumps(share.to_wire()))) == share
    assert Baseline.from_wire(None) == Baseline()
    with pytest.raises(ValueError, match="version"):
        Baseline.from_wire({"v": 2})


def test_inputs_are_checked() -> None:
    spec, state = SPECS["messages"], Baseline()
    with pytest.raises(ValueError, match="start of an hour"):
        observe(state, spec, T0_MS + 1, 1.0)
    with pytest.raises(ValueError, match="fraction"):
        observe(state, spec, T0_MS, 1.0, fraction=0.0, final=False)
    with pytest.raises(ValueError, match="denominator"):
        observe(Baseline(), SPECS["negative_share"], T0_MS, 0.1)
    with pytest.raises(ValueError, match="direction"):
        MetricSpec("x", "up")  # type: ignore[arg-type]
    observe(state, spec, T0_MS, 1.0)
    with pytest.raises(ValueError, match="slots"):
        observe(state, SPECS["negative_share"], T0_MS + HOUR_MS, 0.1, denominator=10)
    assert {spec.name for spec in HEALTH_METRICS} == set(METRICS_BY_NAME) == {
        "active_members", "messages", "leaves", "negative_share", "joins"}


# The evaluation ------------------------------------------------------------------------


def test_the_evaluation_matches_alerts_to_injected_windows() -> None:
    onset = beijing(4, 2, 20)
    feeds = simulate(STEADY, weeks=5, injections=(Injection("messages", onset, 1, 4.0),))
    window = Injected(onset, onset + HOUR_MS, "messages")
    right = evaluate_community({"messages": feeds["messages"]}, [window], (SPECS["messages"],))
    assert (right.injected, right.detected, right.false_alerts) == (1, 1, 0)
    assert right.latencies_ms == [15 * 60_000] and right.in_budget_rate == 1.0
    assert right.armed_hours == 4 * 168 - 24  # rest-day slots need a second weekend
    wrong = evaluate_community({"messages": feeds["messages"]},
                               [Injected(onset, onset + HOUR_MS, "leaves")], (SPECS["messages"],))
    assert (wrong.detected, wrong.false_alerts) == (0, 1)
    assert wrong.false_per_community_week == pytest.approx(168 / (4 * 168 - 24))
    anywhere = evaluate_community({"messages": feeds["messages"]}, [Injected(onset, onset + 1)])
    assert anywhere.detected == 1  # a window for any metric, and the grace after it
    assert merge([right, wrong]).summary()["detection_rate"] == 0.5
