"""Anomaly detection quality on generated streams, without Kafka.

Streams come from the generator (fixed starts, a few seeds, four weeks, six
communities at scale 0.3, about 1,000-2,500 messages a community-day), once
as generated and once with injected anomalies (``GeneratorConfig.anomalies``:
chatter bursts, quiet spells, mass leaves, after eight days).  Each
community's hourly series is computed in plain Python from the records as the
pipeline's hour windows would: valid, late and duplicated records, each id
once; messages = distinct messages, active members = distinct members with a
real interaction (:func:`pipeline.compute.health.hours.summarize` itself, so
mechanical replies and copies are excluded exactly as the pipeline does),
joins, leaves + removals.  The detector (:func:`pipeline.compute.anomaly.
observe`) is fed hour by hour as the pipeline will feed it: the running value
at a quarter, half and three quarters of the hour (the records *delivered* by
then: a late record counts from its arrival), then the final value (0 for a
silent hour).  Negative share is not fed: it needs the sentiment scorer.

Scoring follows :mod:`pipeline.compute.anomaly_quality`: an opening of metric
*m* at ``hour start + fraction`` is true when an injected window of *m* (the
anomaly's own metric or one it moves as a consequence: a quiet spell's
messages drop) has ``start <= t < end + 1 h``, otherwise false; an injected
anomaly is detected by its metric's earliest true opening, latency from its
onset; false alerts are per community-week of armed hours (past warm-up).

``python -m bench.anomaly_quality [--quick] [--every-5-min]`` prints the
tables and the bench entries as JSON; ``run(quick)`` returns the entries for
bench/run.py.  A partial hour is judged only once something arrived in it
(the pipeline judges hour records, and a silent hour has none until its final
zero).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace

from pipeline.compute.anomaly import (
    DEFAULT_CALENDAR,
    HOUR_MS,
    METRICS_BY_NAME,
    Baseline,
    MetricSpec,
    observe,
)
from pipeline.compute.anomaly_quality import BUDGET_MS, WEEK_HOURS
from pipeline.compute.health.hours import ROLES, HourWindow, message_kind, summarize
from pipeline.compute.interaction import copy_key
from pipeline.devtools.generator import GeneratedStream, GeneratorConfig, generate
from pipeline.devtools.generator.truth import AnomalyTruth
from pipeline.topics import CHAT_MESSAGES, MEMBER_EVENTS

START = datetime(2026, 9, 7, tzinfo=UTC)
"""A Monday."""
SEEDS = (1, 2, 3)
DAYS = 28
COMMUNITIES = 6
SCALE = 0.3
ANOMALIES = 6
"""Injected per community: two of each kind."""
QUICK = {"seeds": (1,), "days": 21, "communities": 4, "anomalies": 3}
FRACTIONS = (0.25, 0.5, 0.75)
"""Running values judged per hour, as the brief for this bench has it."""
EVERY_5_MIN = tuple(i / 12 for i in range(1, 12))
"""``--every-5-min``: closer to the pipeline, which judges each batch's running hour
record (agents/community_activity.py), so far finer than quarter hours."""
METRICS = ("active_members", "messages", "leaves", "joins")
"""Fed to the detector (HEALTH_METRICS but negative share)."""
INJECTED_METRICS = ("messages", "active_members", "leaves")
GRACE_MS = HOUR_MS


def entry(name: str, value: float, unit: str, baseline: str, baseline_value: float,
          details: dict | None = None) -> dict:
    """The format of bench/run.py's ``entry`` (plus optional details)."""
    out = {"name": name, "value": round(value, 1), "unit": unit, "baseline": baseline,
           "baseline_value": round(baseline_value, 1),
           "ratio": round(value / baseline_value, 4) if baseline_value else None}
    if details is not None:
        out["details"] = details
    return out


# The hourly series ------------------------------------------------------------------


@dataclass(slots=True)
class _Hour:
    messages: dict[str, tuple[int, list]] = field(default_factory=dict)
    """id -> (arrival ms, hour-window entry)."""
    events: dict[str, tuple[int, list]] = field(default_factory=dict)


