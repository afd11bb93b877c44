"""``pulse generate``: simulate a stream, save it, and/or replay it into Kafka."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipeline.devtools.generator.config import GeneratorConfig
from pipeline.devtools.generator.io import write_stream
from pipeline.devtools.generator.stream import GeneratedStream, OutRecord

console = Console()


def summary(stream: GeneratedStream, seconds: float) -> Table:
    """Records per topic and kind, with the headline facts of the ground truth as caption."""
    truth = stream.truth
    table = Table("topic", "valid", "late", "duplicate", "malformed", "total",
                  title=f"{len(stream.records):,} records generated in {seconds:.1f}s")
    for topic, counts in truth.topic_counts.items():
        values = (counts.valid, counts.late, counts.duplicate, counts.malformed)
        table.add_row(topic, *(f"{v:,}" for v in values), f"{sum(values):,}")
    tiers = Counter(e.expected_tier for e in truth.episodes)
    weak = sum(bool(f.below_target) for f in truth.funnels)
    table.caption = (
        f"{truth.start:%Y-%m-%d %H:%M} → {truth.end:%Y-%m-%d %H:%M} UTC · "
        f"{len(truth.communities)} communities · episodes: "
        f"{', '.join(f'{tiers[t]} {t}' for t in ('severe', 'moderate', 'mild')) or 'none'} · "
        f"{len(truth.funnels)} campaigns ({weak} with a step < 85%) · "
        f"{truth.orders.total.orders:,} orders, GMV ¥{truth.orders.total.gmv_fen / 100:,.2f} · "
        f"{len(truth.silent_members)} silent members · {len(truth.pii_messages)} messages with PII"
    )
    injected = len({a.anomaly_id for a in truth.anomalies})
    if injected:
        table.caption += f" · {injected} injected anomalies"
    return table


def send_records(records: list[OutRecord], rate: float) -> int:
    """Send ``records`` to Kafka (PULSE_* settings) with a progress bar; returns how many."""
    from pipeline.app.settings import load_settings
    from pipeline.devtools.generator.kafka import produce
    from pipeline.topics import INPUT_TOPICS, ensure_topics

    settings = load_settings()
    ensure_topics(settings, INPUT_TOPICS)
    columns = (TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[speed]}"), TimeElapsedColumn())
    started = time.perf_counter()
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("produce", total=len(records), speed="")

        def advance(sent: int) -> None:
            speed = sent / max(time.perf_counter() - started, 1e-6)
            progress.update(task, completed=sent, speed=f"{speed:,.0f} rec/s")

        sent = produce(records, settings, rate=rate or None, on_progress=advance)
    console.print(f"sent {sent:,} records to {settings.kafka_bootstrap} "
                  f"in {time.perf_counter() - started:.1f}s")
    return sent


def generate_command(
    seed: int = typer.Option(7, help="Random seed: same seed and start, same bytes."),
    communities: int = typer.Option(6, min=1, help="Simulated communities (wechat/wecom/qq)."),
    days: float = typer.Option(2.0, min=0.01, help="Simulated days of activity."),
    start: datetime | None = typer.Option(
        None, help="Period start in UTC (default: this hour minus --days)."),
    scale: float = typer.Option(1.0, min=0.01, help="Activity multiplier (stream size)."),
    late_rate: float = typer.Option(0.03, min=0, max=0.5, help="Share of events delivered late."),
    max_late_s: int = typer.Option(300, min=1, help="Maximum lateness in seconds of event time."),
    duplicate_rate: float = typer.Option(0.03, min=0, max=0.5, help="Share redelivered."),
    malformed_rate: float = typer.Option(0.005, min=0, max=0.5, help="Garbage per valid event."),
    episodes: bool = typer.Option(True, "--episodes/--no-episodes",
                                  help="Negative episodes (off: a clean stream)."),
    anomalies: int = typer.Option(0, min=0, max=20, help="Hour-scale anomalies injected per "
                                  "community after 8 days (needs --days >= 9), listed in the "
                                  "ground truth."),
    out: Path | None = typer.Option(None, help="Write events.jsonl and truth.json here."),
    to_kafka: bool = typer.Option(False, "--produce/--no-produce",
                                  help="Send the records to Kafka (PULSE_* settings)."),
    rate: float = typer.Option(0.0, min=0, help="Records/s when producing (0 = max)."),
) -> None:
    """Generate a realistic community event stream with its ground truth."""
    from pipeline.devtools.generator.simulation import generate

    config = GeneratorConfig(seed=seed, communities=communities, days=days, start=start,
                             scale=scale, late_rate=late_rate, max_late_s=max_late_s,
                             duplicate_rate=duplicate_rate, malformed_rate=malformed_rate,
                             episodes=episodes, anomalies=anomalies)
    started = time.perf_counter()
    try:
        stream = generate(config)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(summary(stream, time.perf_counter() - started))
    if out is not None:
        write_stream(stream, out)
        console.print(f"wrote {out / 'events.jsonl'} and {out / 'truth.json'}")
    if to_kafka:
        send_records(stream.records, rate)


def register(app: typer.Typer) -> None:
    """Add the ``generate`` command to the ``pulse`` CLI."""
    app.command("generate")(generate_command)
