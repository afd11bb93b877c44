"""``pulse alerts``: list, show and handle incidents through the worker's console API.

The CLI never touches Kafka or ClickHouse itself: it uses the same JSON API
and token as the web console, so both see and enforce the same rules.
"""

from __future__ import annotations

import json
import time

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.console.actions import (
    ACTION_LABELS,
    STATUS_LABELS,
    TIER_LABELS,
    Action,
    reached,
)
from pipeline.console.client import ConsoleClient, ConsoleError
from pipeline.console.present import age, deadlines, duration, local
from schemas.alerts import Alert
from schemas.base import utc_now

console = Console()
errors = Console(stderr=True)

alerts_app = typer.Typer(
    help="查看和处理舆情告警 · List and handle sentiment alerts (受理 → 解决 → 回访).",
    no_args_is_help=True,
)

TIER_STYLES = {"severe": "bold white on red", "moderate": "bold white on dark_orange",
               "mild": "bold black on yellow"}
STATE_STYLES = {"overdue": "bold red", "met": "green", "late": "yellow", "pending": "",
                "closed": "dim"}
POLL_S = 0.5

URL_HELP = "Worker base URL (default: PULSE_PUBLIC_URL)."
TOKEN_HELP = "Your console account's token (default: PULSE_CONSOLE_TOKEN)."


def _client(url: str | None, token: str | None) -> ConsoleClient:
    if url is None or token is None:
        from pipeline.app.settings import load_settings

        settings = load_settings()
        url = url or settings.public_url
        secret = settings.console_token
        token = token or (secret.get_secret_value() if secret is not None else None)
    if not token:
        errors.print("[red]no console token: pass --token or set PULSE_CONSOLE_TOKEN[/red]")
        raise typer.Exit(2)
    return ConsoleClient(url, token)


def _fail(error: ConsoleError) -> typer.Exit:
    errors.print(Text(str(error), style="red"))
    return typer.Exit(1)


def _tier(tier: str) -> Text:
    zh, en = TIER_LABELS.get(tier, (tier, tier))
    return Text(f" {zh} {en} ", style=TIER_STYLES.get(tier, ""))


def _status(status: str) -> str:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return f"{zh} {en}"


def _clocks(alert: Alert) -> dict[str, Text]:
    now = utc_now()
    return {d.key: Text(d.countdown(now), style=STATE_STYLES[d.state(now)])
            for d in deadlines(alert)}


def alerts_table(alerts: list[Alert], title: str) -> Table:
    """One row per incident: tier, community, status, age and the SLA countdowns."""
    table = Table("tier", "incident", "community", "status", "age", "respond 3h",
                  "close loop 48h", "statement 24h", "terms", "neg/members", title=title)
    now = utc_now()
    for alert in alerts:
        clocks = _clocks(alert)
        table.add_row(
            _tier(alert.tier), Text(alert.incident_id), Text(alert.community_id),
            _status(alert.status), duration(age(alert, now)),
            clocks["respond"], clocks["close_loop"], clocks.get("statement", Text("—")),
            Text(", ".join(alert.matched_terms) or "—"),
            f"{alert.negative_messages} / {alert.members}",
        )
    return table


def print_alert(alert: Alert) -> None:
    """Everything about one incident, like the detail page."""
    console.print(_tier(alert.tier), Text(f" {alert.community_id}  {_status(alert.status)}  "
                                          f"{alert.incident_id} (revision {alert.revision})"))
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("communities", ", ".join(alert.community_ids)),
        ("window (UTC+8)", f"{local(alert.window_start)} – {local(alert.window_end)}"),
        ("negative / members", f"{alert.negative_messages} / {alert.members}"),
        ("min / mean score", f"{alert.min_score:.2f} / {alert.mean_score:.2f}"),
        ("heat", str(alert.heat)),
        ("escalations", str(alert.escalations)),
        ("terms", ", ".join(alert.matched_terms) or "—"),
    ):
        facts.add_row(Text(label, style="dim"), Text(value))
    console.print(facts)
    now = utc_now()
    clocks = Table("deadline", "due (UTC+8)", "time left", title="时限 Deadlines")
    for d in deadlines(alert):
        clocks.add_row(f"{d.label_zh} {d.label_en}", local(d.due),
                       Text(d.countdown(now), style=STATE_STYLES[d.state(now)]))
    console.print(clocks)
    console.print("[bold]原因 Reasons[/bold]")
    for reason in alert.reasons:
        console.print(Text(f"  • {reason}"))
    excerpts = Table("time (UTC+8)", "member", "score", "text", title="摘录 Excerpts (masked)")
    for x in alert.excerpts:
        excerpts.add_row(local(x.ts), Text(x.member_ref), f"{x.score:.2f}", Text(x.text))
    console.print(excerpts)
    timeline = Table("step", "when (UTC+8)", "by", title="时间线 Timeline")
    for label, at, by in (("opened", alert.opened_at, None),
                          ("acknowledged", alert.acknowledged_at, alert.acknowledged_by),
                          ("resolved", alert.resolved_at, alert.resolved_by),
                          ("followed up", alert.followed_up_at, alert.followed_up_by)):
        timeline.add_row(label, local(at), Text(by or "—"))
    console.print(timeline)
    for note in alert.notes:
        console.print(Text(f"  note: {note}"))


