"""``sink_vs_raw_insert``: the ClickHouse sink's rows/s against a raw clickhouse-connect insert.

Two entries against the same floor, the rows inserted by a plain ``client.insert``:

- ``sink_vs_raw_insert`` (target >= 0.8x): the sink on the very same rows, so the
  sink's own work is measured: deduplication token, retry loop, hop to the writer
  thread, Prometheus series.
- ``store_path_vs_raw_insert`` (no target; where an agent's time goes): the whole
  path an agent takes to store raw chat, from ``(event, ChatMessage)`` pairs:
  row building with chat text masked (``mask_pii``), the batch identity from
  source offsets, then the sink.  Masking is a privacy requirement the floor does
  not have; the gap says what it costs.

Input: generated chat (``pipeline.devtools.generator``, six communities at scale 1,
a fixed past start), decoded with ``schemas.decode`` as the edge does; rejects are
left out, and so are redelivered copies of a message (same table key), so every
inserted row stays a row under ``FINAL`` and both counts can be checked exactly.
Each message gets a stand-in Kafka event (partition by key, offsets per partition).

- **sink** (``store_path_vs_raw_insert``): ``RAW_TABLES[ChatMessage].write(sink, items,
  offsets_identity(events))`` per batch, awaited in order on an asyncio loop, as
  ``agents/community_activity.py`` stores chat: row building, masking, identity,
  token, the writer thread and Prometheus counters are all timed.
- **raw** (the baseline): ``client.insert("<db>.chat_messages", rows,
  column_names=...)`` of the very same rows, built (and masked) before the clock starts,
  in the same batches, on a client of the same engine.
- **prebuilt** (``sink_vs_raw_insert``): ``sink.insert`` of those pre-built rows with
  the same identities: the sink's own cost (token, retry loop, thread hop, Prometheus)
  apart from building the rows.

Batches are ``Settings.batch_max`` items (10,000 by default): the most events
``pipeline/ingress/batches.py`` hands an agent at once (``stream.take_events``),
so the largest, cheapest-per-row write a busy agent makes.  Each repetition writes
into fresh databases (``sink_<i>``, ``raw_<i>``, ``prebuilt_<i>``) created with the
pipeline's schema, so no run deduplicates against another; sink and raw swap order
every repetition; all run under a worker's garbage-collector settings
(:func:`worker_gc`).  The rate of each side is the best of ``repeats`` (3): on a
shared machine noise only ever slows a run down.  After every run each table must
hold exactly the rows (``count()`` and ``count() FINAL``) and the same content bar
``ingested_at``; anything else raises, so a run cannot pass by inserting nothing.

``python -m bench.sink_insert [--rows N] [--batch N] [--repeats N] [--url URL]``
prints the entry and merges it into ``bench/results.json`` (``--no-merge``: not);
``run()`` returns it for bench/run.py.  Default engine: embedded chdb in a fresh
temporary directory (chdb serves one directory per process: call ``run`` from a
process that has no other chdb session open).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import tempfile
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from clickhouse_connect.driver import options as client_options
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from bench.results_file import RESULTS, merge_into_results
from pipeline.app.settings import Settings
from pipeline.devtools.generator import GeneratorConfig, generate
from pipeline.egress.clickhouse.client import ClickHouseSink, connect, create_schema
from pipeline.egress.clickhouse.tables import RAW_TABLES, RawItem
from pipeline.egress.prometheus import PrometheusSeries
from pipeline.ingress.batches import offsets_identity
from pipeline.runtime.gc_tuning import tune_gc
from pipeline.topics import CHAT_MESSAGES
from schemas.decode import Rejection, decode
from schemas.events import ChatMessage

NAME = "sink_vs_raw_insert"
STORE_PATH_NAME = "store_path_vs_raw_insert"
BASELINE = "raw_clickhouse_connect_insert"
ROWS = 200_000
BATCH = int(Settings.model_fields["batch_max"].default)
"""The agents' batch size (``Settings.batch_max``), read from its declared default."""
PARTITIONS = int(Settings.model_fields["topic_partitions"].default)
REPEATS = 3
GC_YOUNG = int(Settings.model_fields["gc_young_threshold"].default)
START = datetime(2026, 11, 2, tzinfo=UTC)
"""A fixed past Monday: the same stream every run (tests/support.py's REFERENCE_START)."""
RETENTION_DAYS = 20_000
"""Far beyond the stream's age: the tables' TTL must not delete rows while we count."""
CHAT_PER_COMMUNITY_DAY = 5_000
"""About what the generator writes at scale 1 (SOAK_STREAM: 34k chat, 6 groups, 1 day)."""
SPEC = RAW_TABLES[ChatMessage]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Message:
    """What ``offsets_identity`` and the raw row read of a Faust event's message."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class _Event:
    message: _Message


def chat_items(rows: int, seed: int = 29, communities: int = 6) -> list[RawItem]:
    """``rows`` valid, distinct chat messages of a generated stream, each with its event."""
    days = rows / (communities * CHAT_PER_COMMUNITY_DAY) * 1.3 + 0.02
    while True:
        stream = generate(GeneratorConfig(seed=seed, communities=communities,
                                          days=min(days, 400.0), start=START))
        items: list[RawItem] = []
        seen: set[tuple[str, str]] = set()
        offsets = [0] * PARTITIONS
        for record in stream.records:
            if record.topic != CHAT_MESSAGES.name:
                continue
            partition = zlib.crc32(record.key or b"") % PARTITIONS
            offset, offsets[partition] = offsets[partition], offsets[partition] + 1
            message = decode(record.value, ChatMessage)
            if isinstance(message, Rejection):
                continue
            key = (message.community_id, message.message_id)
            if key in seen:
                continue
            seen.add(key)
            items.append((_Event(_Message(record.topic, partition, offset)), message))
            if len(items) == rows:
                return items
        if days >= 400.0:
            raise ValueError(f"the generator gave {len(items)} chat messages, not {rows}")
        days *= 2


@contextmanager
def worker_gc(young_threshold: int = GC_YOUNG) -> Iterator[None]:
    """A worker's garbage-collector settings while measuring (``tune_gc``, as at start-up),
    restored afterwards.  Freezing also hides the prepared input from the collector: a
    worker holds one batch, not the whole input, and CPython's default thresholds made
    every full collection walk all of it (the sink side ran at 45k-70k rows/s instead
    of 80k-105k here)."""
    thresholds = gc.get_threshold()
    tune_gc(young_threshold)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def batches(values: list[T], size: int) -> list[list[T]]:
    """``values`` in runs of ``size``, as an agent's consecutive batches."""
    return [values[i:i + size] for i in range(0, len(values), size)]


