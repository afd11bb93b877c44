"""Sales, stage 2 (``sales-totals``): partial totals of every partition combined per key.

Each output key (dimension, value, window) receives the partials of the
``sales-ledgers`` partitions; the latest partial per source partition is
kept, and the total is their sum with revision = the sum of their revisions
(each only grows, so the total's revision only grows).  A stale or replayed
partial (revision not above the one held) changes nothing.  Publishes
:class:`~schemas.campaigns.SalesTotals` to ClickHouse, the compacted
``metrics.sales.totals.v1`` and Prometheus (cumulative values, bounded labels).
"""

from __future__ import annotations

from datetime import UTC, datetime

from faust.types import EventT

from pipeline.compute.campaigns.registry import Registry, load_registry
from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.totals import CombinedWindow, Totals, split_totals_key
from pipeline.egress.catalogue import SALES_GAUGES
from pipeline.egress.clickhouse import tables
from pipeline.egress.encoders import keyed_record
from pipeline.egress.packed import unpack
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import SALES_PARTIALS, SALES_TOTALS
from schemas.campaigns import SalesTotals

AGENT_NAME = "sales-totals"
COALESCE_FACTOR = 4


def sales_record(key: str, revision: int, totals: Totals, registry: Registry,
                 calendar: CommunityCalendar) -> SalesTotals:
    dimension, value, window, start_ms = split_totals_key(key)
    phase = None
    if dimension == "campaign" and window != "all":
        phase = registry.spec(value).phase_of_day(calendar.local(start_ms).date())
    return SalesTotals(
        dimension=dimension, dimension_value=value, window=window,
        window_start=None if window == "all" else datetime.fromtimestamp(start_ms / 1000, UTC),
        phase=phase,
        orders=totals.orders, gmv_fen=totals.gmv_fen, refunds=totals.refunds,
        refund_fen=totals.refund_fen, net_gmv_fen=totals.net_gmv_fen,
        refunds_capped=totals.refunds_capped, unmatched_refunds=totals.unmatched_refunds,
        unmatched_refund_fen=totals.unmatched_refund_fen,
        paying_members=totals.paying_members, repeat_members=totals.repeat_members,
        aov_fen=totals.aov_fen, repurchase_rate=totals.repurchase_rate, joins=totals.joins,
        invited_joins=totals.invited_joins, participants=totals.participants, revision=revision,
    )


def parse_partials(value: bytes) -> list[tuple[str, int, int, Totals]]:
    """Packed partials: (row key, source partition, revision, totals)."""
    return [(key, int(data["p"]), int(data["r"]), Totals.from_wire(data["t"]))
            for key, data in unpack(value)]


def register(ctx: PipelineContext) -> None:
    registry = load_registry(ctx.settings.campaigns_file)
    calendar = CommunityCalendar(ctx.settings.community_timezone)
    combined = ctx.table("sales-combined")
    """output key -> the latest partial (revision, totals) of each source partition."""

    async def handle(events: list[EventT]) -> None:
        touched: dict[str, tuple[EventT, CombinedWindow]] = {}
        changed: set[str] = set()
        for event in events:
            for key, partition, revision, totals in readable(event, parse_partials):
                window = touched[key][1] if key in touched else CombinedWindow.from_wire(
                    combined.get(key))
                touched[key] = (event, window)  # revisions are kept even when totals stay
                if window.offer(partition, revision, totals):
                    changed.add(key)
        records = []
        for key in sorted(changed):
            revision, totals = touched[key][1].value()
            records.append(sales_record(key, revision, totals, registry, calendar))
        if records:
            await tables.SALES_TOTALS.write(ctx.clickhouse, records)
            await ctx.publish(SALES_TOTALS, [keyed_record(r) for r in records])
        gauge(records)
        for key, (event, window) in touched.items():
            with acting_for(event):
                combined[key] = window.to_wire()

    def gauge(records: list[SalesTotals]) -> None:
        prometheus = ctx.prometheus
        for record in records:
            if record.window != "all" or record.dimension not in ("all", "community", "campaign"):
                continue  # channels, attribution and inviters are in ClickHouse only
            value = record.dimension_value
            if record.dimension == "community":
                if prometheus.community_label(value) != value:
                    continue  # past the cap: one '_other' series cannot hold many totals
            elif record.dimension == "campaign" and not registry.spec(value).registered:
                continue
            for metric in SALES_GAUGES:
                prometheus.sales.labels(record.dimension, value, metric).set(
                    getattr(record, metric))

    # totals feed dashboards and reports, not pages: longer batches coalesce the partials
    # of several ledger batches into one update per key
    batch_agent(ctx, ctx.topic(SALES_PARTIALS), AGENT_NAME, handle, counts_as=SALES_PARTIALS,
                within_s=ctx.settings.batch_within_s * COALESCE_FACTOR)
