"""The member in the workers' Faust table state, as stored on the changelog topics.

A table's changelog is ``<group>-<table>-changelog`` (Faust's naming), the group being
the app id for role ``all`` and ``<app id>-alerts`` / ``<app id>-metrics`` for the split
roles; keys and values are JSON.  The latest value per key is the table's content (a
null value: the key was deleted).  Only reading happens here: the state belongs to the
running workers, which would overwrite an edit made behind their back (DESIGN.md
"Privacy" for the erasure they must apply themselves).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.compute.erasure import STATE_TABLES, StateTable, find_member, key_names
from pipeline.privacy.clickhouse import Subject
from pipeline.privacy.topics import KafkaReader

ROLE_SUFFIXES = ("", "-alerts", "-metrics")
ANOTHER_PERSON = "(another person's record)"


def changelog_name(group_id: str, table: str) -> str:
    return f"{group_id}-{table}-changelog"


def changelogs(app_id: str, existing: set[str]) -> list[tuple[StateTable, str]]:
    """(table, changelog topic) for every table of every role's group that exists."""
    return [(table, name) for suffix in ROLE_SUFFIXES for table in STATE_TABLES
            if (name := changelog_name(app_id + suffix, table.name)) in existing]


def decode_key(raw: bytes | None) -> str:
    """A table key as text (JSON-serialised by Faust: a string, or a partition number)."""
    if raw is None:
        return ""
    try:
        return str(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def community_keyed(table: StateTable) -> bool:
    return table.key.startswith(("community", "<community>"))


def in_scope(table: StateTable, key: str, community: str | None) -> bool:
    """Whether a key belongs to the request's community (all keys without one)."""
    if community is None or not community_keyed(table):
        return True
    return key == community or key.startswith(f"{community}|")


@dataclass(frozen=True, slots=True)
class StateEntry:
    """Where the member appears in one table value."""

    table: str
    key: str
    path: tuple[str, ...]
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "path": list(self.path),
                "value": self.value}


def member_entries(table: StateTable, key: str, value: Any, subject: Subject,
                   ids: frozenset[str]) -> list[StateEntry]:
    """The member's entries in one table value: all of it when the key names them."""
    if value is None or not in_scope(table, key, subject.community):
        return []
    if key_names(key, ids):
        return [StateEntry(table.name, key, (), value)]
    shown = ANOTHER_PERSON if table.person_keyed else key
    return [StateEntry(table.name, shown, f.path, f.value) for f in find_member(value, ids)]


def latest_values(records: list[Any]) -> dict[str, tuple[int, Any]]:
    """Key -> (partition, latest value; None once deleted), in offset order per partition."""
    latest: dict[str, tuple[int, Any]] = {}
    for record in records:
        value = None if record.value is None else orjson.loads(record.value)
        latest[decode_key(record.key)] = (record.partition, value)
    return latest


def state_entries(reader: KafkaReader, subject: Subject,
                  ) -> tuple[list[StateEntry], Counter[str]]:
    """Every entry of the member in the table state of every worker group of the app."""
    ids = frozenset({subject.member_id, subject.member_ref})
    entries: list[StateEntry] = []
    counts: Counter[str] = Counter()
    for table, topic in changelogs(reader.settings.app_id, reader.topic_names()):
        for key, (_, value) in latest_values(reader.read(topic).records).items():
            found = member_entries(table, key, value, subject, ids)
            entries += found
            if found:
                counts[f"state.{table.name}"] += len(found)
    return entries, counts
