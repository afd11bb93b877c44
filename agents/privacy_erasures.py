"""``privacy-erasures``: the workers' side of ``pulse members delete`` (PIPL erasure).

The command sends one :class:`~pipeline.compute.erasure.ErasureRequest` to every
partition of ``pipeline.privacy-erasures.v1`` (co-partitioned with the inputs, so the
worker holding partition *p* of it holds partition *p* of every table).  The request
lists the table keys of that partition naming the member; for each agent of this worker
owning one of those tables, under that agent's batch lock (no batch of it is between its
reads and its writes), each value is replaced by
:func:`~pipeline.compute.erasure.erase_state` (deleted when the rule says so), written
to the changelog partition of the request, and the agent's in-memory views are told to
drop the member (``ctx.on_erasure``).  A replayed request finds nothing left to change.
"""

from __future__ import annotations

import logging

from faust.types import EventT

from pipeline.compute.erasure import STATE_TABLES, TOMBSTONE, ErasureRequest, erasure_writes
from pipeline.ingress.batches import batch_agent
from pipeline.ingress.internal import one, readable
from pipeline.runtime.context import PipelineContext
from pipeline.runtime.faust_support import acting_for
from pipeline.topics import PRIVACY_ERASURES

log = logging.getLogger(__name__)

AGENT_NAME = "privacy-erasures"


def register(ctx: PipelineContext) -> None:
    """Register the agent; call after every agent of the role (their tables exist then)."""
    tables = ctx.app.tables
    owners: dict[str, tuple[str, ...]] = {}
    for table in STATE_TABLES:  # the role's tables with member data, by writing agent
        if table.writer is not None and table.name in tables:
            owners[table.writer] = (*owners.get(table.writer, ()), table.name)
    read = one(ErasureRequest.from_json)

    def get(table: str, key: str) -> object:
        return tables[table].get(key)

    async def erase(event: EventT, request: ErasureRequest) -> int:
        written = 0
        for agent, names in owners.items():
            if not any(table in names for table, _ in request.keys):
                continue
            async with ctx.batch_lock(agent):
                writes = erasure_writes(request, names, get)
                with acting_for(event):
                    for table, key, value in writes:
                        if value is TOMBSTONE:
                            tables[table].pop(key, None)
                        else:
                            tables[table][key] = value
                if writes:
                    for forget in ctx.erasure_hooks.get(agent, ()):
                        forget()
            written += len(writes)
        return written

    async def handle(events: list[EventT]) -> None:
        for event in events:
            for request in readable(event, read):
                written = await erase(event, request)
                log.info("erasure request %s applied to partition %d: %d values rewritten",
                         request.request_id, event.message.partition, written)

    batch_agent(ctx, ctx.topic(PRIVACY_ERASURES), AGENT_NAME, handle)
