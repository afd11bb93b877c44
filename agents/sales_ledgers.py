"""Sales, stage 1 (``sales-ledgers``): each member's orders and journey, and partial totals.

Reads ``pipeline.journeys-by-member.v1``: transactions (forwarded by
``ingest-transactions``), funnel events (``campaign-funnels``) and joins
(``community-activity``), re-keyed by member (person) id, so one partition
holds every order, touch and join of a member (:mod:`pipeline.compute.sales`):

- orders are deduplicated by order id, a refund is applied once even when it
  comes first, and distinct buyers add up across partitions;
- joins, participations and paid orders are credited to the first and last
  touch within the attribution window; invited joins to their inviter.

Per batch and partition: apply the records to the members' ledgers and
journeys, add each changed member's contribution difference to the partition's
partial totals, publish the changed partials to ``pipeline.sales-partials.v1``
(keyed like the output, so ``sales-totals`` owns each key on one partition),
then save ledgers, journeys and partials.  A partial's revision is the
partition's consumed offset, so replaying a batch re-emits the same partials
with the same revisions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from faust.types import EventT

from pipeline.compute.campaigns.registry import load_registry
from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.journeys import Join, Journey, Touch, member_contribution
from pipeline.compute.sales.ledger import MemberLedger, apply, to_ms
from pipeline.compute.sales.totals import PartitionTotals, Totals, apply_rows, totals_key
from pipeline.egress.journeys import member_of, read_journeys
from pipeline.egress.packed import pack
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import JOURNEYS_BY_MEMBER, SALES_PARTIALS
from schemas.events import FunnelEvent, MemberEvent, Transaction

AGENT_NAME = "sales-ledgers"
COALESCE_FACTOR = 4
DAY_MS = 24 * 3600 * 1000


def partial_entry(key: str, partition: int, revision: int, totals: Totals,
                  ) -> tuple[str, dict]:
    """One partition's partial totals of an output row (absent totals are zeros)."""
    return key, {"p": partition, "r": revision, "t": totals.to_wire()}


@dataclass(slots=True)
class Member:
    """A member's state as loaded (``before``) and as changed by the batch."""

    ledger_before: MemberLedger | None
    journey_before: Journey | None
    ledger: MemberLedger
    journey: Journey
    ledger_wire: object
    journey_wire: object
    """As loaded: only what changed is written back (each write is a changelog record)."""


def register(ctx: PipelineContext) -> None:
    settings = ctx.settings
    calendar = CommunityCalendar(settings.community_timezone)
    registry = load_registry(settings.campaigns_file)
    window_ms = settings.attribution_window_days * DAY_MS
    ledgers = ctx.table("sales-ledgers")
    """member -> their orders (paid and refund facts by order id)."""
    journeys = ctx.table("sales-journeys")
    """member -> their touches, joins and participations."""
    partials = ctx.table("sales-partials")
    """``<totals key>#<partition>`` -> this partition's partial totals."""

    def load(member_id: str) -> Member:
        ledger = ledgers.get(member_id)
        journey = journeys.get(member_id)
        return Member(
            None if ledger is None else MemberLedger.from_wire(ledger),
            None if journey is None else Journey.from_wire(journey),
            MemberLedger.from_wire(ledger), Journey.from_wire(journey), ledger, journey)

    def fold(member: Member, record: Transaction | FunnelEvent | MemberEvent,
             outcomes: Counter[str]) -> None:
        if isinstance(record, Transaction):
            outcomes[str(apply(member.ledger, record))] += 1
        elif isinstance(record, FunnelEvent):
            ts = to_ms(record.ts)
            if record.channel:
                member.journey.add_touch(
                    Touch(ts, record.event_id, record.campaign_id, record.channel))
            if record.step == registry.spec(record.campaign_id).participation():
                member.journey.add_participation(record.campaign_id, ts)
        elif record.action == "join":
            member.journey.add_join(Join(to_ms(record.ts), record.event_id, record.community_id,
                                         record.inviter_id, record.qr_code_id or record.channel))

    async def handle(events: list[EventT]) -> None:
        by_partition: dict[int, list[tuple[EventT, object]]] = defaultdict(list)
        for event in events:
            for record in readable(event, read_journeys):
                by_partition[event.message.partition].append((event, record))
        outcomes: Counter[str] = Counter()
        entries: list[tuple[str, dict]] = []
        saves = []
        for partition, items in by_partition.items():
            last_event = items[-1][0]
            revision = last_event.message.offset + 1  # the same for a replayed batch
            members: dict[str, Member] = {}
            for _, record in items:
                member_id = member_of(record)
                if member_id not in members:
                    members[member_id] = load(member_id)
                fold(members[member_id], record, outcomes)
            diffs = [(member_contribution(m.ledger_before, m.journey_before, calendar,
                                          window_ms),
                      member_contribution(m.ledger, m.journey, calendar, window_ms))
                     for m in members.values()]
            names = {key: f"{totals_key(*key)}#{partition}"
                     for old, new in diffs for key in (*old, *new)}
            current = PartitionTotals({key: Totals.from_wire(partials[name])
                                       for key, name in names.items()
                                       if partials.get(name) is not None})
            changed = set()
            for old, new in diffs:
                changed |= apply_rows(current, old, new)
            entries += [partial_entry(totals_key(*key), partition, revision, current.get(key))
                        for key in sorted(changed)]
            saves.append((last_event, members, {names[k]: current.rows.get(k) for k in changed}))
        await ctx.publish_to_partitions(SALES_PARTIALS, pack(entries, settings.topic_partitions))
        for kind, count in outcomes.items():
            if kind != "new":
                ctx.prometheus.sales_anomalies.labels(kind).inc(count)
        for last_event, members, changed_partials in saves:
            with acting_for(last_event):
                for member_id, member in members.items():
                    ledger, journey = member.ledger.to_wire(), member.journey.to_wire()
                    if ledger != (member.ledger_wire or MemberLedger().to_wire()):
                        ledgers[member_id] = ledger
                    if journey != (member.journey_wire or Journey().to_wire()):
                        journeys[member_id] = journey
                for name, totals in changed_partials.items():
                    if totals is None:
                        partials.pop(name, None)
                    else:
                        partials[name] = totals.to_wire()

    # sales feed dashboards and reports, not pages: longer batches coalesce many records
    # of a member, and many members' changes of a row, into one partial per row
    batch_agent(ctx, ctx.topic(JOURNEYS_BY_MEMBER), AGENT_NAME, handle,
                within_s=settings.batch_within_s * COALESCE_FACTOR)