def _values(hour: _Hour, cut: int | None) -> dict[str, float | None]:
    """The hour's counts from what arrived by ``cut`` (None: everything, the final values);
    None for a partial hour nothing arrived in yet: the pipeline has no record to judge."""
    window = HourWindow(
        messages={k: e for k, (arrival, e) in hour.messages.items()
                  if cut is None or arrival <= cut},
        member_events={k: e for k, (arrival, e) in hour.events.items()
                       if cut is None or arrival <= cut})
    if cut is not None and not window.messages and not window.member_events:
        return dict.fromkeys(METRICS)
    summary = summarize(window)
    return {"messages": summary.messages, "active_members": len(summary.active),
            "joins": summary.joins, "leaves": summary.leaves + summary.removals}


def hourly_series(stream: GeneratedStream, fractions: tuple[float, ...] = FRACTIONS,
                  ) -> dict[str, dict[str, list[tuple[int, tuple]]]]:
    """community -> metric -> [(hour start, (running at each fraction..., final))], every
    hour of the period (a running value is None before anything arrived in the hour).
    A record arrives when the stream's clock (the newest on-time event time delivered so
    far) reaches it."""
    start_ms = int(stream.truth.start.timestamp() * 1000)
    end_ms = int(stream.truth.end.timestamp() * 1000)
    hours: dict[str, dict[int, _Hour]] = defaultdict(lambda: defaultdict(_Hour))
    clock = -(2**62)
    for record in stream.records:
        if record.kind == "valid":
            clock = max(clock, record.timestamp_ms)
        if record.kind == "malformed" or record.topic not in (CHAT_MESSAGES.name,
                                                             MEMBER_EVENTS.name):
            continue
        ts = record.timestamp_ms
        if not start_ms <= ts < end_ms:
            continue
        value = json.loads(record.value)
        hour = hours[value["community_id"]][ts - ts % HOUR_MS]
        arrival = max(clock, ts)
        if record.topic == CHAT_MESSAGES.name:
            if value["message_id"] not in hour.messages:
                message = SimpleNamespace(msg_type=value["msg_type"], text=value["text"])
                kind = message_kind(message)
                key = copy_key(value["text"]) if value["msg_type"] == "text" and kind == 0 else ""
                hour.messages[value["message_id"]] = (arrival, [
                    ts, ROLES.index(value["sender_role"]), value["member_id"], kind, key, 0])
        elif value["event_id"] not in hour.events:
            hour.events[value["event_id"]] = (arrival, [ts, value["member_id"],
                                                        value["action"]])
    series: dict[str, dict[str, list[tuple[int, tuple]]]] = {}
    empty = _Hour()
    for community in (c.community_id for c in stream.truth.communities):
        by_metric: dict[str, list[tuple[int, tuple]]] = {m: [] for m in METRICS}
        for hour_ms in range(start_ms - start_ms % HOUR_MS, end_ms, HOUR_MS):
            hour = hours[community].get(hour_ms, empty)
            steps = [_values(hour, hour_ms + round(f * HOUR_MS)) for f in fractions]
            steps.append(_values(hour, None))
            for metric in METRICS:
                by_metric[metric].append((hour_ms, tuple(s[metric] for s in steps)))
        series[community] = by_metric
    return series


# Replay and scoring -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opening:
    community: str
    metric: str
    at_ms: int


def replay(series: list[tuple[int, tuple]], spec: MetricSpec,
           fractions: tuple[float, ...] = FRACTIONS) -> tuple[list[int], set[int]]:
    """Openings (evaluation times) and armed hours of one community's metric."""
    state = Baseline()
    openings: list[int] = []
    armed: set[int] = set()
    steps = (*fractions, 1.0)
    for hour_ms, values in series:
        for i, value in enumerate(values):
            if value is None:
                continue
            final = i == len(steps) - 1
            fraction = steps[i]
            verdict = observe(state, spec, hour_ms, value, fraction, final, None,
                              DEFAULT_CALENDAR)
            if final and verdict.warm:
                armed.add(hour_ms)
            if verdict.event == "opened":
                openings.append(hour_ms + round(fraction * HOUR_MS))
    return openings, armed


@dataclass(slots=True)
class StreamResult:
    """Openings and armed hours of one stream, with its injected anomalies."""

    openings: list[Opening]
    armed: dict[tuple[str, str], set[int]]
    """(community, metric) -> hours in which the detector was past warm-up."""
    anomalies: list[AnomalyTruth]

    @property
    def armed_hours(self) -> int:
        """Community-hours in which at least one metric was armed."""
        by_community: dict[str, set[int]] = defaultdict(set)
        for (community, _), hours in self.armed.items():
            by_community[community] |= hours
        return sum(len(hours) for hours in by_community.values())