async def _sink_write(url: str, database: str,
                      write: Callable[[ClickHouseSink], Awaitable[None]]
                      ) -> tuple[float, CollectorRegistry]:
    """Seconds ``write`` takes on a sink of ``database`` (opening it is not timed)."""
    registry = CollectorRegistry()
    sink = ClickHouseSink(url, database, PrometheusSeries(registry),
                          retention_days=RETENTION_DAYS)
    await sink.start()
    try:
        started = time.perf_counter()
        await write(sink)
        return time.perf_counter() - started, registry
    finally:
        await sink.close()


def sink_seconds(url: str, database: str, write: Callable[[ClickHouseSink], Awaitable[None]],
                 rows: int) -> float:
    """A sink side; also checks the sink's own count of rows written."""
    seconds, registry = asyncio.run(_sink_write(url, database, write))
    counted = registry.get_sample_value("pulse_sink_rows_total",
                                        {"sink": "clickhouse", "table": SPEC.name})
    if counted != rows:
        raise RuntimeError(f"the sink counted {counted} rows written, not {rows}")
    return seconds


def as_agent(parts: list[list[RawItem]]) -> Callable[[ClickHouseSink], Awaitable[None]]:
    """The measured path: what ``agents/community_activity.py`` does with a batch's chat."""
    async def write(sink: ClickHouseSink) -> None:
        for items in parts:
            await SPEC.write(sink, items, offsets_identity([event for event, _ in items]))
    return write


def prebuilt(parts: list[list[tuple]], identities: list[str]
             ) -> Callable[[ClickHouseSink], Awaitable[None]]:
    """``sink.insert`` of the baseline's pre-built rows: the sink's own cost, for details."""
    async def write(sink: ClickHouseSink) -> None:
        for rows, identity in zip(parts, identities, strict=True):
            await sink.insert(SPEC.name, SPEC.columns, rows, identity)
    return write


def raw_seconds(client: Client, database: str, parts: list[list[tuple]]) -> float:
    """The baseline: plain inserts of pre-built rows (the schema made before the clock)."""
    create_schema(client, database, RETENTION_DAYS)
    table, columns = f"{database}.{SPEC.name}", list(SPEC.columns)
    started = time.perf_counter()
    for rows in parts:
        client.insert(table, rows, column_names=columns)
    return time.perf_counter() - started


CONTENT = ("SELECT count(), sum(cityHash64(message_id, community_id, member_id, text, "
           "mentions, ts, kafka_partition, kafka_offset)) FROM {table}")
"""Rows and a content checksum bar ``ingested_at`` (which the sink stamps itself)."""


