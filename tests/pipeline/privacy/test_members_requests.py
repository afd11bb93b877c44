"""``pulse members export | delete`` end to end: a real broker, a real worker, chdb.

A generated stream runs through a worker; one member who chatted, invited someone,
ordered and left is exported (the document holds their rows, records and state) and
erased: first from the workers' table state, by a running worker (``delete
--state-only``: chdb allows one process per data directory, so the worker owns
ClickHouse meanwhile), then, the worker stopped, from ClickHouse and the compacted
topics.  Then nothing in the table state, ClickHouse or on the member-keyed compacted
topics names them, and every other value, row and record is as it was, the member's id
replaced by a token where another member's row named them.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from pipeline.app.settings import Settings
from pipeline.cli import app
from pipeline.compute.erasure import STATE_TABLE_BY_NAME, TOMBSTONE, erase_state, find_member
from pipeline.devtools.generator import generate, produce
from pipeline.devtools.stack import WorkerProcess, settings_env
from pipeline.egress.clickhouse.client import connect
from pipeline.privacy.document import jsonable
from pipeline.privacy.requests import subject_of
from pipeline.privacy.state import changelog_name, changelogs, latest_values, state_entries
from pipeline.privacy.topics import KafkaReader
from pipeline.topics import CHAT_MESSAGES, MEMBER_STATUS, SALES_TOTALS
from tests.support import PRIVACY_STREAM, read_topic, run_until_committed, wait_until_committed

pytestmark = pytest.mark.integration

ERASED = "<erased>"
TOKEN = re.compile(r"erased-[0-9a-f]{16}")
STRING_ARRAY = re.compile(r"Array\((LowCardinality\()?(Nullable\()?String\)+")
OWNERS = {"chat_messages": "member_id", "member_events": "member_id",
          "transactions": "member_id", "funnel_events": "person_id",
          "member_status_changes": "member_id", "member_profile": "member_id"}
"""The member's own rows, by table (independent of the code under test)."""


def query(settings: Settings, sql: str) -> tuple[list[str], list[tuple]]:
    client = connect(settings.clickhouse_url)
    try:
        result = client.query(sql)
        return list(result.column_names), list(result.result_rows)
    finally:
        client.close()


def pick_member(settings: Settings) -> str:
    """A member with a status change who invited someone and ordered."""
    _, rows = query(settings, """
        SELECT s.member_id, count() AS n FROM pulse.member_status_changes AS s FINAL
        INNER JOIN (SELECT DISTINCT inviter_id FROM pulse.member_events FINAL
                    WHERE inviter_id IS NOT NULL) AS i ON s.member_id = i.inviter_id
        INNER JOIN (SELECT DISTINCT member_id FROM pulse.transactions FINAL) AS t
            ON s.member_id = t.member_id
        INNER JOIN (SELECT DISTINCT member_id FROM pulse.chat_messages FINAL) AS c
            ON s.member_id = c.member_id
        GROUP BY s.member_id ORDER BY n DESC, s.member_id LIMIT 1""")
    assert rows, "the stream has no member who chatted, invited, ordered and changed status"
    return rows[0][0]


def dump(settings: Settings) -> dict[str, list[dict]]:
    """Every table's rows (FINAL: what a reader sees), as JSON values."""
    _, tables = query(settings, "SELECT name, engine FROM system.tables "
                                "WHERE database = 'pulse' AND engine NOT LIKE '%View%'")
    out = {}
    for name, engine in tables:
        final = " FINAL" if "Replacing" in engine else ""
        columns, rows = query(settings, f"SELECT * FROM pulse.{name}{final}")
        out[name] = [jsonable(dict(zip(columns, row, strict=True))) for row in rows]
    return out