def evaluate(stream: GeneratedStream, specs: tuple[MetricSpec, ...] | None = None,
             fractions: tuple[float, ...] = FRACTIONS) -> StreamResult:
    """Replay every community's metrics (``specs``: the detector's defaults)."""
    specs = specs or tuple(METRICS_BY_NAME[m] for m in METRICS)
    series = hourly_series(stream, fractions)
    openings: list[Opening] = []
    armed: dict[tuple[str, str], set[int]] = {}
    for community, by_metric in series.items():
        for spec in specs:
            times, warm = replay(by_metric[spec.name], spec, fractions)
            armed[community, spec.name] = warm
            openings += [Opening(community, spec.name, t) for t in times]
    return StreamResult(openings, armed, list(stream.truth.anomalies))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _matches(anomaly: AnomalyTruth, opening: Opening) -> bool:
    return (anomaly.community_id == opening.community and anomaly.metric == opening.metric
            and _ms(anomaly.start) <= opening.at_ms < _ms(anomaly.end) + GRACE_MS)


@dataclass(slots=True)
class Score:
    community_weeks: float = 0.0
    false_alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))
    injected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latencies_ms: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    unarmed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Injected while the detector was still warming up for that hour (left out): the
    second Saturday's slots have only two earlier values when the stream starts on a Monday."""
    consequences: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    """Secondary windows (a quiet spell's messages drop): injected count and detections."""

    def add(self, result: StreamResult) -> None:
        self.community_weeks += result.armed_hours / WEEK_HOURS
        for opening in result.openings:
            if not any(_matches(a, opening) for a in result.anomalies):
                self.false_alerts[opening.metric] += 1
        for anomaly in result.anomalies:
            times = [o.at_ms for o in result.openings if _matches(anomaly, o)]
            key = f"{anomaly.metric} {anomaly.direction}"
            onset = _ms(anomaly.start)
            if onset - onset % HOUR_MS not in result.armed.get(
                    (anomaly.community_id, anomaly.metric), set()):
                self.unarmed[key] += anomaly.primary
                continue
            if anomaly.primary:
                self.injected[key] += 1
                if times:
                    self.latencies_ms[key].append(min(times) - _ms(anomaly.start))
            elif anomaly.metric in METRICS_BY_NAME and METRICS_BY_NAME[anomaly.metric].allows(
                    1 if anomaly.direction == "spike" else -1):
                self.consequences[key].append(min(times) - _ms(anomaly.start) if times else -1)

    @property
    def false_per_community_week(self) -> float:
        total = sum(self.false_alerts.values())
        return total / self.community_weeks if self.community_weeks else 0.0

    def rates(self, key: str | None = None) -> dict[str, float | int | None]:
        keys = [key] if key else list(self.injected)
        injected = sum(self.injected[k] for k in keys)
        latencies = [t for k in keys for t in self.latencies_ms[k]]
        within = sum(t <= BUDGET_MS for t in latencies)
        return {
            "injected": injected, "detected": len(latencies),
            "detection_pct": 100 * len(latencies) / injected if injected else 0.0,
            "within_15_min_pct": 100 * within / injected if injected else 0.0,
            "median_latency_min": (statistics.median(latencies) / 60_000
                                   if latencies else None),
            "p90_latency_min": (sorted(latencies)[max(0, round(0.9 * len(latencies)) - 1)]
                                / 60_000 if latencies else None),
        }


def streams(quick: bool = False) -> list[tuple[str, GeneratorConfig]]:
    seeds = QUICK["seeds"] if quick else SEEDS
    days = QUICK["days"] if quick else DAYS
    communities = QUICK["communities"] if quick else COMMUNITIES
    anomalies = QUICK["anomalies"] if quick else ANOMALIES
    out = []
    for seed in seeds:
        base = GeneratorConfig(seed=seed, communities=communities, days=days, scale=SCALE,
                               start=START)
        out.append(("clean", base))
        out.append(("injected", replace(base, anomalies=anomalies)))
    return out


def measure(quick: bool = False, specs: tuple[MetricSpec, ...] | None = None,
            fractions: tuple[float, ...] = FRACTIONS) -> tuple[Score, Score, float]:
    """(clean streams' score, injected streams' score, seconds)."""
    started = time.perf_counter()
    clean, injected = Score(), Score()
    for label, config in streams(quick):
        result = evaluate(generate(config), specs, fractions)
        (clean if label == "clean" else injected).add(result)
    return clean, injected, time.perf_counter() - started


