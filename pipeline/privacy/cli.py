"""``pulse members export | delete``: one member's data on request (PIPL access, erasure).

Prints the request id, counts per store and where the export went: never the
member's data.  ``delete`` needs the workers running (they erase their own table state)
and ClickHouse: with embedded ClickHouse (chdb: one process per data directory), run
``delete --state-only`` while the worker runs, then ``delete`` with it stopped; with a
ClickHouse server, ``delete`` any time.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipeline.privacy import DEFAULT_SCAN_LIMIT, DEFAULT_STATE_TIMEOUT_S

console = Console()

members_app = typer.Typer(
    help="Export or erase one member's data (PIPL access and erasure requests).",
    no_args_is_help=True,
)

COMMUNITY_HELP = "Only this community (default: every community of the member)."
OPERATOR_HELP = "Who runs the request, for the audit (default: the login name)."


def _operator(value: str | None) -> str:
    return value or getpass.getuser()


@members_app.command("export")
def export(
    member_id: str = typer.Argument(..., help="The member id."),
    community: str = typer.Option(None, "--community", help=COMMUNITY_HELP),
    out: Path = typer.Option(None, "--out", help="File (default pulse-export-<request>.json; "
                                                 "mode 0600)."),
    scan_limit: int = typer.Option(DEFAULT_SCAN_LIMIT, "--scan-limit", min=0,
                                   help="Newest records of each input topic to scan (0: none)."),
    operator: str = typer.Option(None, "--operator", envvar="PULSE_PRIVACY_OPERATOR",
                                 help=OPERATOR_HELP),
) -> None:
    """Write everything held about a member as one JSON document."""
    from pipeline.app.settings import load_settings
    from pipeline.privacy.requests import export_member, new_request_id

    request_id = new_request_id()
    path = out or Path(f"pulse-export-{request_id}.json")
    with _quiet_failure():
        result = export_member(load_settings(), member_id, community, _operator(operator),
                               path, scan_limit, request_id=request_id)
    _report(result)
    console.print(f"written to {result.path}")


@members_app.command("delete")
def delete(
    member_id: str = typer.Argument(..., help="The member id."),
    community: str = typer.Option(None, "--community", help=COMMUNITY_HELP),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    operator: str = typer.Option(None, "--operator", envvar="PULSE_PRIVACY_OPERATOR",
                                 help=OPERATOR_HELP),
    state_timeout: int = typer.Option(
        DEFAULT_STATE_TIMEOUT_S, "--state-timeout", min=0,
        help="Seconds to wait for the running workers to erase the member from their "
             "table state (0: ask them, do not wait)."),
    state_only: bool = typer.Option(
        False, "--state-only",
        help="Only the workers' table state, no ClickHouse (embedded chdb: run this while "
             "the worker runs, then delete again with it stopped); not audited."),
) -> None:
    """Erase a member: the workers' table state, then ClickHouse and the compacted topics
    (irreversible)."""
    from pipeline.app.settings import load_settings
    from pipeline.privacy.requests import delete_member, delete_member_state

    if not yes:
        typer.confirm("Irreversibly erase this member's data?", abort=True)
    with _quiet_failure():
        if state_only:
            result = delete_member_state(load_settings(), member_id, community, state_timeout)
        else:
            result = delete_member(load_settings(), member_id, community, _operator(operator),
                                   state_timeout_s=state_timeout)
    _report(result)
    for line in result.pending:
        console.print(f"[yellow]still held:[/yellow] {line}")
    if result.remaining or result.outcome != "done":
        raise typer.Exit(1)


@contextmanager
def _quiet_failure() -> Iterator[None]:
    """A failure shows its type only: driver messages quote the SQL (which names the
    member) and typer's tracebacks show local variables."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - reported without its message, audited
        console.print(f"[red]request failed: {type(exc).__name__}[/red] (see the audit row "
                      "in privacy_requests)")
        raise typer.Exit(2) from None


def _report(result) -> None:
    table = Table(title=f"request {result.request_id}: {result.outcome}")
    table.add_column("store")
    table.add_column("count", justify="right")
    for store, count in sorted(result.counts.items()):
        table.add_row(store, str(count))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(members_app, name="members")
