"""The member in the workers' table state: every table known, entries found on changelogs."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import orjson
import pytest

from pipeline.app.factory import create_app
from pipeline.app.settings import load_settings
from pipeline.compute.erasure import STATE_TABLE_BY_NAME, STATE_TABLES
from pipeline.privacy.clickhouse import Subject
from pipeline.privacy.state import (
    ANOTHER_PERSON,
    changelog_name,
    changelogs,
    decode_key,
    latest_values,
    member_entries,
)

M = "wx-m-7"
IDS = frozenset({M, "m-aaaa"})
Record = namedtuple("Record", "key value partition")


@pytest.mark.parametrize("role", ["all", "alerts", "metrics"])
def test_every_table_of_a_worker_is_classified(role: str, tmp_path: Path) -> None:
    """A new Faust table must say how a member is found and erased in it."""
    settings = load_settings(worker_role=role, data_dir=tmp_path, topic_prefix="privacy.")
    app = create_app(settings)
    assert set(app.tables) <= set(STATE_TABLE_BY_NAME)
    for name, table in app.tables.items():
        assert table.changelog_topic.get_topic_name() == changelog_name(settings.group_id, name)
    if role == "all":
        assert set(app.tables) == {table.name for table in STATE_TABLES}


def test_changelogs_of_every_role_group_that_exists() -> None:
    existing = {"pulse-health-members-changelog", "pulse-alerts-incident-state-changelog",
                "pulse-metrics-sales-ledgers-changelog", "other-health-members-changelog"}
    found = {(table.name, topic) for table, topic in changelogs("pulse", existing)}
    assert found == {("health-members", "pulse-health-members-changelog"),
                     ("incident-state", "pulse-alerts-incident-state-changelog"),
                     ("sales-ledgers", "pulse-metrics-sales-ledgers-changelog")}


def test_member_entries_by_key_and_inside_values() -> None:
    subject = Subject(M, "m-aaaa")
    members = STATE_TABLE_BY_NAME["health-members"]
    value = {M: [1, 1, 1, 0, 0], "b": [1, 0, 0, 0, 0]}
    (entry,) = member_entries(members, "c1", value, subject, IDS)
    assert (entry.key, entry.path, entry.value) == ("c1", (M,), [1, 1, 1, 0, 0])
    ledgers = STATE_TABLE_BY_NAME["sales-ledgers"]
    (own,) = member_entries(ledgers, M, {"o1": [[1, 990, "c1", None, None], None]}, subject,
                            IDS)
    assert own.path == () and own.key == M
    journeys = STATE_TABLE_BY_NAME["sales-journeys"]
    (invited,) = member_entries(journeys, "wx-b", {"j": [[1, "ev", "c1", M, "qr"]]}, subject,
                                IDS)
    assert invited.key == ANOTHER_PERSON and invited.path == ("j", "0")
    assert member_entries(members, "c1", None, subject, IDS) == []
    scoped = Subject(M, "m-aaaa", "c2")
    assert member_entries(members, "c1", value, scoped, IDS) == []
    hours = STATE_TABLE_BY_NAME["health-hours"]
    window = {"m": {"x": [1, 0, M, 0, "", 0]}}
    assert len(member_entries(hours, "c2|1700000000000", window, scoped, IDS)) == 1
    assert member_entries(hours, "c22|1700000000000", window, scoped, IDS) == []


def test_latest_values_follow_the_changelog() -> None:
    records = [Record(b'"c1"', orjson.dumps({"a": 1}), 0), Record(b"3", b"{}", 1),
               Record(b'"c1"', orjson.dumps({"a": 2}), 0), Record(b'"c2"', b"{}", 0),
               Record(b'"c2"', None, 0)]
    assert latest_values(records) == {"c1": (0, {"a": 2}), "3": (1, {}), "c2": (0, None)}
    assert decode_key(b"not json") == "not json" and decode_key(None) == ""
