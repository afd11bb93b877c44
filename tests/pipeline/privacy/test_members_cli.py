"""``pulse members``: registered, asks before erasing, salts references like the alerts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.app.settings import load_settings
from pipeline.cli import app
from pipeline.compute.escalation.policy import EscalationPolicy
from pipeline.compute.escalation.signals import member_ref
from pipeline.privacy import requests
from pipeline.privacy.requests import export_notes, subject_of


def test_members_commands_are_registered() -> None:
    done = CliRunner().invoke(app, ["members", "--help"])
    assert done.exit_code == 0
    assert "export" in done.output and "delete" in done.output


def test_delete_asks_first_and_does_nothing_when_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("must not run")

    monkeypatch.setattr(requests, "delete_member", refuse)
    done = CliRunner().invoke(app, ["members", "delete", "wx-m-7"], input="n\n")
    assert done.exit_code == 1 and "Aborted" in done.output


def test_the_subject_reference_is_the_alerts_salted_hash(tmp_path: Path) -> None:
    default = subject_of(load_settings(), "wx-m-7", "c1")
    assert default.member_ref == member_ref("wx-m-7", EscalationPolicy())
    assert default.community == "c1"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"member_salt": "deployment-salt"}))
    salted = subject_of(load_settings(escalation_policy_file=policy), "wx-m-7", None)
    assert salted.member_ref == member_ref("wx-m-7", EscalationPolicy(
        member_salt="deployment-salt")) != default.member_ref


def test_export_notes_document_the_scan_bound() -> None:
    notes = " ".join(export_notes(500))
    assert "newest 500 records" in notes and "7 days" in notes
    assert "not scanned" in " ".join(export_notes(0))


def test_a_failure_shows_its_type_not_the_member(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args, **_kwargs):
        raise RuntimeError("Code: 62. Syntax error near member_id = 'wx-m-7'")

    monkeypatch.setattr(requests, "export_member", fail)
    monkeypatch.setattr(requests, "delete_member", fail)
    for command in (["export", "wx-m-7"], ["delete", "wx-m-7", "--yes"]):
        done = CliRunner().invoke(app, ["members", *command])
        assert done.exit_code == 2, done.output
        assert "RuntimeError" in done.output and "wx-m-7" not in done.output
