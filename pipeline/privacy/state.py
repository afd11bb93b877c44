"""The member in the workers' Faust table state, as stored on the changelog topics.

A table's changelog is ``<group>-<table>-changelog`` (Faust's naming), the group being
the app id for role ``all`` and ``<app id>-alerts`` / ``<app id>-metrics`` for the split
roles; keys and values are JSON.  The latest value per key is the table's content (a
null value: the key was deleted).  Only reading happens here: the state belongs to the
running workers, which would overwrite an edit made behind their back: an erasure is
asked of them (:func:`erase_member_state`, topic ``pipeline.privacy-erasures.v1``,
``agents.privacy_erasures``) and watched here until the changelogs no longer name the
member.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.compute.erasure import (
    STATE_TABLES,
    ErasureRequest,
    StateTable,
    find_member,
    key_names,
)
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
    """Whether a key belongs to the request's community (all keys without one).  Tables
    not keyed by community (member-, campaign- or fingerprint-keyed state) are member-wide:
    left to a request for all communities."""
    if community is None:
        return True
    if not community_keyed(table):
        return False
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


def _scan(reader: KafkaReader, subject: Subject,
          ) -> Iterator[tuple[StateTable, str, int, list[StateEntry]]]:
    """(table, key, partition, the member's entries) for every value naming the member."""
    ids = frozenset({subject.member_id, subject.member_ref})
    for table, topic in changelogs(reader.settings.app_id, reader.topic_names()):
        for key, (partition, value) in latest_values(reader.read(topic).records).items():
            found = member_entries(table, key, value, subject, ids)
            if found:
                yield table, key, partition, found


def state_entries(reader: KafkaReader, subject: Subject,
                  ) -> tuple[list[StateEntry], Counter[str]]:
    """Every entry of the member in the table state of every worker group of the app."""
    entries: list[StateEntry] = []
    counts: Counter[str] = Counter()
    for table, _, _, found in _scan(reader, subject):
        entries += found
        counts[f"state.{table.name}"] += len(found)
    return entries, counts


Keys = dict[int, set[tuple[str, str]]]
"""Partition -> (table, key) of the values naming the member there."""


def member_keys(reader: KafkaReader, subject: Subject) -> tuple[Keys, Counter[str]]:
    """Where the member is in the table state (real keys, for the erasure requests; never
    shown), and their entries counted per table like :func:`state_entries`."""
    keys: Keys = defaultdict(set)
    counts: Counter[str] = Counter()
    for table, key, partition, found in _scan(reader, subject):
        keys[partition].add((table.name, key))
        counts[f"state.{table.name}"] += len(found)
    return dict(keys), counts


def erasure_requests(request_id: str, subject: Subject, token: str, keys: Keys,
                     partitions: int) -> list[tuple[int, ErasureRequest]]:
    """One request for every partition of the erasure topic (each lists its own keys;
    every partition hears of the request even without keys there)."""
    return [(p, ErasureRequest(request_id, subject.member_id, subject.member_ref, token,
                               subject.community, tuple(sorted(keys.get(p, ())))))
            for p in range(partitions)]


@dataclass(slots=True)
class StateErasure:
    """How the workers' erasure of a member went, as seen on the changelogs."""

    found: Counter[str]
    """Entries per ``state.<table>`` before any request was sent."""
    remaining: Counter[str]
    """Entries still there when the wait ended (empty: erased everywhere)."""
    sent: int = 0
    """Request records sent (one per partition and round)."""
    waited_s: float = 0.0


def erase_member_state(reader: KafkaReader, send: Callable[[list[tuple[int, bytes]]], None],
                       subject: Subject, request_id: str, token: str, partitions: int,
                       timeout_s: float, poll_s: float = 2.0, resend_s: float = 20.0,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> StateErasure:
    """Have the running workers erase the member from their tables and wait (at most
    ``timeout_s``) until no changelog holds an entry naming them.

    While entries remain, requests go out again every ``resend_s`` with the keys then found
    (a key the member re-entered, or one a restarted worker had not reached): applying a
    request twice changes nothing.  ``timeout_s`` 0 sends once and does not wait (the
    requests stay queued for the workers for the topic's retention).
    """
    started = clock()
    keys, found = member_keys(reader, subject)
    remaining = Counter(found)
    result = StateErasure(found, remaining)
    last_sent: float | None = None
    while +remaining:
        now = clock()
        if last_sent is None or now - last_sent >= resend_s:
            send([(p, r.to_json()) for p, r in erasure_requests(
                f"{request_id}.{result.sent // max(partitions, 1)}", subject, token, keys,
                partitions)])
            result.sent += partitions
            last_sent = now
        if now - started >= timeout_s:
            break
        sleep(poll_s)
        keys, remaining = member_keys(reader, subject)
    result.remaining, result.waited_s = remaining, clock() - started
    return result