def entries(clean: Score, injected: Score) -> list[dict]:
    overall = injected.rates()
    per_metric = {k: injected.rates(k) for k in sorted(injected.injected)}
    out = [
        entry("anomaly_false_alerts_per_community_week", clean.false_per_community_week,
              "alerts/community-week", "target", 1.0,
              {"exact": round(clean.false_per_community_week, 3),
               "community_weeks": round(clean.community_weeks, 1),
               "by_metric": dict(clean.false_alerts),
               "injected_streams_outside_windows": round(injected.false_per_community_week, 2)}),
        entry("anomaly_detection_rate_pct", overall["detection_pct"], "%", "target", 90.0,
              {**{k: _rounded(v) for k, v in per_metric.items()},
               "left_out_unarmed": sum(injected.unarmed.values())}),
        entry("anomaly_detected_within_15_min_pct", overall["within_15_min_pct"], "%",
              "target", 90.0),
    ]
    if overall["median_latency_min"] is not None:
        out.append(entry("anomaly_median_latency_min", overall["median_latency_min"], "min",
                         "target", 15.0))
    for key, rates in per_metric.items():
        name = key.replace(" ", "_")
        out.append(entry(f"anomaly_{name}_detection_rate_pct", rates["detection_pct"], "%",
                         "target", 90.0))
        out.append(entry(f"anomaly_{name}_within_15_min_pct", rates["within_15_min_pct"], "%",
                         "target", 90.0))
        if rates["median_latency_min"] is not None:
            out.append(entry(f"anomaly_{name}_median_latency_min", rates["median_latency_min"],
                             "min", "target", 15.0))
    return out


def _rounded(rates: dict) -> dict:
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in rates.items()}


def run(quick: bool = False) -> list[dict]:
    clean, injected, _ = measure(quick)
    return entries(clean, injected)


def main(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    quick = "--quick" in argv
    fractions = EVERY_5_MIN if "--every-5-min" in argv else FRACTIONS
    clean, injected, seconds = measure(quick, fractions=fractions)
    console = Console(width=max(Console().width, 110))
    table = Table("anomaly", "injected", "detected", "within 15 min", "median latency",
                  "p90 latency",
                  title=f"detection on injected streams, running values every "
                        f"{round(60 * fractions[0])} min ({seconds:.0f}s)")
    for key in [*sorted(injected.injected), None]:
        rates = injected.rates(key)
        table.add_row(key or "all", str(rates["injected"]), f"{rates['detection_pct']:.0f}%",
                      f"{rates['within_15_min_pct']:.0f}%", _minutes(rates["median_latency_min"]),
                      _minutes(rates["p90_latency_min"]))
    for key, times in sorted(injected.consequences.items()):
        found = [t for t in times if t >= 0]
        table.add_row(f"({key}, consequence)", str(len(times)),
                      f"{100 * len(found) / len(times):.0f}%" if times else "-",
                      f"{100 * sum(t <= BUDGET_MS for t in found) / len(times):.0f}%"
                      if times else "-",
                      _minutes(statistics.median(found) / 60_000 if found else None), "")
    unarmed = sum(injected.unarmed.values())
    if unarmed:
        table.caption = (f"left out: {unarmed} injected while their hour's slot was still "
                         f"warming up")
    console.print(table)
    alerts = Table("metric", "false alerts (clean)", "per community-week",
                   "outside windows (injected)",
                   title=f"false alerts: {clean.community_weeks:.1f} community-weeks armed "
                         f"(clean), {injected.community_weeks:.1f} (injected)")
    for metric in METRICS:
        alerts.add_row(metric, str(clean.false_alerts[metric]),
                       f"{clean.false_alerts[metric] / max(clean.community_weeks, 1e-9):.2f}",
                       str(injected.false_alerts[metric]))
    alerts.add_row("all", str(sum(clean.false_alerts.values())),
                   f"{clean.false_per_community_week:.2f}",
                   str(sum(injected.false_alerts.values())))
    console.print(alerts)
    print(json.dumps(entries(clean, injected), indent=2, ensure_ascii=False))


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


if __name__ == "__main__":
    main(sys.argv[1:])
