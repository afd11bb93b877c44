"""``pulse generate`` as the CLI registers it."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from pipeline.devtools.generator.cli import register
from tests.support import REFERENCE_START


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Stand-in for the pulse CLI."""

    register(app)
    return app


def test_generate_writes_events_and_truth(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), [
        "generate", "--seed", "3", "--days", "0.2", "--scale", "0.1", "--communities", "3",
        "--no-episodes", "--late-rate", "0.05", "--start", f"{REFERENCE_START:%Y-%m-%dT%H:%M:%S}",
        "--out", str(tmp_path),
    ])
    assert result.exit_code == 0, result.output
    assert "records generated" in result.output
    assert "community.chat.messages.v1" in result.output
    assert (tmp_path / "events.jsonl").stat().st_size > 0
    truth = (tmp_path / "truth.json").read_text(encoding="utf-8")
    assert '"episodes": false' in truth and '"late_rate": 0.05' in truth
    assert f'"start": "{REFERENCE_START.isoformat()}"' in truth


def test_generate_reports_bad_periods() -> None:
    result = CliRunner().invoke(_app(), ["generate", "--start", "2099-01-01", "--days", "0.1"])
    assert result.exit_code == 2
    assert "future" in result.output
