"""``make demo``: generate, start the embedded stack, replay, report, stop.

Everything lives under one directory that is reset at the start of each run
(the embedded broker keeps topics in memory only, so old ClickHouse rows
would otherwise mix with a fresh, differently-timed stream).
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from pipeline.app.settings import Settings, load_settings
from pipeline.devtools.campaign_report import print_campaigns, read_campaigns
from pipeline.devtools.generator import GeneratorConfig, generate, produce, write_stream
from pipeline.devtools.generator.io import REGISTRY_FILE
from pipeline.devtools.html_report import write_report
from pipeline.devtools.progress import wait_until_committed
from pipeline.devtools.report import (
    DAY_TARGETS,
    DayHealthRow,
    compare_minutes,
    match_episodes,
    read_day_health,
    read_report,
    truth_minute_counts,
)
from pipeline.devtools.stack import Broker, WorkerProcess, free_port, prepare
from pipeline.egress.clickhouse.client import connect
from schemas.alerts import TIER_NAMES_ZH


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 7
    communities: int = 6
    days: float = 2.0
    scale: float = 1.0
    rate: float | None = None
    directory: Path = Path("var/demo")


def demo_settings(directory: Path, bootstrap: str) -> Settings:
    return load_settings(
        kafka_bootstrap=bootstrap,
        app_id="community-pulse-demo",
        clickhouse_url=f"chdb://{(directory / 'clickhouse').resolve()}",
        data_dir=(directory / "state").resolve(),
        web_port=free_port(),
        campaigns_file=(directory / "stream" / REGISTRY_FILE).resolve(),
    )


def run_demo(options: DemoOptions, console: Console) -> int:
    directory = options.directory
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    logs = directory / "logs"

    console.rule("[bold]1/4 Generate a realistic community event stream")
    started = time.perf_counter()
    stream = generate(GeneratorConfig(seed=options.seed, communities=options.communities,
                                      days=options.days, scale=options.scale, snapshots=True))
    write_stream(stream, directory / "stream")
    kinds: dict[str, int] = {}
    for record in stream.records:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    console.print(
        f"{len(stream.records):,} records in {time.perf_counter() - started:.1f}s "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))}) -> {directory / 'stream'}"
    )

    console.rule("[bold]2/4 Start the embedded stack (Tansu broker, Faust worker, chdb)")
    broker = Broker(logs / "tansu.log")
    broker.start()
    settings = demo_settings(directory, broker.bootstrap)
    worker = WorkerProcess(settings, logs / "worker.log")
    try:
        prepare(settings)
        console.print(f"broker {broker.bootstrap}; starting worker (log {worker.log_path}) ...")
        worker.start()
        console.print(f"worker healthy: {worker.url}/health, metrics {worker.url}/metrics")

        console.rule("[bold]3/4 Replay the stream through the pipeline")
        snapshot = _replay(stream.records, settings, options.rate, worker, console)
    finally:
        code = worker.stop()
        broker.stop()
    console.print(f"worker stopped cleanly (exit {code}); broker stopped")

    console.rule("[bold]4/4 Results")
    return _report(settings, stream.truth, snapshot, directory, console)


def _replay(records, settings: Settings, rate, worker: WorkerProcess, console: Console):
    total = len(records)
    produced = [0]
    failure: list[BaseException] = []

    def send() -> None:
        try:
            produce(records, settings, rate=rate, on_progress=lambda n: produced.__setitem__(0, n))
            produced[0] = total
        except BaseException as exc:  # surfaced in the main thread
            failure.append(exc)

    producer = threading.Thread(target=send, name="producer", daemon=True)
    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    started = time.perf_counter()
    with Progress(*columns, console=console) as progress:
        sent_task = progress.add_task("produced", total=total, rate="")
        done_task = progress.add_task("processed", total=total, rate="")
        producer.start()
        processed = 0.0
        produce_rate = ""
        while processed < total:
            if failure:
                raise failure[0]
            time.sleep(0.5)
            processed = worker.metric_total("pulse_events_processed_total")
            elapsed = time.perf_counter() - started
            if not produce_rate:
                rate_now = f"{produced[0] / elapsed:,.0f}/s"
                if produced[0] >= total:
                    produce_rate = rate_now
            progress.update(sent_task, completed=produced[0], rate=produce_rate or rate_now)
            progress.update(done_task, completed=processed, rate=f"{processed / elapsed:,.0f}/s")
    producer.join()
    console.print(f"{total:,} records processed in {time.perf_counter() - started:.1f}s")
    wait_until_committed(settings, lambda: worker.healthy())
    console.print("all agents done (sentiment and alerts included), offsets committed")
    return worker.prometheus_samples()


def _report(settings: Settings, truth, snapshot: dict[str, float], directory: Path,
            console: Console) -> int:
    client = connect(settings.clickhouse_url)
    try:
        report = read_report(client, settings.clickhouse_database)
        days = read_day_health(client, settings.clickhouse_database)
        campaigns = read_campaigns(client, settings.clickhouse_database)
        html_report = write_report(client, settings.clickhouse_database,
                                   directory / "report.html")
    finally:
        client.close()
    expected = truth_minute_counts(truth)
    problems = compare_minutes(report.minute_counts, expected)

    events = Table("input topic", "consumed", "valid", "dead letters", title="Events in")
    for key, value in sorted(snapshot.items()):
        if key.startswith("pulse_events_consumed_total{"):
            topic = key.split('"')[1]
            valid = snapshot.get(f'pulse_events_valid_total{{topic="{topic}"}}', 0)
            events.add_row(topic, f"{value:,.0f}", f"{valid:,.0f}", f"{value - valid:,.0f}")
    console.print(events)

    activity = Table("community", "messages", "minute windows", "final windows",
                     title="Chat activity (ClickHouse community_activity_minute FINAL)")
    for community, (messages, windows, final) in report.community_messages.items():
        activity.add_row(community, f"{messages:,}", f"{windows:,}", f"{final:,}")
    console.print(activity)

    mood = Table("community", "scored member messages", "positive share", "negative share",
                 title="Sentiment (ClickHouse message_sentiment; target positive >= 60%)")
    for community, (scored, positive, negative) in report.sentiment.items():
        mark = "" if positive >= 0.6 else " [yellow](below target)[/yellow]"
        mood.add_row(community, f"{scored:,}", f"{positive:.1%}{mark}", f"{negative:.1%}")
    console.print(mood)

    incidents = Table("incident", "tier", "status", "communities", "negative msgs", "members",
                      "terms", title="Sentiment incidents (alerts.sentiment.v1, latest revision)")
    for alert in report.incidents:
        incidents.add_row(alert.incident_id, f"{alert.tier} {TIER_NAMES_ZH[alert.tier]}",
                          alert.status, ", ".join(alert.community_ids),
                          str(alert.negative_messages), str(alert.members),
                          ", ".join(alert.matched_terms[:5]))
    console.print(incidents)
    for episode, hits in match_episodes(report.incidents, truth.episodes):
        tiers = sorted({h.tier for h in hits}) or ["none"]
        ok = "[green]ok[/green]" if episode.expected_tier in tiers else "[red]MISSED[/red]"
        if tiers == ["none"] and episode.expected_tier == "mild":
            ok = "[yellow]missed: a complaint the rules do not catch (make eval)[/yellow]"
        console.print(f"episode {episode.episode_id} in {', '.join(episode.community_ids)}: "
                      f"expected {episode.expected_tier}, got {', '.join(tiers)} {ok}")

    dlq = Table("reason", "records", title="Dead letters (pipeline.dead-letter.v1)")
    for reason, count in report.dead_letters.items():
        dlq.add_row(reason, f"{count:,}")
    console.print(dlq)
    duplicates = sum(v for k, v in snapshot.items() if k.startswith("pulse_events_duplicate_total"))
    late = sum(v for k, v in snapshot.items() if k.startswith("pulse_events_too_late_total"))
    console.print(f"duplicates recognised: {duplicates:,.0f}; too late for a window: {late:,.0f}")
    console.print(f"raw rows: {', '.join(f'{k} {v:,}' for k, v in report.raw_rows.items())}")
    if problems:
        console.print(f"[red]{len(problems)} minute windows differ from the ground truth:[/red]")
        for line in problems[:10]:
            console.print(f"  {line}")
    else:
        console.print(f"[green]all {len(expected):,} community-minute windows match the "
                      f"generator's ground truth exactly[/green]")
    console.print(
        f"data: ClickHouse (chdb) {settings.clickhouse_url}, stream and truth "
        f"{directory / 'stream'}, logs {directory / 'logs'}"
    )
    if days:
        console.print(day_health_table(days))
    else:
        console.print("[yellow]no community days in community_health_day yet[/yellow]")
    campaign_problems = print_campaigns(campaigns, truth, console)
    console.print(f"[bold]report with plots: {html_report.resolve()}[/bold] (open it in a "
                  "browser; works offline)")
    return 1 if problems or campaign_problems else 0


HOT_WORDS_SHOWN = 5


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _per_member(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _judged(text: str, missed: bool) -> Text:
    return Text(f"{text} !", style="bold red") if missed else Text(text)


def day_health_table(rows: list[DayHealthRow]) -> Table:
    """One row per community: its most recent final day (docs/metrics.md); values below
    their target are red and marked with '!'."""
    number = {"justify": "right"}
    table = Table(
        Column("community"), Column("day"), Column("final"),
        Column("members", **number), Column("DAU", **number), Column("WAU", **number),
        Column("MAU", **number), Column("sticki-\nness", **number),
        Column("inter-\naction\nrate", **number), Column("real\ninter-\naction", **number),
        Column("UGC\nshare", **number), Column("3+2\nslots", **number),
        Column("per\nmember\n30d", **number), Column("joins\nleaves\nremoved"),
        Column(f"top {HOT_WORDS_SHOWN} hot words"),
        title="Community health per day (ClickHouse community_health_day FINAL, "
              "most recent final day)",
        caption=f"[red]red, with ![/red]: below target (stickiness DAU/MAU >= "
                f"{DAY_TARGETS['stickiness']:.0%}, interaction rate >= "
                f"{DAY_TARGETS['interaction_rate']:.0%}, real interaction rate >= "
                f"{DAY_TARGETS['real_interaction_rate']:.0%}, UGC share >= "
                f"{DAY_TARGETS['ugc_share']:.0%}, real interactions per member in 30 days >= "
                f"{DAY_TARGETS['interactions_per_member_30d']:g}); 3+2 slots: share of "
                f"interactions in the 9:00, 12:00 and 20:00 slots",
    )
    for row in rows:
        misses = row.misses()
        final = (Text("yes", style="green") if row.is_final
                 else Text("none yet: latest day", style="yellow"))
        words = ", ".join(f"{word} {count}" for word, count in row.hot_words[:HOT_WORDS_SHOWN])
        table.add_row(
            Text(row.community_id), row.day.isoformat(), final,
            f"{row.member_count:,} {row.member_count_anchor}",
            f"{row.dau:,}", f"{row.wau:,}", f"{row.mau:,}",
            _judged(_percent(row.stickiness), "stickiness" in misses),
            _judged(_percent(row.interaction_rate), "interaction_rate" in misses),
            _judged(_percent(row.real_interaction_rate), "real_interaction_rate" in misses),
            _judged(_percent(row.ugc_share), "ugc_share" in misses),
            _percent(row.slot_share),
            _judged(_per_member(row.interactions_per_member_30d),
                    "interactions_per_member_30d" in misses),
            f"+{row.joins:,} -{row.leaves:,} -{row.removals:,}",
            Text(words or "—"),
        )
    return table
