"""Campaign funnel agent: distinct persons per step, conversion, conversion alerts.

Thin Faust wiring around :mod:`pipeline.compute.campaigns` on the funnel topic
(keyed by campaign, so one worker partition holds a campaign).  Per batch:

1. validate at the edge; a step outside the campaign's registry steps is a
   dead letter (``unknown_step``); store the rest raw and forward them to
   ``sales-ledgers`` re-keyed by person (attribution touches, participation);
2. fold the events into each person's progress (earliest time per step and
   first touch: minimums, so duplicates and replays change nothing and
   arrival order does not matter);
3. recompute the windows the changed persons touch (hour, local day, whole
   campaign; every channel and all channels) and judge conversion of the
   touched campaigns, and of every campaign of the partition each
   ``conversion_check_interval_s`` of event time;
4. publish (ClickHouse, compacted topic, alert topic, Prometheus), then save
   the persons, alert states and clock (outputs before state: a crash replays
   the batch against the old state and re-emits the same records).

Revisions are the partition's consumed offset, so a later record of a key
always wins and a replayed one ties with what it replaces.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from faust.types import EventT

from pipeline.compute.campaigns.conversion import ConversionAlerts, judge
from pipeline.compute.campaigns.funnel import (
    FunnelBook,
    person_key,
    touched_windows,
    window_stats,
)
from pipeline.compute.campaigns.records import conversion_alert, funnel_record
from pipeline.compute.campaigns.registry import load_registry
from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.egress.clickhouse import tables
from pipeline.egress.encoders import keyed_record
from pipeline.egress.journeys import journey_messages
from pipeline.ingress.batches import offsets_identity
from pipeline.ingress.edge import Valid, input_agent, publish_dead_letters
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import CONVERSION_ALERTS, FUNNEL_EVENTS, FUNNEL_METRICS, JOURNEYS_BY_MEMBER
from schemas.campaigns import CampaignFunnel, ConversionAlert
from schemas.events import FunnelEvent
from schemas.outputs import DeadLetter

AGENT_NAME = "campaign-funnels"


def register(ctx: PipelineContext) -> None:
    settings = ctx.settings
    registry = load_registry(settings.campaigns_file)
    calendar = CommunityCalendar(settings.community_timezone)
    check_ms = settings.conversion_check_interval_s * 1000
    persons = ctx.table("funnel-persons")
    """``<campaign>|<person>`` -> the person's progress (earliest time per step, first touch)."""
    alert_states = ctx.table("funnel-alerts")
    """campaign -> open conversion alerts and opening counts."""
    clocks = ctx.table("funnel-clocks")
    """partition -> watermark, last judgement and the partition's campaigns."""
    book = FunnelBook()
    loaded_for: set[frozenset] = set()
    ctx.on_erasure(AGENT_NAME, loaded_for.clear)  # a person erased: rebuild the book

    def ensure_book() -> None:
        """Rebuild the in-memory view from the table whenever the assignment changed (a
        partition that left and came back may have been changed by another worker)."""
        assignment = frozenset(ctx.app.consumer.assignment())
        if assignment not in loaded_for:
            book.load(persons.items())
            loaded_for.clear()
            loaded_for.add(assignment)

    async def handle(valid: Valid) -> None:
        accepted: list[tuple[EventT, FunnelEvent]] = []
        letters: list[tuple[EventT, DeadLetter]] = []
        now = datetime.now(UTC)
        for event, record in valid:
            reason = registry.step_problem(record.campaign_id, record.step)
            if reason is None:
                accepted.append((event, record))
                continue
            message = event.message
            letters.append((event, DeadLetter(
                source_topic=message.topic, source_partition=message.partition,
                source_offset=message.offset, reason="unknown_step", detail=reason,
                rejected_at=now, size_bytes=len(message.value or b""))))
        if letters:
            await publish_dead_letters(ctx, FUNNEL_EVENTS.name, letters)
        if not accepted:
            return
        await tables.RAW_TABLES[FunnelEvent].write(
            ctx.clickhouse, accepted, offsets_identity([e for e, _ in accepted]))
        await ctx.publish_to_partitions(JOURNEYS_BY_MEMBER, journey_messages(
            [r for _, r in accepted], settings.topic_partitions))
        newest = max(record.ts for _, record in accepted)
        ctx.prometheus.advance_watermark(FUNNEL_EVENTS.name, newest.timestamp())
        ensure_book()
        by_partition: dict[int, list[tuple[EventT, FunnelEvent]]] = defaultdict(list)
        for event, record in accepted:
            by_partition[event.message.partition].append((event, record))
        funnels: list[CampaignFunnel] = []
        alerts: list[ConversionAlert] = []
        saves = []
        for partition, items in by_partition.items():
            last_event = items[-1][0]
            revision = last_event.message.offset + 1
            clock = dict(clocks.get(partition) or {"w": 0, "j": 0, "c": []})
            clock["w"] = max(clock["w"], max(int(r.ts.timestamp() * 1000) for _, r in items))
            changes = book.apply(record for _, record in items)
            campaigns = sorted(set(clock["c"]) | set(changes))
            clock["c"] = campaigns
            for campaign_id, changed in changes.items():
                spec = registry.spec(campaign_id)
                windows: set[tuple[str, int]] = set()
                for old, new in changed.values():
                    windows |= touched_windows(spec, calendar, old, new)
                stats = window_stats(book.campaigns[campaign_id], spec, calendar, windows)
                funnels.extend(funnel_record(s, spec, calendar, revision) for s in stats)
            due = clock["w"] - clock["j"] >= check_ms
            judged = campaigns if due else sorted(changes)
            if due:
                clock["j"] = clock["w"]
            states: dict[str, ConversionAlerts] = {}
            for campaign_id in judged:
                spec = registry.spec(campaign_id)
                state = ConversionAlerts.from_wire(alert_states.get(campaign_id))
                found = judge(spec, book.campaigns.get(campaign_id, {}), clock["w"], state)
                if found:
                    alerts.extend(conversion_alert(change, spec) for change in found)
                    states[campaign_id] = state
            saves.append((last_event, partition, changes, states, clock))
        await publish(funnels, alerts)
        for last_event, partition, changes, states, clock in saves:
            with acting_for(last_event):
                for campaign_id, changed in changes.items():
                    for person_id, (_, new) in changed.items():
                        persons[person_key(campaign_id, person_id)] = new.to_wire()
                for campaign_id, state in states.items():
                    alert_states[campaign_id] = state.to_wire()
                clocks[partition] = clock

    async def publish(funnels: list[CampaignFunnel], alerts: list[ConversionAlert]) -> None:
        prometheus = ctx.prometheus
        if funnels:
            await tables.CAMPAIGN_FUNNEL.write(ctx.clickhouse, funnels)
            await ctx.publish(FUNNEL_METRICS, [keyed_record(f) for f in funnels])
        for record in funnels:
            if record.window != "campaign" or record.channel != "*" or not record.registered:
                continue
            for step in record.steps:
                prometheus.campaign_step_persons.labels(record.campaign_id, step.step).set(
                    step.persons)
            previous = record.steps[0].step
            for step in record.steps[1:]:
                prometheus.campaign_conversion.labels(
                    record.campaign_id, f"{previous}->{step.step}").set(
                    float("nan") if step.conversion is None else step.conversion)
                previous = step.step
        if alerts:
            await tables.CONVERSION_ALERTS.write(ctx.clickhouse, alerts)
            await ctx.publish(CONVERSION_ALERTS, [keyed_record(a) for a in alerts])
        for alert in alerts:
            label = alert.campaign_id if registry.spec(alert.campaign_id).registered \
                else "unregistered"
            event = "opened" if alert.status == "open" else "resolved"
            prometheus.campaign_conversion_alerts.labels(label, event).inc()

    input_agent(ctx, FUNNEL_EVENTS, FunnelEvent, AGENT_NAME, handle)
