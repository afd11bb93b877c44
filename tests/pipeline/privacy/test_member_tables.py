"""The member's ClickHouse rows: every DDL table covered, exported and erased in real chdb."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from pipeline.privacy.clickhouse import (
    MEMBER_FREE_COLUMNS,
    MEMBER_TABLES,
    Owner,
    Reference,
    Subject,
    anonymise_excerpts,
)

RUNNER = Path(__file__).parent / "chdb_privacy_runner.py"
DEPLOY_RUNNER = Path(__file__).parents[2] / "deploy" / "chdb_runner.py"
MEMBER_NAME = re.compile(
    r"member|sender|inviter|invitee|person|user|mention|speaker|buyer|customer|participant")
"""Column names that suggest a member id; string-typed ones must be covered."""

M, Y, REF, YREF, TOKEN = "wx-m'7", "wx-y", "m-aaaa", "m-bbbb", "erased-test"
"""The member (an apostrophe: ids are opaque text), another member, their alert references."""


def ddl_columns() -> dict[str, dict[str, str]]:
    """Table -> column -> type, of every table (not view) the DDL creates."""
    from pipeline.egress.clickhouse.client import ddl_statements

    job = {"setup": ["CREATE DATABASE IF NOT EXISTS pulse", *ddl_statements("pulse")],
           "queries": {"columns": "SELECT c.table, c.name, c.type FROM system.columns AS c "
                                  "INNER JOIN system.tables AS t "
                                  "ON c.database = t.database AND c.table = t.name "
                                  "WHERE c.database = 'pulse' AND t.engine NOT LIKE '%View%'"}}
    done = subprocess.run([sys.executable, str(DEPLOY_RUNNER)], input=json.dumps(job),
                          text=True, capture_output=True, timeout=120, check=True)
    result = json.loads(done.stdout)["columns"]
    assert "error" not in result, result
    columns: dict[str, dict[str, str]] = {}
    for table, name, kind in result["rows"]:
        columns.setdefault(table, {})[name] = kind
    return columns


def test_every_member_column_of_the_ddl_is_covered() -> None:
    """A new table or column holding member ids must be added to MEMBER_TABLES (or, if it
    holds none despite its name, to MEMBER_FREE_COLUMNS with the reason)."""
    columns = ddl_columns()
    covered = {(t.name, c) for t in MEMBER_TABLES for c in t.member_columns}
    suspects = {(table, name) for table, cols in columns.items()
                for name, kind in cols.items() if "String" in kind and MEMBER_NAME.search(name)}
    assert sorted(suspects - covered - set(MEMBER_FREE_COLUMNS)) == []
    assert set(MEMBER_FREE_COLUMNS) <= suspects  # no stale exemption
    for table in MEMBER_TABLES:
        assert table.name in columns, f"no DDL for {table.name}"
        used = set(table.member_columns) | set(table.context)
        used |= {table.community} if table.community else set()
        used |= {"community_id", "message_id"} if table.of_messages else set()
        assert used <= set(columns[table.name]), (table.name, used - set(columns[table.name]))


def test_conditions_quote_the_member_id() -> None:
    subject = Subject(M, REF)
    assert Owner("member_id").condition(subject) == "member_id = 'wx-m\\'7'"
    assert "dimension = 'inviter'" in Owner("dimension_value", "inviter_row").condition(subject)
    assert Reference("mentions", "array").condition(subject) == "has(mentions, 'wx-m\\'7')"
    assert Reference("record", "alert_excerpts").condition(subject) == \
        "position(record, '\"m-aaaa\"') > 0"
    assert Reference("inviter_id", "value").replacement(subject, TOKEN) == f"'{TOKEN}'"


def test_alert_excerpts_of_the_member_lose_text_id_and_reference() -> None:
    record = orjson.dumps({"incident_id": "i1", "members": 2, "excerpts": [
        {"message_id": "msg-1", "member_ref": REF, "text": "我要退款", "score": 0.1},
        {"message_id": "msg-2", "member_ref": YREF, "text": "同上", "score": 0.2}]}).decode()
    alert = orjson.loads(anonymise_excerpts(record, REF, TOKEN))
    assert alert["excerpts"][0] == {"message_id": TOKEN, "member_ref": TOKEN, "text": "",
                                    "score": 0.1}
    assert alert["excerpts"][1]["text"] == "同上" and alert["members"] == 2


def _alert(incident: str, revision: int) -> str:
    record = {"incident_id": incident, "revision": revision, "excerpts": [
        {"message_id": "msg-m1", "member_ref": REF, "text": "太差了", "score": 0.1},
        {"message_id": "msg-y1", "member_ref": YREF, "text": "同意", "score": 0.2}]}
    return json.dumps(record, ensure_ascii=False).replace("'", "\\'")


def q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


T = "'2026-11-02 00:00:00'"
SETUP = [
    "INSERT INTO pulse.chat_messages (message_id, community_id, member_id, text, mentions, ts) "
    f"VALUES ('msg-m1', 'c1', {q(M)}, '太差了', ['{Y}'], {T}), "
    f"('msg-m2', 'c2', {q(M)}, 'hi', [], {T}), "
    f"('msg-y1', 'c1', '{Y}', '同意', [{q(M)}, 'wx-z'], {T}), "
    f"('msg-y2', 'c1', '{Y}', 'ok', [], {T})",
    "INSERT INTO pulse.message_sentiment (message_id, community_id, score, ts) VALUES "
    f"('msg-m1', 'c1', 0.1, {T}), ('msg-m2', 'c2', 0.5, {T}), ('msg-y1', 'c1', 0.2, {T})",
    "INSERT INTO pulse.member_events (event_id, community_id, member_id, action, inviter_id, ts) "
    f"VALUES ('ev-m', 'c1', {q(M)}, 'join', '{Y}', {T}), "
    f"('ev-y', 'c1', '{Y}', 'join', {q(M)}, {T}), ('ev-m2', 'c2', {q(M)}, 'join', NULL, {T})",
    "INSERT INTO pulse.membership_snapshots (snapshot_id, community_id, member_ids, ts) VALUES "
    f"('snap-1', 'c1', ['{Y}', {q(M)}, 'wx-z'], {T}), ('snap-2', 'c2', [{q(M)}], {T})",
    "INSERT INTO pulse.transactions (order_id, status, member_id, community_id, amount_fen, ts) "
    f"VALUES ('o1', 'paid', {q(M)}, 'c1', 990, {T}), ('o2', 'paid', '{Y}', 'c1', 500, {T})",
    "INSERT INTO pulse.funnel_events (event_id, campaign_id, person_id, step, ts) VALUES "
    f"('f1', 'camp', {q(M)}, 'signup', {T}), ('f2', 'camp', '{Y}', 'signup', {T})",
    "INSERT INTO pulse.member_status_changes (community_id, member_id, status, at, revision) "
    f"VALUES ('c1', {q(M)}, 'left', {T}, 1), ('c1', '{Y}', 'churn_risk', {T}, 1)",
    "INSERT INTO pulse.sales_totals (dimension, dimension_value, window, invited_joins, "
    f"revision) VALUES ('inviter', {q('camp|' + M)}, 'all', 1, 1), "
    f"('inviter', 'camp|{Y}', 'all', 1, 1), ('community', 'c1', 'all', 0, 1)",
    "INSERT INTO pulse.sentiment_alerts (incident_id, revision, community_id, opened_at, "
    f"record) VALUES ('inc-1', 1, 'c1', {T}, '{_alert('inc-1', 1)}'), "
    f"('inc-1', 2, 'c1', {T}, '{_alert('inc-1', 2)}')",
    "INSERT INTO pulse.community_health_day (community_id, day, messages, revision) "
    "VALUES ('c1', '2026-11-02', 4, 1)",
]


def run(community: str | None = None, erase: bool = True) -> dict[str, Any]:
    job = {"setup": SETUP, "member_id": M, "member_ref": REF, "community": community,
           "token": TOKEN, "erase": erase}
    done = subprocess.run([sys.executable, str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def names_member(value: Any) -> bool:
    if isinstance(value, str):
        return value == M or value.endswith("|" + M) or f'"{REF}"' in value
    if isinstance(value, list):
        return any(names_member(v) for v in value)
    if isinstance(value, dict):
        return any(names_member(v) for v in value.values())
    return False


def test_export_then_erase_in_chdb() -> None:
    result = run()
    found = result["export"]
    assert {r["message_id"] for r in found["chat_messages"]["rows"]} == {"msg-m1", "msg-m2"}
    assert found["chat_messages"]["references"] == [
        {"message_id": "msg-y1", "community_id": "c1", "ts": found["chat_messages"][
            "references"][0]["ts"], "column": "mentions"}]
    assert {r["message_id"] for r in found["message_sentiment"]["rows"]} == {"msg-m1", "msg-m2"}
    assert {r["event_id"] for r in found["member_events"]["rows"]} == {"ev-m", "ev-m2"}
    assert [r["event_id"] for r in found["member_events"]["references"]] == ["ev-y"]
    assert "member_id" not in found["member_events"]["references"][0]
    assert {r["snapshot_id"] for r in found["membership_snapshots"]["references"]} == {
        "snap-1", "snap-2"}
    assert [r["order_id"] for r in found["transactions"]["rows"]] == ["o1"]
    assert [r["event_id"] for r in found["funnel_events"]["rows"]] == ["f1"]
    assert [r["status"] for r in found["member_status_changes"]["rows"]] == ["left"]
    assert [r["dimension_value"] for r in found["sales_totals"]["rows"]] == ["camp|" + M]
    alerts = found["sentiment_alerts"]["references"]
    assert len(alerts) == 2 and all(
        [e["message_id"] for e in a["excerpts"]] == ["msg-m1"] for a in alerts)
    assert "wx-y" not in json.dumps([t["references"] for t in found.values()])
    assert result["export_counts"]["clickhouse.chat_messages.rows"] == 2

    assert result["remaining"] == {}
    counts = result["erase_counts"]
    assert counts["clickhouse.chat_messages.deleted"] == 2
    assert counts["clickhouse.chat_messages.anonymised"] == 1
    assert counts["clickhouse.message_sentiment.deleted"] == 2
    assert counts["clickhouse.member_events.anonymised"] == 1
    assert counts["clickhouse.sentiment_alerts.anonymised"] == 2
    tables = result["tables"]
    assert not names_member(tables)
    assert [r["message_id"] for r in tables["message_sentiment"]] == ["msg-y1"]
    (mention,) = [r for r in tables["chat_messages"] if r["message_id"] == "msg-y1"]
    assert mention["mentions"] == [TOKEN, "wx-z"] and mention["text"] == "同意"
    assert [(r["member_id"], r["inviter_id"]) for r in tables["member_events"]] == [
        (Y, TOKEN)]
    assert sorted(r["member_ids"] for r in tables["membership_snapshots"]) == [
        [TOKEN], [Y, TOKEN, "wx-z"]]
    assert [r["member_id"] for r in tables["transactions"]] == [Y]
    assert sorted(r["dimension_value"] for r in tables["sales_totals"]) == ["c1", f"camp|{Y}"]
    for row in tables["sentiment_alerts"]:
        excerpts = json.loads(row["record"])["excerpts"]
        assert excerpts[0] == {"message_id": TOKEN, "member_ref": TOKEN, "text": "",
                               "score": 0.1}
        assert excerpts[1]["member_ref"] == YREF and excerpts[1]["text"] == "同意"
    assert tables["community_health_day"][0]["messages"] == 4


def test_a_request_limited_to_a_community_leaves_the_others() -> None:
    result = run(community="c2")
    assert set(result["export"]) == {"chat_messages", "message_sentiment", "member_events",
                                     "membership_snapshots"}
    assert result["remaining"] == {}
    tables = result["tables"]
    assert {r["message_id"] for r in tables["chat_messages"]} == {"msg-m1", "msg-y1", "msg-y2"}
    assert {r["message_id"] for r in tables["message_sentiment"]} == {"msg-m1", "msg-y1"}
    assert {r["event_id"] for r in tables["member_events"]} == {"ev-m", "ev-y"}
    assert sorted(r["member_ids"] for r in tables["membership_snapshots"]) == [
        [TOKEN], [Y, M, "wx-z"]]
    assert [r["member_id"] for r in tables["member_status_changes"]
            if r["member_id"] == M] == [M]
    assert any(r["dimension_value"] == "camp|" + M for r in tables["sales_totals"])


def test_the_audit_table_takes_the_audit_rows() -> None:
    from pipeline.privacy.audit import AUDIT_TABLE, AuditEntry

    columns = ddl_columns()[AUDIT_TABLE]
    assert set(AuditEntry.COLUMNS) == set(columns)
    assert not any(MEMBER_NAME.search(name) for name in columns)
