"""Community activity agent: minute windows, hour and day health, raw storage.

One agent on the three co-partitioned community inputs (chat messages,
member events, membership snapshots), so every metric of a community is
computed from one decoded batch.  Thin Faust wiring around
:mod:`pipeline.compute.activity` (minute windows of chat) and
:mod:`pipeline.compute.health` (hours, days, members).  Per batch:

1. validate at the edge (rejects to the DLQ), store raw events, forward joins to
   ``sales-ledgers`` (attribution, fission) re-keyed by member;
2. apply the batch to each source partition's windows (pure logic);
3. publish what changed: ClickHouse, the compacted metric topics (delivery
   awaited) and Prometheus;
4. only then save state to the Faust tables, each partition's clocks last.

Outputs go out before state is saved: after a crash the replayed events find
the old state and re-emit the same updates (idempotent downstream), whereas
saved state with lost outputs would never be re-emitted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from faust.types import TP, EventT

from pipeline.compute.activity import (
    BatchResult,
    PartitionClock,
    WindowState,
    apply_batch,
    latest_final_by_community,
)
from pipeline.compute.anomaly import Baseline, SeasonCalendar
from pipeline.compute.health.anomalies import (
    HOUR_METRICS,
    baseline_key,
    judge_community,
    to_anomaly,
)
from pipeline.compute.health.calendar import HOUR_MS, CommunityCalendar
from pipeline.compute.health.community import MEMBERSHIP_CONFLICTS
from pipeline.compute.health.directory import Directory
from pipeline.compute.health.engine import (
    HealthClock,
    HealthConfig,
    HealthResult,
    HealthState,
)
from pipeline.compute.health.engine import apply_batch as apply_health
from pipeline.compute.health.koc import KocRules
from pipeline.compute.health.retention import latest_rates
from pipeline.compute.health.silence import status_change
from pipeline.compute.hot_words import message_terms
from pipeline.egress.catalogue import DAY_GAUGES
from pipeline.egress.clickhouse import tables
from pipeline.egress.encoders import keyed_record
from pipeline.egress.journeys import journey_messages
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Consumed, inputs_agent
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import (
    ACTIVITY_HOUR,
    ACTIVITY_MINUTE,
    ANOMALY_ALERTS,
    CHAT_MESSAGES,
    HEALTH_DAY,
    JOURNEYS_BY_MEMBER,
    MEMBER_EVENTS,
    MEMBER_PROFILES,
    MEMBER_STATUS,
    MEMBERSHIP_SNAPSHOTS,
    RETENTION_COHORTS,
    SENTIMENT_SCORES,
)
from schemas.base import InputEvent
from schemas.events import ChatMessage, MemberEvent, MembershipSnapshot
from schemas.outputs import CommunityAnomaly
from schemas.scores import ScoredMessage, decode_chunk

AGENT_NAME = "community-activity"
INPUTS = ((CHAT_MESSAGES, ChatMessage), (MEMBER_EVENTS, MemberEvent),
          (MEMBERSHIP_SNAPSHOTS, MembershipSnapshot))
INTERNAL = ((SENTIMENT_SCORES, decode_chunk),)
"""Scored messages from the alert path (negative share); co-partitioned by community."""
def register(ctx: PipelineContext, member_ref: Callable[[str], str]) -> None:
    """``member_ref``: the salted member reference alerts show (profiles carry it too, so
    dashboards can rank members without showing their ids)."""
    settings = ctx.settings
    windows = ctx.table("activity-minute-windows")
    clocks = ctx.table("activity-minute-clocks")
    hours = ctx.table("health-hours")
    days = ctx.table("health-days")
    communities = ctx.table("health-communities")
    members = ctx.table("health-members")
    member_days = ctx.table("health-member-days")
    health_clocks = ctx.table("health-clocks")
    baselines = ctx.table("anomaly-baselines")
    for conflict in MEMBERSHIP_CONFLICTS:  # 0, not "no data", on a dashboard
        ctx.prometheus.membership_conflicts.labels(conflict)
    season = SeasonCalendar(settings.community_timezone)
    chat_topic = settings.topic(CHAT_MESSAGES.name)
    lateness_ms = settings.allowed_lateness_s * 1000
    config = HealthConfig(
        calendar=CommunityCalendar(settings.community_timezone,
                                   slot_minutes=settings.slot_minutes),
        lateness_ms=settings.hour_allowed_lateness_s * 1000,
        terms=message_terms,
        copy_window_ms=settings.copy_window_s * 1000,
        followers=frozenset(settings.topic(spec.name) for spec, _ in INTERNAL),
        koc=KocRules(settings.koc_share, settings.koc_min_score, settings.core_active_days),
        member_ref=member_ref,
    )
    directory = Directory()
    loaded_for: set[frozenset] = set()
    ctx.on_erasure(AGENT_NAME, loaded_for.clear)  # a member erased: rebuild the directory
    state = HealthState(hours.get, days.get, communities.get, directory, member_days.get)

    def ensure_directory() -> None:
        """Rebuild the in-memory view from the members table whenever this worker's
        assignment changed (a start, or a rebalance: a partition that left and came back
        may have been changed by another worker meanwhile)."""
        assignment = frozenset(ctx.app.consumer.assignment())
        if assignment not in loaded_for:
            directory.load(members.items())
            loaded_for.clear()
            loaded_for.add(assignment)

    physical = tuple(settings.topic(spec.name) for spec, _ in (*INPUTS, *INTERNAL))

    def waiting_topics(partition: int, clock: HealthClock) -> frozenset[str]:
        """Input topics of ``partition`` with records past what the clock has consumed, by the
        consumer's last fetched high watermark (unknown before the first fetch: waiting)."""
        consumer = ctx.app.consumer
        waiting = set()
        for topic in physical:
            highwater = consumer.highwater(TP(topic, partition))
            if highwater is None or highwater > clock.positions.get(topic, 0):
                waiting.add(topic)
        return frozenset(waiting)

    async def handle(valid: list[tuple[EventT, InputEvent | ScoredMessage]],
                     consumed: Consumed) -> None:
        by_model: dict[type, list] = defaultdict(list)
        for event, record in valid:
            if isinstance(record, InputEvent):
                by_model[type(record)].append((event, record))
        for model, items in by_model.items():
            await tables.RAW_TABLES[model].write(
                ctx.clickhouse, items, offsets_identity([e for e, _ in items]))
        await ctx.publish_to_partitions(JOURNEYS_BY_MEMBER, journey_messages(  # attribution
            [r for _, r in by_model.get(MemberEvent, ()) if r.action == "join"],
            settings.topic_partitions))
        by_partition: dict[int, list[tuple[EventT, InputEvent | ScoredMessage]]] = (
            defaultdict(list))
        for event, record in valid:
            by_partition[event.message.partition].append((event, record))
        anchors: dict[int, EventT] = {}
        for (_topic, partition), event in consumed.items():
            by_partition.setdefault(partition, [])
            anchors[partition] = event
        ensure_directory()
        minute_results: list[tuple[EventT, PartitionClock, BatchResult]] = []
        health_results: list[tuple[EventT, HealthClock, HealthResult]] = []
        for partition, items in by_partition.items():
            chat = [(e, r) for e, r in items if isinstance(r, ChatMessage)]
            if chat:
                clock = PartitionClock.from_wire(clocks.get(partition))
                result = apply_batch(
                    clock, lambda key: WindowState.from_wire(windows.get(key)),
                    [message for _, message in chat], lateness_ms,
                )
                minute_results.append((chat[-1][0], clock, result))
            health_clock = HealthClock.from_wire(health_clocks.get(partition))
            previous_horizon = health_clock.horizon_ms
            for (topic, p), event in consumed.items():
                if p == partition:
                    health_clock.positions[topic] = max(
                        health_clock.positions.get(topic, 0), event.message.offset + 1)
            health = apply_health(
                health_clock, state,
                [(e.message.topic, e.message.offset, r) for e, r in items], config,
                waiting_topics(partition, health_clock),
            )
            judged = judge_anomalies(previous_horizon, health_clock, health)
            health_results.append((anchors[partition], health_clock, health, judged))
        await publish_minutes([result for _, _, result in minute_results])
        await publish_health([result for _, _, result, _ in health_results])
        await publish_anomalies([a for _, _, _, judged in health_results for a in judged[0]])
        for last_event, clock, result in minute_results:
            with acting_for(last_event):
                for key, window in result.changed.items():
                    if key not in result.finalized:
                        windows[key] = window.to_wire()
                clocks[last_event.message.partition] = clock.to_wire()
                for key in result.finalized:
                    windows.pop(key, None)
        for last_event, clock, result, (_, states) in health_results:
            with acting_for(last_event):
                save_health(last_event.message.partition, clock, result, states)

    def judge_anomalies(previous_horizon: int, clock: HealthClock, result: HealthResult,
                        ) -> tuple[list[CommunityAnomaly], dict[str, Baseline]]:
        """Judge this batch's hour records, and every community's silent hours when the
        fold horizon crossed an hour boundary: the anomaly records, and the baselines
        that changed (to save)."""
        anomalies: list[CommunityAnomaly] = []
        by_community: dict[str, list] = defaultdict(list)
        for record in result.hour_records:
            by_community[record.community_id].append(record)
        if clock.horizon_ms // HOUR_MS > previous_horizon // HOUR_MS:
            for community_id in clock.communities:
                by_community.setdefault(community_id, [])
        mark = clock.marks.get(chat_topic, 0)
        states: dict[str, Baseline] = {}
        for community_id, records in by_community.items():
            wires = {metric: baselines.get(baseline_key(community_id, metric))
                     for metric in HOUR_METRICS}
            loaded = {metric: Baseline.from_wire(wire) for metric, wire in wires.items()}
            found = judge_community(loaded, community_id, records, clock.horizon_ms,
                                    lambda start: (mark - start) / HOUR_MS, season)
            anomalies.extend(to_anomaly(r) for r in found)
            for metric, state in loaded.items():  # partial hours mostly change nothing
                if state.to_wire() != (wires[metric] or Baseline().to_wire()):
                    states[baseline_key(community_id, metric)] = state
        return anomalies, states

    def save_health(partition: int, clock: HealthClock, result: HealthResult,
                    baseline_states: dict[str, Baseline]) -> None:
        """Everything but deletions, then the clock, then deletions (engine docstring)."""
        for key, window in result.hours.items():
            hours[key] = window.to_wire()
        for key, window in result.kept_hours.items():
            hours[key] = window.to_wire()
        for key, store in result.days.items():
            days[key] = store.to_wire()
        for key, counts in result.member_days.items():
            member_days[key] = counts
        for community_id in result.member_communities:
            members[community_id] = directory.community_wire(community_id)
        for community_id, community in result.communities.items():
            communities[community_id] = community.to_wire()
        for key, state in baseline_states.items():
            baselines[key] = state.to_wire()
        health_clocks[partition] = clock.to_wire()
        for key in result.closed_hours:
            hours.pop(key, None)
        for key in result.closed_days:
            days.pop(key, None)
        for key in result.dropped_member_days:
            member_days.pop(key, None)

    async def publish_minutes(results: list[BatchResult]) -> None:
        prometheus = ctx.prometheus
        records = [record for result in results for record in result.updates()]
        for result in results:
            prometheus.events_duplicate.labels(CHAT_MESSAGES.name).inc(result.duplicates)
            prometheus.events_too_late.labels(CHAT_MESSAGES.name).inc(result.too_late)
            prometheus.window_too_late.labels("minute").inc(result.too_late)
            for community_id, count in Counter(m.community_id for m in result.counted).items():
                prometheus.community_messages.labels(
                    prometheus.community_label(community_id)
                ).inc(count)
            if result.counted:
                newest = max(m.ts for m in result.counted)
                prometheus.advance_watermark(CHAT_MESSAGES.name, newest.timestamp())
        if not records:
            return
        await tables.ACTIVITY_MINUTE.write(ctx.clickhouse, records)
        await ctx.publish(ACTIVITY_MINUTE, [keyed_record(r) for r in records])
        for community_id, record in latest_final_by_community(records).items():
            prometheus.community_last_minute.labels(
                prometheus.community_label(community_id)
            ).set(record.messages)

    async def publish_health(results: list[HealthResult]) -> None:
        prometheus = ctx.prometheus
        hour_records = [r for result in results for r in result.hour_records]
        day_records = [r for result in results for r in result.day_records]
        for result in results:
            prometheus.window_too_late.labels("hour").inc(result.too_late)
            for conflict, count in result.conflicts.items():
                prometheus.membership_conflicts.labels(conflict).inc(count)
        if hour_records:
            await tables.ACTIVITY_HOUR.write(ctx.clickhouse, hour_records)
            await ctx.publish(ACTIVITY_HOUR, [keyed_record(r) for r in hour_records])
        if day_records:
            await tables.HEALTH_DAY.write(ctx.clickhouse, day_records)
            await ctx.publish(HEALTH_DAY, [keyed_record(r) for r in day_records])
        changes = [status_change(t) for result in results for t in result.transitions]
        if changes:
            await tables.MEMBER_STATUS.write(ctx.clickhouse, changes)
            await ctx.publish(MEMBER_STATUS, [keyed_record(c) for c in changes])
        for change in changes:
            prometheus.member_status_changes.labels(change.status).inc()
        cohorts = [r for result in results for r in result.cohort_records.values()]
        if cohorts:
            await tables.RETENTION_COHORTS.write(ctx.clickhouse, cohorts)
            await ctx.publish(RETENTION_COHORTS, [keyed_record(r) for r in cohorts])
        profiles = [p for result in results for p in result.profiles]
        if profiles:
            await tables.MEMBER_PROFILES.write(ctx.clickhouse, profiles)
            await ctx.publish(MEMBER_PROFILES, [keyed_record(p) for p in profiles])
        for (community_id, horizon), rate in latest_rates(cohorts).items():
            prometheus.community_retention.labels(
                prometheus.community_label(community_id), horizon).set(rate)
        for record in latest_final_by_community(day_records).values():
            label = prometheus.community_label(record.community_id)
            for metric in DAY_GAUGES:
                value = getattr(record, metric)  # None (no members): NaN, not a stale value
                prometheus.community_day.labels(label, metric).set(
                    float("nan") if value is None else value)

    async def publish_anomalies(anomalies: list[CommunityAnomaly]) -> None:
        if not anomalies:
            return
        await tables.ANOMALIES.write(ctx.clickhouse, anomalies)
        await ctx.publish(ANOMALY_ALERTS, [keyed_record(a) for a in anomalies])
        for anomaly in anomalies:
            event = "opened" if anomaly.status == "open" else "resolved"
            ctx.prometheus.anomalies.labels(anomaly.metric, event, anomaly.severity).inc()

    inputs_agent(ctx, INPUTS, AGENT_NAME, handle, internal=INTERNAL)
