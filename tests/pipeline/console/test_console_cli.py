"""``pulse alerts`` against a running console (typer's CliRunner, real HTTP)."""

from __future__ import annotations

import json

import pytest
import typer
from console_harness import LEAD_TOKEN, LI_TOKEN, TOKEN, RunningConsole, make_alert
from typer.testing import CliRunner

from pipeline.console.cli import register
from pipeline.devtools.stack import free_port

WIDE = {"COLUMNS": "220"}


@pytest.fixture
def pulse() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stand-in for pipeline.cli's app."""

    register(app)
    return app


def run(pulse: typer.Typer, console: RunningConsole, *args: str, token: str = TOKEN):
    result = CliRunner().invoke(pulse, ["alerts", *args, "--url", console.url, "--token", token],
                                env=WIDE)
    return result


def test_list_and_show(pulse: typer.Typer, console: RunningConsole) -> None:
    listed = run(pulse, console, "list")
    assert listed.exit_code == 0, listed.output
    order = [listed.output.index(i) for i in ("inc-severe", "inc-moderate", "inc-mild")]
    assert order == sorted(order) and "inc-closed" not in listed.output
    assert "重度 severe" in listed.output and "食物中毒" in listed.output
    as_json = json.loads(run(pulse, console, "list", "--json").output)
    assert [a["incident_id"] for a in as_json] == ["inc-severe", "inc-moderate", "inc-mild"]
    recent = run(pulse, console, "list", "--recent", "10")
    assert "inc-closed" in recent.output

    console.store.put(make_alert("inc-markup", text="[bold red]假的[/bold red] 退款"))
    shown = run(pulse, console, "show", "inc-markup")
    assert shown.exit_code == 0, shown.output
    assert "[bold red]假的[/bold red] 退款" in shown.output   # record text is not rich markup
    assert "时间线 Timeline" in shown.output and "m#a1b2c3" in shown.output


def test_the_loop_from_the_command_line(pulse: typer.Typer, console: RunningConsole) -> None:
    for command, status in (("ack", "已受理"), ("resolve", "已解决"), ("follow-up", "已回访")):
        result = run(pulse, console, command, "inc-mild", "--by", "王小明", "--note", command)
        assert result.exit_code == 0, result.output
        assert "已提交 submitted" in result.output and f"已生效 applied: {status}" in result.output
    alert = console.store.latest("inc-mild")
    assert alert is not None and alert.followed_up_by == "王小明"
    assert len(alert.notes) == 3 and all(step in note for step, note in zip(
        ("ack", "resolve", "follow-up"), alert.notes, strict=True))


def test_pending_command_is_reported_as_submitted(pulse: typer.Typer, make_console) -> None:
    console = make_console(apply=False)
    result = run(pulse, console, "ack", "inc-mild", "--by", "王小明", "--wait", "0")
    assert result.exit_code == 0, result.output
    assert "已提交 submitted" in result.output and "已生效" not in result.output
    assert [c.actor for c in console.sender.sent] == ["王小明"]


def test_errors_exit_non_zero(pulse: typer.Typer, console: RunningConsole) -> None:
    conflict = run(pulse, console, "follow-up", "inc-mild", "--by", "王小明")
    assert conflict.exit_code == 1 and "HTTP 409" in conflict.output
    missing = run(pulse, console, "show", "nope")
    assert missing.exit_code == 1 and "HTTP 404" in missing.output
    refused = run(pulse, console, "list", token="wrong")
    assert refused.exit_code == 1 and "HTTP 401" in refused.output
    down = CliRunner().invoke(pulse, ["alerts", "list", "--url", f"http://127.0.0.1:{free_port()}",
                                      "--token", TOKEN])
    assert down.exit_code == 1 and "cannot reach" in down.output
    assert console.sender.sent == []


def test_defaults_come_from_the_settings(pulse: typer.Typer, console: RunningConsole,
                                         monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)   # no .env here
    monkeypatch.setenv("PULSE_PUBLIC_URL", console.url)
    monkeypatch.setenv("PULSE_CONSOLE_TOKEN", TOKEN)
    result = CliRunner().invoke(pulse, ["alerts", "list"], env=WIDE)
    assert result.exit_code == 0 and "inc-severe" in result.output
    monkeypatch.delenv("PULSE_CONSOLE_TOKEN")
    result = CliRunner().invoke(pulse, ["alerts", "list"], env=WIDE)
    assert result.exit_code == 2 and "no console token" in result.output


def test_a_moderator_account_from_the_command_line(pulse: typer.Typer,
                                                   graded: RunningConsole) -> None:
    who = run(pulse, graded, "whoami", token=LI_TOKEN)
    assert who.exit_code == 0, who.output
    assert "li-lei · moderator · communities: qq-*, wecom-vip" in who.output
    assert json.loads(run(pulse, graded, "whoami", "--json", token=LEAD_TOKEN).output)[
        "role"] == "admin"

    listed = run(pulse, graded, "list", token=LI_TOKEN)
    assert listed.exit_code == 0 and "inc-mild" in listed.output
    assert "inc-severe" not in listed.output
    refused = run(pulse, graded, "ack", "inc-severe", token=LI_TOKEN)
    assert refused.exit_code == 1
    assert "HTTP 403" in refused.output and "not assigned to li-lei" in refused.output
    assert graded.sender.sent == []

    acked = run(pulse, graded, "ack", "inc-mild", "--note", "已联系", token=LI_TOKEN)
    assert acked.exit_code == 0, acked.output
    assert "by li-lei" in acked.output and "已生效 applied: 已受理" in acked.output
    posing = run(pulse, graded, "resolve", "inc-mild", "--by", "韩梅梅", token=LI_TOKEN)
    assert posing.exit_code == 1 and "you act as li-lei" in posing.output
    nameless = run(pulse, graded, "ack", "inc-severe", token=TOKEN)   # the shared token
    assert nameless.exit_code == 1 and "HTTP 400" in nameless.output
    assert [c.actor for c in graded.sender.sent] == ["li-lei"]