def normalised(rows: list[dict], member: str) -> list[str]:
    """Rows as sorted JSON texts, the member's id and any erasure token both shown as one
    placeholder (the token is random: only its place matters)."""
    def swap(value: Any) -> Any:
        if isinstance(value, str):
            if value == member or TOKEN.fullmatch(value):
                return ERASED
            return TOKEN.sub(ERASED, value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value
    return sorted(json.dumps(swap(row), sort_keys=True, ensure_ascii=False) for row in rows)


def owned(table: str, row: dict, member: str, messages: set[tuple[str, str]]) -> bool:
    if table in OWNERS:
        return row[OWNERS[table]] == member
    if table == "message_sentiment":
        return (row["community_id"], row["message_id"]) in messages
    if table == "sales_totals":
        return row["dimension"] == "inviter" and row["dimension_value"].split("|", 1)[1] == member
    return False


def member_mentions(settings: Settings, member: str, member_ref: str) -> dict[str, int]:
    """Rows of any table with a column naming the member (value, part between ``|``,
    array element) or an alert record quoting their reference."""
    _, columns = query(settings, """
        SELECT c.table, c.name, c.type FROM system.columns AS c INNER JOIN system.tables AS t
            ON c.database = t.database AND c.table = t.name
        WHERE c.database = 'pulse' AND t.engine NOT LIKE '%View%' AND c.type LIKE '%String%'""")
    literal = "'" + member.replace("\\", "\\\\").replace("'", "\\'") + "'"
    found = {}
    for table, column, kind in columns:
        if STRING_ARRAY.fullmatch(kind):
            condition = f"has({column}, {literal})"
        elif kind.startswith("Map(String"):
            condition = f"has(mapKeys({column}), {literal})"
        elif kind.startswith("Array"):
            continue  # hot words: (word, count) tuples, personal data masked
        else:
            value = f"toString(ifNull({column}, ''))"
            condition = (f"{value} = {literal} OR has(splitByChar('|', {value}), {literal}) "
                         f"OR position({value}, '\"{member_ref}\"') > 0")
        _, rows = query(settings, f"SELECT count() FROM pulse.{table} WHERE {condition}")
        if rows[0][0]:
            found[f"{table}.{column}"] = rows[0][0]
    return found


def latest_records(settings: Settings, name: str) -> dict[bytes, bytes | None]:
    return {record.key: record.value for record in read_topic(settings, name)}


def names(key: bytes, member: str) -> bool:
    return member in key.decode().split("|")


def table_state(settings: Settings) -> dict[tuple[str, str], Any]:
    """(table, key) -> latest value of every changelog of the worker's group."""
    reader = KafkaReader(settings)
    return {(table.name, key): value
            for table, topic in changelogs(settings.app_id, reader.topic_names())
            for key, (_, value) in latest_values(reader.read(topic).records).items()}


def swapped(value: Any, member: str) -> Any:
    """``value`` with the member's id and any erasure token as one placeholder, dict keys
    included (the token is random: only its place matters)."""
    if isinstance(value, dict):
        return {swapped(k, member): swapped(v, member) for k, v in value.items()}
    if isinstance(value, list):
        return [swapped(v, member) for v in value]
    if isinstance(value, str) and (value == member or TOKEN.fullmatch(value)):
        return ERASED
    return value


def another_message_in(stream: list, community: str, member: str):
    """The stream's last chat message of someone else in ``community``, as a new message."""
    for record in reversed(stream):
        if record.topic != CHAT_MESSAGES.name:
            continue
        value = orjson.loads(record.value)
        if value["community_id"] == community and value["member_id"] != member:
            value["message_id"] += "-after-erasure"
            return replace(record, value=orjson.dumps(value))
    raise AssertionError(f"no other member chatted in {community}")


def test_export_then_delete_a_member(pipeline_settings: Settings, tmp_path: Path) -> None:
    settings = pipeline_settings
    stream = generate(PRIVACY_STREAM)
    run_until_committed(settings, stream.records, tmp_path / "worker.log")  # then the CLI's

    member = pick_member(settings)
    subject = subject_of(settings, member, None)
    before = dump(settings)
    topics_before = {name: latest_records(settings, name)
                     for name in (MEMBER_STATUS.name, SALES_TOTALS.name)}
    assert any(names(k, member) for k in topics_before[SALES_TOTALS.name])
    env = settings_env(settings) | {"PULSE_PRIVACY_OPERATOR": "dpo-test",
                                    "PULSE_PRIVACY_AUDIT_KEY": "audit-key"}
    runner = CliRunner()

    out = tmp_path / "export.json"
    done = runner.invoke(app, ["members", "export", member, "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    assert member not in done.output
    assert out.stat().st_mode & 0o777 == 0o600
    document = orjson.loads(out.read_bytes())
    assert document["member_id"] == member
    rows = document["clickhouse"]
    for table, column in OWNERS.items():
        expected = sum(row[column] == member for row in before[table])
        assert len(rows.get(table, {}).get("rows", [])) == expected, table
    assert rows["chat_messages"]["rows"] and rows["member_events"]["references"]
    assert all("member_id" not in r for r in rows["member_events"]["references"])
    statuses = document["compacted_topics"][MEMBER_STATUS.name]
    assert statuses and all(r["key"].endswith("|" + member) for r in statuses)
    assert document["compacted_topics"][SALES_TOTALS.name]
    state = {entry["table"] for entry in document["table_state"]}
    assert {"health-members", "sales-ledgers"} <= state
    chat_inputs = document["input_topics"]["community.chat.messages.v1"]
    assert chat_inputs["complete"]
    assert len([r for r in chat_inputs["records"] if r["relation"] == "owner"]) >= len(
        rows["chat_messages"]["rows"])

    # the Faust state rule on the real value: the member's record goes, the others stay
    changelog = changelog_name(settings.group_id, "health-members")
    values = latest_values(KafkaReader(settings).read(changelog).records)
    community, (_, value) = next((k, v) for k, v in values.items() if v[1] and member in v[1])
    erased = erase_state(STATE_TABLE_BY_NAME["health-members"], community, value, member,
                         {member, subject.member_ref}, "erased-0")
    assert erased == {m: r for m, r in value.items() if m != member}

    # the workers' state: erased by a running worker, the CLI waiting for the changelogs
    worker = WorkerProcess(settings, tmp_path / "worker-2.log")
    worker.start()
    try:
        wait_until_committed(settings, worker)
        state_before = table_state(settings)
        done = runner.invoke(app, ["members", "delete", member, "--yes", "--state-only",
                                   "--state-timeout", "120"], env=env)
        assert done.exit_code == 0, done.output
        assert member not in done.output
        assert "state.health-members.found" in done.output
        assert "ClickHouse" in done.output  # the rest is still to do, and said so
        assert state_entries(KafkaReader(settings), subject)[0] == []
        state_after = table_state(settings)
        ids = {member, subject.member_ref}
        erased_keys = 0
        for (table, key), value in state_before.items():
            after = state_after[(table, key)]
            expected = erase_state(STATE_TABLE_BY_NAME[table], key, value, member, ids,
                                   "erased-0000000000000000")
            if expected is TOMBSTONE:
                assert after is None, (table, key)
                erased_keys += 1
                continue
            assert swapped(after, member) == swapped(expected, member), (table, key)
            assert after is None or find_member(after, ids) == [], (table, key)
            if expected == value:
                assert after == value, (table, key)  # not naming the member: unchanged
            else:
                erased_keys += 1
        assert erased_keys and set(state_after) == set(state_before)
        # the worker goes on without the member (its in-memory directory forgot them too)
        produce([another_message_in(stream.records, community, member)], settings)
        wait_until_committed(settings, worker)
        assert state_entries(KafkaReader(settings), subject)[0] == []
    finally:
        worker.stop()  # chdb: the CLI's turn for ClickHouse

    before = dump(settings)
    done = runner.invoke(app, ["members", "delete", member, "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert member not in done.output
    assert "still held: state" not in done.output  # nothing left in the workers' state

    assert member_mentions(settings, member, subject.member_ref) == {}
    after = dump(settings)
    messages = {(r["community_id"], r["message_id"]) for r in before["chat_messages"]
                if r["member_id"] == member}
    for table, rows_before in before.items():
        if table == "privacy_requests":
            continue
        kept = [row for row in rows_before if not owned(table, row, member, messages)]
        assert normalised(after[table], member) == normalised(kept, member), table
    for table in ("community_health_day", "community_activity_hour", "sales_totals"):
        assert after[table], table  # the aggregates are there, and equal (above)

    for name, latest_before in topics_before.items():
        latest_after = latest_records(settings, name)
        for key, value in latest_after.items():
            if names(key, member):
                assert value is None, (name, key)  # tombstoned
            else:
                assert value == latest_before[key], (name, key)
        assert set(latest_after) == set(latest_before)

    audit = {row["action"]: row for row in after["privacy_requests"]}
    assert set(audit) == {"export", "delete"}
    assert {row["operator"] for row in audit.values()} == {"dpo-test"}
    assert audit["export"]["subject_digest"] == audit["delete"]["subject_digest"] != ""
    assert audit["export"]["outcome"] == "done"
    assert audit["delete"]["outcome"] == "done"  # the workers' state was erased before
    assert audit["delete"]["counts"]["clickhouse.chat_messages.deleted"] == len(messages)
    assert not any(p.startswith("state.") for p in audit["delete"]["pending"])
    assert member not in json.dumps(list(audit.values()), ensure_ascii=False)
