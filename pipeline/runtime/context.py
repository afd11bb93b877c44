"""What every agent needs, built once per worker: settings, sinks, Prometheus series, topics."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from faust.types import TopicT

from pipeline.app.settings import Settings
from pipeline.egress.clickhouse.client import ClickHouseSink
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.runtime.gc_tuning import tune_gc
from pipeline.runtime.transport import PulseApp
from pipeline.runtime.watchdog import CommitWatchdog
from pipeline.topics import TopicSpec
from schemas.decode import ValidationPolicy

TABLES_PER_WORKER = 21
"""Faust tables a worker of role ``all`` opens (each has one RocksDB per partition)."""


def rocksdb_options(settings: Settings) -> dict[str, int]:
    """Per-database RocksDB limits sharing ``store_memory_mib`` between every table and
    partition of the worker: two write buffers and a block cache each."""
    databases = TABLES_PER_WORKER * settings.topic_partitions
    share = max(1, settings.store_memory_mib * 1024 * 1024 // databases)
    return {"write_buffer_size": max(1 << 20, share // 4), "max_write_buffer_number": 2,
            "block_cache_size": max(1 << 20, share // 2),
            "block_cache_compressed_size": 1 << 20}


@dataclass
class PipelineContext:
    app: PulseApp
    settings: Settings
    prometheus: PrometheusSeries
    clickhouse: ClickHouseSink | None
    """None in the alerts role, which never touches ClickHouse."""
    _topics: dict[str, TopicT] = field(default_factory=dict)
    _ready: asyncio.Lock | None = None
    sinks_started: bool = False
    starters: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run once before the first batch (and before /health says ready): sinks, scorers;
    then the garbage collector is tuned (:mod:`pipeline.runtime.gc_tuning`)."""
    on_shutdown: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    """Run when the worker stops (before Faust's own shutdown): close pools and clients."""
    commit_watchdog: CommitWatchdog | None = None
    """Set by :func:`pipeline.runtime.watchdog_timer.install_watchdog`; read by ``/health``."""
    batch_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """Agent name -> held while that agent handles a batch (:meth:`batch_lock`)."""
    erasure_hooks: dict[str, list[Callable[[], None]]] = field(default_factory=dict)
    """Agent name -> what drops the member from its in-memory views (:meth:`on_erasure`)."""

    policy: ValidationPolicy = field(init=False)

    def __post_init__(self) -> None:
        skew = timedelta(seconds=self.settings.max_future_skew_s)
        self.policy = ValidationPolicy(max_future_skew=skew)

    def table(self, name: str) -> Any:
        """A Faust table of this worker, partitioned like the topics; with ``rocksdb://`` its
        memory is bounded by ``PULSE_STORE_MEMORY_MIB`` (Faust's defaults give every table
        and partition up to 192 MiB of write buffers and a 2 GiB block cache)."""
        options = rocksdb_options(self.settings) if self.settings.store.startswith("rocksdb") \
            else None
        return self.app.Table(name, default=None, partitions=self.settings.topic_partitions,
                              options=options)

    def batch_lock(self, agent: str) -> asyncio.Lock:
        """Held by ``agent`` around each batch (:func:`pipeline.ingress.batches.batch_agent`),
        so another task editing its tables (``agents.privacy_erasures``) never lands between
        the batch's reads and its writes."""
        if agent not in self.batch_locks:
            self.batch_locks[agent] = asyncio.Lock()
        return self.batch_locks[agent]

    def on_erasure(self, agent: str, forget: Callable[[], None]) -> None:
        """Have ``forget`` called after a member was erased from ``agent``'s tables (under
        its batch lock): an in-memory view built from those tables drops them, e.g. by
        being rebuilt before the next batch."""
        self.erasure_hooks.setdefault(agent, []).append(forget)

    def topic(self, spec: TopicSpec) -> TopicT:
        """The Faust topic for ``spec``: raw bytes in and out, we serialise ourselves."""
        name = self.settings.topic(spec.name)
        if name not in self._topics:
            self._topics[name] = self.app.topic(
                name,
                key_serializer="raw",
                value_serializer="raw",
                partitions=self.settings.topic_partitions,
                retention=spec.retention_ms / 1000,
                compacting=spec.compacted,
                internal=False,
            )
        return self._topics[name]

    async def publish(
        self,
        spec: TopicSpec,
        records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]],
        wait: bool = True,
    ) -> None:
        """Send ``(key, value, headers)`` records; by default wait until the broker has them.

        ``wait=False`` for outputs the rest of the batch does not depend on: the
        app settles them before it commits the offsets that produced them
        (:mod:`pipeline.runtime.deferred_sends`).  Goes straight to the app's producer
        (Faust's ``Topic.send`` costs ~1 ms per record).
        """
        if not records:
            return
        name = self.settings.topic(spec.name)
        producer = self.app.producer
        futures = [
            await producer.send(name, key, value, None, None, headers)
            for key, value, headers in records
        ]
        if wait:
            await asyncio.gather(*futures)
        else:
            self.app.deferred_sends.add(futures)

    async def publish_to_partitions(self, spec: TopicSpec,
                                    messages: list[tuple[int, bytes]]) -> None:
        """Send ``(partition, value)`` messages (packed internal records) and wait until the
        broker has them."""
        if not messages:
            return
        name = self.settings.topic(spec.name)
        producer = self.app.producer
        futures = [await producer.send(name, None, value, partition, None, None)
                   for partition, value in messages]
        await asyncio.gather(*futures)

    async def shutdown(self) -> None:
        """Run the ``on_shutdown`` hooks, then close ClickHouse."""
        for hook in self.on_shutdown:
            result = hook()
            if inspect.isawaitable(result):
                await result
        if self.clickhouse is not None:
            await self.clickhouse.close()

    async def ensure_started(self) -> None:
        """Start the sinks once (agents call it before their first batch)."""
        if self.sinks_started:
            return
        if self._ready is None:
            self._ready = asyncio.Lock()
        async with self._ready:
            if not self.sinks_started:
                if self.clickhouse is not None:
                    await self.clickhouse.start()
                for start in self.starters:
                    await start()
                tune_gc(self.settings.gc_young_threshold)  # what start-up built stays
                self.sinks_started = True
