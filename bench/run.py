"""``make bench``: pipeline throughput against a ceiling and a baseline, one run.

All three consumers read the same generated events, pre-loaded into the same
embedded broker, so their rates are comparable as ratios:
- raw aiokafka consume loop: the ceiling (no processing at all);
- naive Faust agent, one table update per event: the baseline;
- the pipeline end to end (validation, DLQ, windows, ClickHouse, metric topic).
Then produce-to-alert latency in the split topology at fixed input rates
(see :mod:`bench.latency`), then the metrics worker's peak RSS after a million
distinct members, on a broker of its own (see :mod:`bench.members_rss`).
Then scorer speed, and the negative-feedback evaluation on real text
(:mod:`bench.feedback_eval`, also ``make eval``).  Results go to
``bench/results.json`` and a table on the terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from bench import latency
from bench.results_file import RESULTS
from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.generator import GeneratorConfig, generate, produce
from pipeline.devtools.stack import Broker, WorkerProcess, free_port, prepare
from pipeline.topics import INPUT_TOPICS

LATENCY_RUNS = (
    ("alert_latency_p99_at_5000_per_s", 5000.0, True, True),
    ("alert_latency_p99_at_2000_per_s", 2000.0, True, True),
    ("alert_latency_p99_at_1000_per_s", 1000.0, True, True),
    ("alert_path_alone_latency_p99_at_5000_per_s", 5000.0, False, True),
    ("alert_latency_p99_at_5000_per_s_shared_cpus", 5000.0, True, False),
)
"""(name, records/s, with the metrics worker on the same machine, alert worker on a CPU
of its own).  The last one shares every CPU with the broker, the load generator and
the metrics worker: what a deployment that crowds them together gets."""
console = Console()


def entry(name: str, value: float, unit: str, baseline: str, baseline_value: float) -> dict:
    return {"name": name, "value": round(value, 1), "unit": unit, "baseline": baseline,
            "baseline_value": round(baseline_value, 1),
            "ratio": round(value / baseline_value, 4) if baseline_value else None}


async def raw_consume_rate(settings: Settings, total: int) -> float:
    consumer = AIOKafkaConsumer(
        *[settings.topic(spec.name) for spec in INPUT_TOPICS],
        bootstrap_servers=settings.kafka_bootstrap, group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=5000,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        seen = 0
        started = None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                if started is None:
                    started = time.perf_counter()
                seen += len(records)
        return total / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def poll_rate(read_count, total: int, timeout: float = 600) -> float:
    """Events/s between the first observed progress and completion."""
    deadline = time.monotonic() + timeout
    first: tuple[float, float] | None = None
    while time.monotonic() < deadline:
        count = read_count()
        now = time.perf_counter()
        if count > 0 and first is None:
            first = (now, count)
        if count >= total and first is not None:
            elapsed = now - first[0]
            return (total - first[1]) / elapsed if elapsed > 0 else float("nan")
        time.sleep(0.5)  # a scrape costs the worker a few ms: poll gently
    raise TimeoutError("consumer did not finish")


def naive_faust_rate(settings: Settings, total: int, work: Path) -> float:
    port = free_port()
    env = {**os.environ, "BENCH_TOPIC_PREFIX": settings.topic_prefix,
           "BENCH_TOPICS": ",".join(spec.name for spec in INPUT_TOPICS),
           "BENCH_APP_ID": f"bench-naive-{uuid.uuid4().hex[:6]}",
           "BENCH_BOOTSTRAP": settings.kafka_bootstrap, "BENCH_DATA_DIR": str(work / "naive"),
           "BENCH_WEB_PORT": str(port), "BENCH_PARTITIONS": str(settings.topic_partitions)}
    with (work / "naive.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bench.naive_app", "worker"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def count() -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=1) as r:
                    return json.loads(r.read())["handled"]
            except OSError:
                return 0
        return poll_rate(count, total)
    finally:
        process.terminate()
        process.wait(30)


def pipeline_rate(settings: Settings, total: int, work: Path) -> float:
    worker = WorkerProcess(settings, work / "pipeline.log")
    worker.start()
    try:
        inputs = {f'pulse_events_processed_total{{topic="{spec.name}"}}' for spec in INPUT_TOPICS}

        def processed() -> float:  # input records only: internal topics count too
            return sum(v for k, v in worker.prometheus_samples().items() if k in inputs)

        return poll_rate(processed, total)
    finally:
        worker.stop()


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    stream = generate(GeneratorConfig(seed=3, communities=8, days=2.0))
    total = len(stream.records)
    console.print(f"generated {total:,} records; work dir {work}")
    broker = Broker(work / "tansu.log")
    broker.start()
    entries: list[dict] = []
    try:
        settings = load_settings(
            kafka_bootstrap=broker.bootstrap, topic_prefix="bench.", app_id="bench-pipeline",
            clickhouse_url=f"chdb://{work / 'clickhouse'}", data_dir=work / "state",
            web_port=free_port(),
        )
        prepare(settings)
        produce(stream.records, settings)
        raw = asyncio.run(raw_consume_rate(settings, total))
        console.print(f"raw aiokafka consume: {raw:,.0f} records/s")
        naive = naive_faust_rate(settings, total, work)
        console.print(f"naive Faust agent:    {naive:,.0f} records/s")
        ours = pipeline_rate(settings, total, work)
        console.print(f"pipeline end to end:  {ours:,.0f} records/s")
        entries += [
            entry("pipeline_vs_raw_consume", ours, "events/s", "raw_aiokafka_consume", raw),
            entry("pipeline_vs_naive_faust", ours, "events/s", "naive_faust_agent", naive),
        ]
        for name, rate, metrics_worker, dedicated_cpus in LATENCY_RUNS:
            latency_settings = settings.model_copy(update={
                "topic_prefix": f"bench-{name}.", "app_id": f"bench-{name}",
                "clickhouse_url": f"chdb://{work / f'clickhouse-{name}'}",
                "data_dir": work / f"state-{name}",
            })
            prepare(latency_settings)
            measured = latency.measure(
                latency_settings, work, rate, metrics_worker=metrics_worker,
                broker_pid=broker.process.pid, dedicated_cpus=dedicated_cpus,
            )
            console.print(f"{name} ({rate:,.0f} records/s): {measured}")
            if "p99_s" in measured:
                entries.append({
                    "name": name, "value": round(measured["p99_s"], 3), "unit": "s",
                    "baseline": "target_1s", "baseline_value": 1.0,
                    "ratio": round(measured["p99_s"] / 1.0, 3),
                    "details": {k: round(v, 3) for k, v in measured.items()},
                })
        delivery_settings = settings.model_copy(update={
            "topic_prefix": "bench-delivery.", "app_id": "bench-delivery",
            "clickhouse_url": f"chdb://{work / 'clickhouse-delivery'}",
            "data_dir": work / "state-delivery",
        })
        prepare(delivery_settings)
        entries += latency.delivery_entries(delivery_settings, work, broker.process.pid)
    finally:
        broker.stop()
    entries += members_rss_entries(work)
    entries += sink_entries()
    entries += anomaly_quality_entries()
    entries += sentiment_entries()
    entries += feedback_entries()
    results = {"benchmarks": entries, "machine": machine(),
               "when": datetime.now(UTC).isoformat(timespec="seconds"),
               "events": total}
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = Table("benchmark", "value", "unit", "baseline", "baseline value", "ratio",
                  title=f"bench/results.json ({total:,} events)")
    for e in entries:
        table.add_row(e["name"], f"{e['value']:,.1f}", e["unit"], e["baseline"],
                      f"{e['baseline_value']:,.1f}", f"{e['ratio']}")
    console.print(table)


def members_rss_entries(work: Path) -> list[dict]:
    """Peak RSS of a metrics worker after a million members (bench/members_rss.py, on a
    broker of its own; 7 to 9 minutes per store here).  ``BENCH_MEMBERS_RSS``: the stores
    to run, comma-separated (default ``rocksdb``, the production store; ``rocksdb,memory``
    adds ``worker_rss_mib_1m_members_memory_store``), or ``0`` to skip;
    ``python -m bench.members_rss`` runs it alone."""
    from bench import members_rss

    wanted = os.environ.get("BENCH_MEMBERS_RSS", "rocksdb")
    stores = tuple(s for s in wanted.split(",") if s in members_rss.STORES)
    if wanted == "0" or not stores:
        return []
    try:
        return members_rss.with_broker(work, stores=stores, say=console.print)
    except Exception as exc:  # noqa: BLE001 - keep the other entries of a long run
        console.print(f"[red]members RSS benchmark failed[/red]: {exc!r} (logs in {work})")
        return []


def sink_entries() -> list[dict]:
    """The ClickHouse sink against a raw insert of the same rows (bench/sink_insert.py;
    chdb in this process: nothing before it here opens one)."""
    from bench.sink_insert import run

    return run(say=console.print)


def anomaly_quality_entries() -> list[dict]:
    """Anomaly detection on generated streams (bench/anomaly_quality.py, no broker)."""
    from bench.anomaly_quality import run

    return run()


def sentiment_entries() -> list[dict]:
    """Sentiment scorer speed (SnowNLP-compatible and default modes vs SnowNLP itself)."""
    from bench.sentiment_bench import run

    return run()


def feedback_entries() -> list[dict]:
    """Negative feedback on held-out real text (bench/feedback_eval.py, ``make eval``)."""
    from bench.feedback_eval import run

    return run()


if __name__ == "__main__":
    main()
