"""Sales, stage 1 (``sales-ledgers``): each member's orders, and partial totals per partition.

Reads transactions re-keyed by member (``ingest-transactions`` forwards them),
so one partition holds every order of a member: orders are deduplicated by
order id, a refund is applied once even when it comes first, and distinct
buyers add up across partitions (:mod:`pipeline.compute.sales`).  Per batch
and partition: apply the transactions to the ledgers, add each changed
ledger's contribution difference to the partition's partial totals, publish
the changed partials to ``pipeline.sales-partials.v1`` (keyed like the output,
so ``sales-totals`` owns each key on one partition), then save ledgers and
partials.  A partial's revision is the consumed offset of its partition:
replaying a batch re-emits the same partials with the same revisions.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
from faust.types import EventT

from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.ledger import MemberLedger, apply
from pipeline.compute.sales.totals import (
    PartitionTotals,
    Totals,
    apply_change,
    contribution,
    totals_key,
)
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import SALES_PARTIALS, TRANSACTIONS_BY_MEMBER
from schemas.events import Transaction

AGENT_NAME = "sales-ledgers"


def partial_record(key: str, partition: int, revision: int, totals: Totals,
                   ) -> tuple[bytes, bytes, None]:
    """One partition's partial totals of an output key (absent totals are zeros)."""
    value = {"p": partition, "r": revision, "t": totals.to_wire()}
    return key.encode(), orjson.dumps(value), None


def register(ctx: PipelineContext) -> None:
    calendar = CommunityCalendar(ctx.settings.community_timezone)
    ledgers = ctx.table("sales-ledgers")
    """member -> their orders (paid and refund facts by order id)."""
    partials = ctx.table("sales-partials")
    """``<totals key>#<partition>`` -> this partition's partial totals."""
    read = one(Transaction.model_validate_json)

    async def handle(events: list[EventT]) -> None:
        by_partition: dict[int, list[tuple[EventT, Transaction]]] = defaultdict(list)
        for event in events:
            for txn in readable(event, read):
                by_partition[event.message.partition].append((event, txn))
        outcomes: Counter[str] = Counter()
        records = []
        saves = []
        for partition, items in by_partition.items():
            last_event = items[-1][0]
            revision = last_event.message.offset + 1
            touched: dict[str, tuple[MemberLedger | None, MemberLedger]] = {}
            for _, txn in items:
                if txn.member_id not in touched:
                    wire = ledgers.get(txn.member_id)
                    old = MemberLedger.from_wire(wire) if wire is not None else None
                    touched[txn.member_id] = (old, MemberLedger.from_wire(wire))
                outcomes[str(apply(touched[txn.member_id][1], txn))] += 1
            keys: set = set()
            for old, new in touched.values():
                keys |= set(contribution(new, calendar))
                if old is not None:
                    keys |= set(contribution(old, calendar))
            table_keys = {key: f"{totals_key(*key)}#{partition}" for key in keys}
            current = PartitionTotals({
                key: Totals.from_wire(partials[name]) for key, name in table_keys.items()
                if partials.get(name) is not None})
            changed = set()
            for old, new in touched.values():
                changed |= apply_change(current, old, new, calendar)
            for key in sorted(changed):
                records.append(partial_record(totals_key(*key), partition, revision,
                                              current.get(key)))
            saves.append((last_event, touched,
                          {table_keys[k]: current.rows.get(k) for k in changed}))
        await ctx.publish(SALES_PARTIALS, records)
        for kind, count in outcomes.items():
            if kind != "new":
                ctx.prometheus.sales_anomalies.labels(kind).inc(count)
        for last_event, touched, changed_partials in saves:
            with acting_for(last_event):
                for member_id, (_, ledger) in touched.items():
                    ledgers[member_id] = ledger.to_wire()
                for name, totals in changed_partials.items():
                    if totals is None:
                        partials.pop(name, None)
                    else:
                        partials[name] = totals.to_wire()

    batch_agent(ctx, ctx.topic(TRANSACTIONS_BY_MEMBER), AGENT_NAME, handle,
                counts_as=TRANSACTIONS_BY_MEMBER)