def check(client: Client, databases: Sequence[str], rows: int) -> dict[str, int]:
    """Each database's chat table holds exactly ``rows`` rows, the same in all; else raise.

    ``FINAL`` too: a row folded into another by its key would not be stored data."""
    counts: dict[str, int] = {}
    sums: set[int] = set()
    for database in databases:
        table = f"{database}.{SPEC.name}"
        [(plain, checksum)] = client.query(CONTENT.format(table=table)).result_rows
        final = client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0]
        if plain != rows or final != rows:
            raise RuntimeError(f"{table} holds {plain} rows ({final} FINAL), not {rows}")
        counts[database] = int(plain)
        sums.add(int(checksum))
    if len(sums) != 1:
        raise RuntimeError(f"the tables of {list(databases)} differ in content")
    return counts


def engine(client: Client, url: str) -> str:
    if url.startswith("chdb://"):
        import chdb

        return f"chdb {chdb.__version__} (ClickHouse {client.server_version}), embedded"
    return f"ClickHouse {client.server_version} server over HTTP(S)"


def entry(value: float, baseline_value: float, details: dict, name: str = NAME) -> dict:
    """bench/run.py's ``entry`` shape, with details."""
    return {"name": name, "value": round(value, 1), "unit": "rows/s", "baseline": BASELINE,
            "baseline_value": round(baseline_value, 1),
            "ratio": round(value / baseline_value, 4) if baseline_value else None,
            "details": details}


def run(rows: int = ROWS, batch: int = BATCH, repeats: int = REPEATS, url: str | None = None,
        keep: Path | None = None, say: Callable[[str], None] = print) -> list[dict]:
    """The ``sink_vs_raw_insert`` entry, on ``url`` (default: chdb in a fresh temp dir,
    or in ``keep``, left in place for inspection).  On a server, the databases get a
    random suffix and are dropped afterwards."""
    items = chat_items(rows)
    prebuilt_rows = SPEC.rows(items, datetime.now(UTC))
    sink_parts, raw_parts = batches(items, batch), batches(prebuilt_rows, batch)
    identities = [offsets_identity([event for event, _ in part]) for part in sink_parts]
    scratch = None
    if url is None:
        if keep is None:
            scratch = Path(tempfile.mkdtemp(prefix="pulse-bench-sink-"))
        url = f"chdb://{keep or scratch}"
    suffix = "" if url.startswith("chdb://") else f"_{uuid.uuid4().hex[:6]}"
    client = connect(url)
    _ = (client_options.pd, client_options.np)  # imported lazily by the first insert
    created: list[str] = []
    try:
        rates: dict[str, list[float]] = {"sink": [], "raw": [], "prebuilt": []}
        with worker_gc():
            for i in range(1, repeats + 1):
                databases = {side: f"{side}_{i}{suffix}" for side in rates}
                created += databases.values()
                measures: dict[str, Callable[[], float]] = {
                    "raw": lambda db=databases["raw"]: raw_seconds(client, db, raw_parts),
                    "sink": lambda db=databases["sink"]: sink_seconds(
                        url, db, as_agent(sink_parts), rows),
                    "prebuilt": lambda db=databases["prebuilt"]: sink_seconds(
                        url, db, prebuilt(raw_parts, identities), rows),
                }
                order = ["raw", "sink", "prebuilt"] if i % 2 else ["sink", "raw", "prebuilt"]
                for side in order:
                    seconds = measures[side]()
                    rates[side].append(rows / seconds)
                    say(f"run {i} {side:8}: {rows / seconds:>10,.0f} rows/s ({seconds:.2f} s)")
                check(client, list(databases.values()), rows)
        sink, raw = max(rates["sink"]), max(rates["raw"])
        details = {
            "rows": rows, "batch": batch, "batches": len(sink_parts), "repeats": repeats,
            "statistic": f"best of {repeats}", "sink_rows_per_s": round(sink, 1),
            "raw_rows_per_s": round(raw, 1),
            "sink_prebuilt_rows_per_s": round(max(rates["prebuilt"]), 1),
            "runs_rows_per_s": {side: [round(r) for r in runs] for side, runs in rates.items()},
            "engine": engine(client, url), "table": SPEC.name, "databases": created,
            "gc": f"worker settings (tune_gc({GC_YOUNG})), prepared input frozen",
        }
        return [entry(max(rates["prebuilt"]), raw, details),
                entry(sink, raw, details, STORE_PATH_NAME)]
    finally:
        if suffix:
            for database in created:
                client.command(f"DROP DATABASE IF EXISTS {database}")
        client.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink_insert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--url", help="ClickHouse URL (default: chdb in a temp dir)")
    parser.add_argument("--keep", type=Path, help="chdb directory to write and leave in place")
    parser.add_argument("--output", type=Path, help="also write the entries here as JSON")
    parser.add_argument("--no-merge", action="store_true",
                        help="do not put the entry into bench/results.json")
    args = parser.parse_args(argv)
    entries = run(args.rows, args.batch, args.repeats, args.url, args.keep)
    text = json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    if not args.no_merge:
        merge_into_results(entries, (NAME, STORE_PATH_NAME), "sink_insert_when", RESULTS)


if __name__ == "__main__":
    main()
