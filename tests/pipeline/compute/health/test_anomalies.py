"""Hour records to anomaly alerts: partial hours, final hours and silent hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pipeline.compute.anomaly import Baseline, SeasonCalendar
from pipeline.compute.health.anomalies import judge_community, to_anomaly
from schemas.outputs import CommunityHourActivity

T0 = datetime(2026, 11, 2, tzinfo=UTC)
CALENDAR = SeasonCalendar()
SHAPE = [1, 1, 1, 1, 1, 2, 4, 8, 10, 14, 12, 10, 14, 12, 10, 9, 9, 10, 12, 14, 18, 14, 8, 3]
"""Messages per local hour (Beijing = UTC+8) of a lively community, in tens."""


def hour(start: datetime, messages: int, active: int, final: bool = True,
         leaves: int = 0) -> CommunityHourActivity:
    return CommunityHourActivity(
        community_id="c1", window_start=start, window_end=start + timedelta(hours=1),
        messages=messages, member_messages=messages, staff_messages=0, bot_messages=0,
        interactions=messages, real_interactions=messages, mechanical_messages=0,
        copy_messages=0, speakers=active, active_members=active, senders=active,
        slot_interactions=0, joins=0, leaves=leaves, removals=0, net_growth=-leaves,
        member_count=500, member_count_anchor="relative", speaking_rate=None,
        scored_messages=0, positive_messages=0, negative_messages=0, negative_share=None,
        is_final=final, revision=1)


def normal_hours(days: int, rng: random.Random) -> list[CommunityHourActivity]:
    out = []
    for h in range(days * 24):
        start = T0 + timedelta(hours=h)
        level = SHAPE[(start.hour + 8) % 24] * 10
        messages = max(0, round(level * rng.lognormvariate(0, 0.15)))
        out.append(hour(start, messages, max(0, messages // 3)))
    return out


def run(baselines: dict, records: list[CommunityHourActivity], horizon: datetime,
        fraction: float = 1.0) -> list:
    return judge_community(baselines, "c1", records, int(horizon.timestamp() * 1000),
                           lambda _start: fraction, CALENDAR)


def test_a_spike_opens_once_from_a_partial_hour_and_resolves_when_back() -> None:
    rng = random.Random(1)
    baselines: dict[str, Baseline] = {}
    history = normal_hours(15, rng)
    assert run(baselines, history, history[-1].window_end) == []
    start = history[-1].window_end
    level = SHAPE[(start.hour + 8) % 24] * 10
    partial = hour(start, level * 2, level, final=False)  # a quarter in: 8x the pace
    opened = run(baselines, [partial], start, fraction=0.25)
    assert [(a.metric, a.status, a.direction) for a in opened] == [("messages", "open", "spike")]
    assert run(baselines, [partial], start, fraction=0.25) == []  # the same again: nothing
    final = hour(start, level * 6, level * 2)
    assert [a.status for a in run(baselines, [final], final.window_end)
            if a.metric == "messages"] == []  # still anomalous: stays open
    back = [hour(final.window_end + timedelta(hours=i),
                 SHAPE[(final.window_end.hour + i + 8) % 24] * 10,
                 SHAPE[(final.window_end.hour + i + 8) % 24] * 3) for i in range(3)]
    resolved = [a for a in run(baselines, back, back[-1].window_end) if a.metric == "messages"]
    assert [a.status for a in resolved] == ["resolved"]
    assert resolved[0].anomaly_id == opened[0].anomaly_id
    record = to_anomaly(resolved[0])
    assert record.revision == 2 and record.window_start == start


def test_a_community_that_falls_silent_is_judged_on_final_zeros() -> None:
    rng = random.Random(3)
    baselines: dict[str, Baseline] = {}
    history = normal_hours(15, rng)
    run(baselines, history, history[-1].window_end)
    quiet_from = history[-1].window_end
    # no record at all: only the fold horizon moves on, hours later
    found = run(baselines, [], quiet_from + timedelta(hours=4))
    drops = {a.metric for a in found if a.direction == "drop" and a.status == "open"}
    assert {"messages", "active_members"} <= drops
    assert baselines["messages"].last_final_ms == int(
        (quiet_from + timedelta(hours=3)).timestamp() * 1000)


def test_warm_up_and_ordinary_days_raise_nothing() -> None:
    rng = random.Random(4)
    baselines: dict[str, Baseline] = {}
    found = []
    history = normal_hours(28, rng)
    for i in range(0, len(history), 24):
        day = history[i:i + 24]
        found += run(baselines, day, day[-1].window_end)
    assert len(found) <= 1  # at most one false alert in four weeks of ordinary chat


def test_replaying_the_same_hours_changes_nothing() -> None:
    rng = random.Random(5)
    baselines: dict[str, Baseline] = {}
    history = normal_hours(10, rng)
    run(baselines, history, history[-1].window_end)
    before = {k: v.to_wire() for k, v in baselines.items()}
    assert run(baselines, history[-30:], history[-1].window_end) == []
    assert {k: v.to_wire() for k, v in baselines.items()} == before


def test_a_surge_of_negative_messages_opens_a_negative_share_anomaly() -> None:
    rng = random.Random(6)
    baselines: dict[str, Baseline] = {}
    history = []
    for record in normal_hours(15, rng):
        scored = record.messages // 2
        negative = sum(rng.random() < 0.08 for _ in range(scored))
        history.append(record.model_copy(update={
            "scored_messages": scored, "negative_messages": negative,
            "positive_messages": scored // 2}))
    assert [a for a in run(baselines, history, history[-1].window_end)
            if a.metric == "negative_share"] == []
    start = history[-1].window_end
    surge = hour(start, 120, 40).model_copy(update={
        "scored_messages": 60, "negative_messages": 30, "positive_messages": 10})
    opened = [a for a in run(baselines, [surge], surge.window_end)
              if a.metric == "negative_share"]
    assert [(a.status, a.direction) for a in opened] == [("open", "spike")]
    assert opened[0].observed == 0.5
