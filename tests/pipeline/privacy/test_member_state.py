"""The member in the workers' table state: every table known, entries found on changelogs."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from pipeline.app.factory import create_app
from pipeline.app.settings import load_settings
from pipeline.compute.erasure import STATE_TABLE_BY_NAME, STATE_TABLES, ErasureRequest
from pipeline.privacy.clickhouse import Subject
from pipeline.privacy.state import (
    ANOTHER_PERSON,
    changelog_name,
    changelogs,
    decode_key,
    erase_member_state,
    erasure_requests,
    latest_values,
    member_entries,
    member_keys,
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


def test_a_community_request_leaves_member_wide_state_alone() -> None:
    scoped = Subject(M, "m-aaaa", "c1")
    ledgers = STATE_TABLE_BY_NAME["sales-ledgers"]
    assert member_entries(ledgers, M, {"o1": [[1, 990, "c1", None, None], None]}, scoped,
                          IDS) == []
    assert len(member_entries(ledgers, M, {"o1": []}, Subject(M, "m-aaaa"), IDS)) == 1


class FakeChangelogs:
    """A broker holding changelogs of group ``pulse``; ``erase`` is what a worker does."""

    def __init__(self, values: dict[tuple[str, str], tuple[int, object]]) -> None:
        self.settings = SimpleNamespace(app_id="pulse")
        self.values = values
        self.reads = 0

    def topic_names(self) -> set[str]:
        return {changelog_name("pulse", table) for table, _ in self.values}

    def read(self, topic: str) -> SimpleNamespace:
        self.reads += 1
        return SimpleNamespace(records=[
            Record(orjson.dumps(key), None if value is None else orjson.dumps(value), partition)
            for (table, key), (partition, value) in self.values.items()
            if changelog_name("pulse", table) == topic])


def test_member_keys_and_one_request_per_partition() -> None:
    broker = FakeChangelogs({("health-members", "c1"): (1, {M: [1], "b": [1]}),
                             ("sales-ledgers", M): (2, {"o": []}),
                             ("sales-ledgers", "b"): (2, {"o": []})})
    keys, counts = member_keys(broker, Subject(M, "m-aaaa"))
    assert keys == {1: {("health-members", "c1")}, 2: {("sales-ledgers", M)}}
    assert counts == {"state.health-members": 1, "state.sales-ledgers": 1}
    requests = erasure_requests("r", Subject(M, "m-aaaa"), "erased-0", keys, 4)
    assert [p for p, _ in requests] == [0, 1, 2, 3]
    assert requests[0][1].keys == () and requests[2][1].keys == (("sales-ledgers", M),)
    assert requests[1][1] == ErasureRequest("r", M, "m-aaaa", "erased-0", None,
                                            (("health-members", "c1"),))


def test_delete_waits_until_the_workers_erased_the_member() -> None:
    broker = FakeChangelogs({("health-members", "c1"): (0, {M: [1], "b": [1]})})
    sent: list[list[tuple[int, bytes]]] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 4:  # the worker got to it
            broker.values[("health-members", "c1")] = (0, {"b": [1]})

    result = erase_member_state(broker, sent.append, Subject(M, "m-aaaa"), "r", "erased-0",
                                2, timeout_s=60, clock=lambda: now[0], sleep=sleep)
    assert result.found == {"state.health-members": 1} and not +result.remaining
    assert len(sent) == 1 and result.sent == 2 and result.waited_s == 4
    request = ErasureRequest.from_json(sent[0][0][1])
    assert request.keys == (("health-members", "c1"),) and request.request_id == "r.0"


def test_delete_resends_and_gives_up_after_its_timeout() -> None:
    broker = FakeChangelogs({("health-members", "c1"): (0, {M: [1]})})
    sent: list[list[tuple[int, bytes]]] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result = erase_member_state(broker, sent.append, Subject(M, "m-aaaa"), "r", "erased-0",
                                1, timeout_s=50, resend_s=20, clock=lambda: now[0],
                                sleep=sleep)
    assert result.remaining == {"state.health-members": 1}
    assert [ErasureRequest.from_json(batch[0][1]).request_id for batch in sent] == [
        "r.0", "r.1", "r.2"]
    nothing = FakeChangelogs({("health-members", "c1"): (0, {"b": [1]})})
    none_sent: list = []
    quiet = erase_member_state(nothing, none_sent.append, Subject(M, "m-aaaa"), "r", "t", 1,
                               timeout_s=0)
    assert none_sent == [] and not quiet.found and not quiet.remaining
    immediate = erase_member_state(broker, sent.append, Subject(M, "m-aaaa"), "r", "t", 1,
                                   timeout_s=0, sleep=lambda _: None)
    assert immediate.remaining == immediate.found and immediate.sent == 1