@alerts_app.command("list")
def list_command(
    recent: int = typer.Option(0, min=0, max=500,
                               help="The N most recently updated incidents instead (any status)."),
    as_json: bool = typer.Option(False, "--json", help="Print the Alert records as JSON."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    token: str | None = typer.Option(None, "--token", help=TOKEN_HELP, show_default=False),
) -> None:
    """List open incidents, most urgent first (severe, then oldest)."""
    client = _client(url, token)
    try:
        alerts = client.recent_alerts(recent) if recent else client.open_alerts()
    except ConsoleError as error:
        raise _fail(error) from error
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in alerts], ensure_ascii=False))
        return
    title = f"最近 {recent} recent" if recent else f"待处理 {len(alerts)} open"
    console.print(alerts_table(alerts, title))


@alerts_app.command("show")
def show_command(
    incident_id: str = typer.Argument(..., help="Incident id."),
    as_json: bool = typer.Option(False, "--json", help="Print the Alert record as JSON."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    token: str | None = typer.Option(None, "--token", help=TOKEN_HELP, show_default=False),
) -> None:
    """Show one incident: reasons, excerpts, scores, deadlines and timeline."""
    client = _client(url, token)
    try:
        alert = client.get(incident_id)
    except ConsoleError as error:
        raise _fail(error) from error
    if as_json:
        typer.echo(json.dumps(alert.model_dump(mode="json"), ensure_ascii=False))
        return
    print_alert(alert)


def _act(action: Action, incident_id: str, by: str | None, note: str, wait: float,
         url: str | None, token: str | None) -> None:
    """Submit the action, then wait a little for the incident agent to apply it."""
    client = _client(url, token)
    zh, en = ACTION_LABELS[action]
    try:
        receipt = client.act(incident_id, action, by, note)
        console.print(Text(f"已提交 submitted: {zh} {en} {incident_id} by {receipt['actor']} "
                           f"(command {receipt['command_id']})"))
        deadline = time.monotonic() + wait
        while wait > 0:
            alert = client.get(incident_id)
            if reached(alert, action):
                console.print(Text(f"已生效 applied: {_status(alert.status)}", style="green"))
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
    except ConsoleError as error:
        raise _fail(error) from error
    if wait > 0:
        console.print(Text("尚未生效 not applied yet: the incident agent applies commands "
                           "asynchronously; check with `pulse alerts show`.", style="yellow"))


BY_HELP = ("Moderator name (处理人, at most 64 characters): needed with the shared "
           "administrator token only; an account acts under its own name.")
WAIT_HELP = "Seconds to wait for the incident agent to apply it (0: do not wait)."


ACTIONS = (
    ("acknowledge", "ack", "受理 Acknowledge an open incident."),
    ("resolve", "resolve", "解决 Resolve an acknowledged incident."),
    ("follow_up", "follow-up", "回访 Record the follow-up of a resolved incident (closes loop)."),
)


def _add_action_command(kind: str, name: str, doc: str) -> None:
    """One CLI command per lifecycle action; they differ only in the action they send."""

    def command(
        incident_id: str = typer.Argument(..., help="Incident id."),
        by: str | None = typer.Option(None, "--by", help=BY_HELP, show_default=False),
        note: str = typer.Option("", "--note", help="Note for the timeline."),
        wait: float = typer.Option(5.0, min=0, help=WAIT_HELP),
        url: str | None = typer.Option(None, "--url", help=URL_HELP),
        token: str | None = typer.Option(None, "--token", help=TOKEN_HELP, show_default=False),
    ) -> None:
        _act(kind, incident_id, by, note, wait, url, token)

    command.__doc__ = doc
    alerts_app.command(name)(command)


for _kind, _name, _doc in ACTIONS:
    _add_action_command(_kind, _name, _doc)


@alerts_app.command("whoami")
def whoami_command(
    as_json: bool = typer.Option(False, "--json", help="Print the account as JSON."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    token: str | None = typer.Option(None, "--token", help=TOKEN_HELP, show_default=False),
) -> None:
    """The account your token signs in as, its role and its communities."""
    client = _client(url, token)
    try:
        me = client.me()
    except ConsoleError as error:
        raise _fail(error) from error
    if as_json:
        typer.echo(json.dumps(me, ensure_ascii=False))
        return
    communities = ", ".join(me["communities"])
    console.print(Text(f"{me['account']} · {me['role']}"
                       f"{' (shared token)' if me['shared'] else ''} · communities: {communities}"))


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` command group to the ``pulse`` CLI."""
    app.add_typer(alerts_app, name="alerts")
