"""bench/anomaly_quality.py: the hourly series it feeds, and how it scores openings.

(Named ``*_bench`` so it cannot clash with a test of ``pipeline.compute.anomaly_quality``.)
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from bench.anomaly_quality import (
    FRACTIONS,
    METRICS,
    Opening,
    Score,
    StreamResult,
    entries,
    evaluate,
    hourly_series,
)
from pipeline.compute.anomaly import HOUR_MS
from pipeline.devtools.generator import GeneratedStream, GeneratorConfig, generate
from pipeline.devtools.generator.truth import AnomalyTruth
from pipeline.topics import CHAT_MESSAGES, MEMBER_EVENTS
from tests.support import REFERENCE_START

T0 = datetime(2026, 9, 16, 2, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope="module")
def small() -> GeneratedStream:
    return generate(GeneratorConfig(seed=2, communities=2, days=0.5, scale=0.2,
                                    start=REFERENCE_START, late_rate=0.05, duplicate_rate=0.05))


def test_series_cover_every_hour_and_count_like_the_truth(small: GeneratedStream) -> None:
    series = hourly_series(small)
    assert set(series) == {c.community_id for c in small.truth.communities}
    messages: Counter[tuple[str, str]] = Counter()
    for community, minute, count, _ in small.truth.minute_activity:
        messages[community, minute[:13]] += count
    hours = 12
    for community, by_metric in series.items():
        assert set(by_metric) == set(METRICS)
        for metric, values in by_metric.items():
            assert len(values) == hours
            assert [h for h, _ in values] == [_ms(small.truth.start) + i * HOUR_MS
                                               for i in range(hours)]
            for _, steps in values:
                assert len(steps) == len(FRACTIONS) + 1 and steps[-1] is not None
                known = [v for v in steps if v is not None]
                assert known == sorted(known), metric  # running values only grow
                assert steps[: len(steps) - len(known)] == (None,) * (len(steps) - len(known))
        for hour_ms, steps in by_metric["messages"]:
            key = datetime.fromtimestamp(hour_ms / 1000, UTC).isoformat()[:13]
            assert steps[-1] == messages[community, key]


def test_active_members_and_membership_counts(small: GeneratedStream) -> None:
    senders: dict[tuple[str, int], set[str]] = defaultdict(set)
    joins: Counter[tuple[str, int]] = Counter()
    leaves: Counter[tuple[str, int]] = Counter()
    seen: set[str] = set()
    for record in small.records:
        if record.kind not in ("valid", "late"):
            continue
        value = json.loads(record.value)
        key = (value["community_id"], record.timestamp_ms - record.timestamp_ms % HOUR_MS)
        if record.topic == CHAT_MESSAGES.name and value["sender_role"] == "member":
            senders[key].add(value["member_id"])
        elif record.topic == MEMBER_EVENTS.name and value["event_id"] not in seen:
            seen.add(value["event_id"])
            (joins if value["action"] == "join" else leaves)[key] += 1
    series = hourly_series(small)
    busy = 0
    for community, by_metric in series.items():
        for hour_ms, steps in by_metric["active_members"]:
            assert steps[-1] <= len(senders[community, hour_ms])
            busy += steps[-1] > 0.5 * len(senders[community, hour_ms]) > 0
        assert [s[-1] for _, s in by_metric["joins"]] == [
            joins[community, h] for h, _ in by_metric["joins"]]
        assert [s[-1] for _, s in by_metric["leaves"]] == [
            leaves[community, h] for h, _ in by_metric["leaves"]]
    assert busy >= 12


def _anomaly(metric: str = "messages", primary: bool = True, minutes: int = 60,
             **kw) -> AnomalyTruth:
    return AnomalyTruth(anomaly_id="a", community_id="c", metric=metric,
                        direction=kw.get("direction", "spike"), start=T0 + timedelta(minutes=7),
                        end=T0 + timedelta(minutes=7 + minutes), magnitude=5.0,
                        cause=kw.get("cause", "chatter_burst"), primary=primary)


def test_scoring_matches_openings_to_windows() -> None:
    hours = {_ms(T0) + i * HOUR_MS for i in range(-200, 5)}
    armed = {("c", m): hours for m in METRICS}
    spike = _anomaly()
    drop = _anomaly("messages", primary=False, direction="drop", cause="quiet_spell",
                    minutes=120)
    drop = drop.model_copy(update={"anomaly_id": "b", "start": T0 + timedelta(hours=3),
                                   "end": T0 + timedelta(hours=5)})
    openings = [
        Opening("c", "messages", _ms(T0) + HOUR_MS // 4),  # 8 min after the spike's onset
        Opening("c", "messages", _ms(T0) + HOUR_MS // 2),  # the same anomaly again
        Opening("c", "joins", _ms(T0) + HOUR_MS // 4),  # another metric: false
        Opening("c", "messages", _ms(T0) + 4 * HOUR_MS),  # in the consequence window
        Opening("c", "messages", _ms(T0) - 50 * HOUR_MS),  # false
    ]
    score = Score()
    score.add(StreamResult(openings, armed, [spike, drop]))
    assert score.false_alerts == {"active_members": 0, "messages": 1, "leaves": 0, "joins": 1}
    assert score.injected == {"messages spike": 1}
    assert score.latencies_ms["messages spike"] == [8 * 60_000]
    assert score.consequences["messages drop"] == [HOUR_MS]
    rates = score.rates()
    assert rates["detection_pct"] == 100 and rates["within_15_min_pct"] == 100
    assert rates["median_latency_min"] == 8
    assert score.community_weeks == pytest.approx(205 / 168)


def test_unarmed_anomalies_are_left_out_and_late_detections_count() -> None:
    armed = {("c", m): {_ms(T0) + i * HOUR_MS for i in range(1, 5)} for m in METRICS}
    score = Score()
    score.add(StreamResult([], armed, [_anomaly()]))
    assert score.unarmed == {"messages spike": 1} and not score.injected
    late = Opening("c", "messages", _ms(T0) + HOUR_MS + 45 * 60_000)
    score = Score()
    score.add(StreamResult([late], {("c", "messages"): {_ms(T0)}}, [_anomaly()]))
    rates = score.rates("messages spike")
    assert rates["detection_pct"] == 100 and rates["within_15_min_pct"] == 0
    assert rates["median_latency_min"] == 98


def test_entries_have_the_bench_format() -> None:
    clean, injected = Score(community_weeks=2.0), Score()
    clean.false_alerts["messages"] = 1
    injected.injected["leaves spike"] = 2
    injected.latencies_ms["leaves spike"] = [5 * 60_000]
    out = {e["name"]: e for e in entries(clean, injected)}
    assert out["anomaly_false_alerts_per_community_week"]["value"] == 0.5
    assert out["anomaly_false_alerts_per_community_week"]["baseline"] == "target"
    assert out["anomaly_detected_within_15_min_pct"]["value"] == 50.0
    assert out["anomaly_leaves_spike_median_latency_min"]["value"] == 5.0
    for e in out.values():
        assert {"name", "value", "unit", "baseline", "baseline_value", "ratio"} <= set(e)
    json.dumps(list(out.values()))


def test_a_short_injected_stream_end_to_end() -> None:
    stream = generate(GeneratorConfig(seed=3, communities=1, days=10, scale=0.3, anomalies=1,
                                      start=REFERENCE_START - timedelta(days=10)))
    result = evaluate(stream)
    assert [a.cause for a in result.anomalies] == ["chatter_burst", "chatter_burst"]
    score = Score()
    score.add(result)
    assert score.injected == {"messages spike": 1}
    assert score.rates()["detection_pct"] == 100
    assert result.armed_hours >= 24
