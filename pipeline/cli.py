"""``pulse``: run the worker, the embedded stack, the demo and the generator; handle alerts
and members' data requests."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from pipeline.app.settings import load_settings

app = typer.Typer(help="Community metrics and sentiment alerts pipeline.", no_args_is_help=True)
console = Console()


@app.command()
def worker(
    loglevel: str = typer.Option("info", help="Faust log level."),
    role: str = typer.Option(
        None, help="all | alerts | metrics (default: PULSE_WORKER_ROLE, else all)."
    ),
) -> None:
    """Run a Faust worker (configured by PULSE_* variables)."""

    from pipeline.app.factory import create_app
    from pipeline.runtime.process import die_with_parent, dump_stacks_on_signal
    from pipeline.runtime.stopping import BoundedStopWorker

    die_with_parent()
    dump_stacks_on_signal()
    settings = load_settings(**({"worker_role": role} if role else {}))
    faust_worker = BoundedStopWorker(create_app(settings), loglevel=loglevel,
                                     stop_timeout_s=settings.shutdown_timeout_s)
    faust_worker.execute_from_commandline()


@app.command()
def topics() -> None:
    """Create every topic of the pipeline (idempotent)."""
    from pipeline.topics import ensure_topics

    created = ensure_topics(load_settings())
    console.print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


@app.command()
def schemas(out: Path = typer.Option(None, help="Directory (default schemas/json).")) -> None:
    """Write the JSON Schema of every record and the AsyncAPI document of every topic."""
    from pipeline.egress.contracts import ASYNCAPI_PATH, write_asyncapi
    from schemas.export import JSON_DIR, write_schemas

    for path in write_schemas(out or JSON_DIR):
        console.print(str(path))
    console.print(str(write_asyncapi(out.parent / ASYNCAPI_PATH.name if out else ASYNCAPI_PATH)))


@app.command()
def catalogue(
    out: Path = typer.Option(None, help="File (default docs/metrics-catalogue.md)."),
) -> None:
    """Write the metrics catalogue (definitions, tables, topics, Prometheus series)."""
    from pipeline.egress.catalogue import CATALOGUE_PATH, write_catalogue

    console.print(str(write_catalogue(out or CATALOGUE_PATH)))


@app.command()
def demo(
    seed: int = typer.Option(7, help="Generator seed."),
    communities: int = typer.Option(6, help="Number of simulated communities."),
    days: float = typer.Option(2.0, help="Simulated days of activity."),
    scale: float = typer.Option(1.0, help="Activity multiplier (stream size)."),
    rate: float = typer.Option(0.0, help="Replay rate in records/s (0 = as fast as possible)."),
    directory: Path = typer.Option(Path("var/demo"), help="Where the demo keeps its data."),
) -> None:
    """Start the embedded stack, replay a generated stream, show the results, stop."""
    from pipeline.devtools.demo import DemoOptions, run_demo

    options = DemoOptions(seed=seed, communities=communities, days=days, scale=scale,
                          rate=rate or None, directory=directory)
    raise typer.Exit(run_demo(options, console))


@app.command()
def up(
    directory: Path = typer.Option(Path("var/up"), help="Data and logs (reset on start)."),
    broker: str = typer.Option("tansu", help="tansu (embedded) or kafka (Apache Kafka, "
                               "needs `make kafka-deps`)."),
    monitoring: bool = typer.Option(True, "--monitoring/--no-monitoring",
                                    help="Prometheus and Alertmanager, when installed."),
) -> None:
    """Run the embedded stack in the foreground for your own producers, until Ctrl-C."""
    from rich.table import Table

    from pipeline.devtools.stack import StackError
    from pipeline.devtools.up import (
        UpOptions,
        run_until_interrupted,
        start_stack,
        stop_stack,
        write_endpoints,
    )

    if broker not in ("tansu", "kafka"):
        raise typer.BadParameter("tansu or kafka", param_hint="--broker")
    try:
        stack = start_stack(UpOptions(directory, broker, monitoring), console.print)
    except StackError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    table = Table("what", "where", title="community-pulse is up")
    for name, value in stack.endpoints().items():
        table.add_row(name, value)
    console.print(table)
    console.print(f"endpoints also in {write_endpoints(stack, directory.resolve())}")
    console.print(f"send events: PULSE_KAFKA_BOOTSTRAP={stack.broker.bootstrap} "
                  ".venv/bin/pulse replay FILE   (Ctrl-C here stops everything)")
    outcome = "stopped"
    try:
        outcome = run_until_interrupted(stack)
    finally:
        code = stop_stack(stack)
        console.print(f"{outcome}; worker exit {code}; everything stopped")
    if outcome != "stopped":
        raise typer.Exit(1)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="JSON lines: input events, or records of pulse generate."),
    rate: float = typer.Option(0.0, min=0, help="Records/s (0 = as fast as possible)."),
) -> None:
    """Send your own input events to their topics (PULSE_* settings), with progress."""
    from pipeline.devtools.generator.cli import send_records
    from pipeline.devtools.replay import Unroutable, read_events

    with file.open(encoding="utf-8") as lines:
        read = list(read_events(lines))
    records = [r for r in read if not isinstance(r, Unroutable)]
    skipped = [r for r in read if isinstance(r, Unroutable)]
    for item in skipped[:20]:
        console.print(f"[yellow]line {item.line} not sent: {item.reason}[/yellow]")
    if len(skipped) > 20:
        console.print(f"[yellow]... and {len(skipped) - 20} more lines not sent[/yellow]")
    send_records(records, rate)
    if skipped:
        raise typer.Exit(1)


def _register_subcommands() -> None:
    from pipeline.console.cli import register as register_alerts
    from pipeline.devtools.generator.cli import register as register_generate
    from pipeline.privacy.cli import register as register_members

    register_generate(app)
    register_alerts(app)
    register_members(app)


_register_subcommands()


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # kafka-python's client warns about its own slow poll loop under CPU load: not actionable.
    logging.getLogger("kafka").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":
    main()
