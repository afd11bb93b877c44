"""An access or erasure request end to end: every store, one audit row, counts only.

Nothing here prints or logs the member's data: results are counts per store
(``clickhouse.<table>.rows``, ``topic.<topic>``, ``state.<table>``, ``input.<topic>``),
the export document goes to a file of mode 0600.  An exception's message may quote
SQL naming the member, so the audit keeps only its type.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pipeline.app.settings import Settings
from pipeline.compute.escalation.policy import DEFAULT_POLICY, EscalationPolicy
from pipeline.compute.escalation.signals import member_ref
from pipeline.egress.clickhouse.client import connect, create_schema
from pipeline.privacy import DEFAULT_SCAN_LIMIT, DEFAULT_STATE_TIMEOUT_S
from pipeline.privacy.audit import Action, AuditEntry, Outcome, subject_digest, write_audit
from pipeline.privacy.clickhouse import ClickHouseStore, Subject
from pipeline.privacy.document import decode_value, write_document
from pipeline.privacy.state import StateErasure, erase_member_state, state_entries
from pipeline.privacy.topics import (
    KafkaReader,
    input_retention,
    member_keyed_records,
    reference_context,
    scan_inputs,
)
from pipeline.topics import DAY_MS, PRIVACY_ERASURES, ensure_topics

TOKEN_PREFIX = "erased-"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class RequestResult:
    request_id: str
    outcome: Outcome
    counts: Counter[str]
    pending: list[str] = field(default_factory=list)
    path: Path | None = None
    remaining: int = 0
    """Rows or live records still naming the member in the stores this command erases."""


def member_salt(settings: Settings) -> str:
    """The salt alerts hash member ids with (the escalation policy's ``member_salt``)."""
    if settings.escalation_policy_file is None:
        return DEFAULT_POLICY.member_salt
    values = json.loads(settings.escalation_policy_file.read_text(encoding="utf-8"))
    return values.get("member_salt", DEFAULT_POLICY.member_salt)


def subject_of(settings: Settings, member_id: str, community: str | None) -> Subject:
    policy = EscalationPolicy(member_salt=member_salt(settings))
    return Subject(member_id, member_ref(member_id, policy), community)


class PrivacyRequest:
    """One request against the configured ClickHouse and Kafka; audited on exit."""

    def __init__(self, settings: Settings, action: Action, member_id: str,
                 community: str | None, operator: str, clock: Clock = _now,
                 request_id: str | None = None) -> None:
        self.settings = settings
        self.subject = subject_of(settings, member_id, community)
        self.clock = clock
        key = settings.privacy_audit_key
        self.audit = AuditEntry(
            request_id=request_id or new_request_id(), action=action,
            subject_digest=subject_digest(member_id, key.get_secret_value() if key else None),
            community_id=community, operator=operator, requested_at=clock())
        self.counts: Counter[str] = Counter()
        """What was found or changed so far, per store (audited even after a failure)."""
        self.client: Client | None = None

    def __enter__(self) -> PrivacyRequest:
        self.client = connect(self.settings.clickhouse_url)
        create_schema(self.client, self.settings.clickhouse_database,
                      self.settings.clickhouse_retention_days)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _traceback: Any) -> None:
        assert self.client is not None
        try:
            if kind is not None:
                self.audit.finish(self.clock(), "failed", self.counts, [], note=kind.__name__)
            write_audit(self.client, self.settings.clickhouse_database, self.audit)
        finally:
            self.client.close()

    @property
    def store(self) -> ClickHouseStore:
        assert self.client is not None
        return ClickHouseStore(self.client, self.settings.clickhouse_database)


def export_member(settings: Settings, member_id: str, community: str | None, operator: str,
                  out: Path, scan_limit: int = DEFAULT_SCAN_LIMIT, clock: Clock = _now,
                  request_id: str | None = None) -> RequestResult:
    """Write everything held about the member to ``out``; counts per store."""
    with PrivacyRequest(settings, "export", member_id, community, operator, clock,
                        request_id) as request:
        subject, counts = request.subject, request.counts
        rows, found = request.store.export(subject)
        counts.update(found)
        reader = KafkaReader(settings)
        topics: dict[str, list[dict]] = {}
        for name, records in member_keyed_records(reader, subject).items():
            topics[name] = [{"partition": r.partition, "offset": r.offset,
                             "timestamp_ms": r.timestamp, "key": r.key.decode(),
                             "value": decode_value(r.value)} for r in records]
            counts[f"topic.{name}"] = len(records)
        entries, found = state_entries(reader, subject)
        counts.update(found)
        inputs = _scanned_inputs(reader, subject, scan_limit, counts)
        document = {
            "request_id": request.audit.request_id,
            "generated_at": clock(),
            "member_id": member_id,
            "community_id": community,
            "clickhouse": rows,
            "compacted_topics": topics,
            "table_state": [entry.to_json() for entry in entries],
            "input_topics": inputs,
            "notes": export_notes(scan_limit),
        }
        write_document(document, out)
        request.audit.finish(clock(), "done", counts, [])
        return RequestResult(request.audit.request_id, "done", counts, [], out)


def _scanned_inputs(reader: KafkaReader, subject: Subject, limit: int,
                    counts: Counter[str]) -> dict[str, dict]:
    if limit <= 0:
        return {}
    out: dict[str, dict] = {}
    for name, (read, matched) in scan_inputs(reader, subject, limit).items():
        records = []
        for relation, record in matched:
            value = decode_value(record.value)
            where = {"partition": record.partition, "offset": record.offset}
            if relation == "reference":
                records.append({"relation": relation, **where, **reference_context(value, name)})
            else:
                records.append({"relation": relation, **where, "value": value})
        out[name] = {"scanned": read.scanned, "complete": read.complete, "records": records}
        counts[f"input.{name}"] = len(records)
    return out


def export_notes(scan_limit: int) -> list[str]:
    scanned = (f"input topics: the newest {scan_limit} records of each were scanned "
               "('complete' says whether that reached the start of the topic)"
               if scan_limit > 0 else "input topics were not scanned (--scan-limit 0)")
    return [
        "clickhouse: rows are the member's own; references are other members' rows that "
        "name the member, shown without the other member's data",
        "table_state: the workers' Faust tables as stored on their changelog topics "
        "(latest value per key); 'path' locates the member inside the value",
        scanned,
        f"input topics keep raw events for their retention: {input_retention()}",
    ]


def new_token() -> str:
    """A random id replacing the member's where a record is kept; stored nowhere else."""
    return TOKEN_PREFIX + secrets.token_hex(8)


def erase_workers_state(settings: Settings, subject: Subject, request_id: str, token: str,
                        timeout_s: float, reader: KafkaReader | None = None) -> StateErasure:
    """Ask the running workers to erase the member from their tables (one request per
    partition of ``pipeline.privacy-erasures.v1``) and wait until the changelogs no longer
    name them, at most ``timeout_s`` (0: send, do not wait)."""
    reader = reader or KafkaReader(settings)
    topic = settings.topic(PRIVACY_ERASURES.name)

    def send(messages: list[tuple[int, bytes]]) -> None:
        if topic not in reader.topic_names():
            ensure_topics(settings, (PRIVACY_ERASURES,))
        reader.send(topic, [(p, request_id.encode(), value) for p, value in messages])

    return erase_member_state(reader, send, subject, request_id, token,
                              settings.topic_partitions, timeout_s)


def state_report(state: StateErasure, timeout_s: float) -> tuple[Counter[str], list[str]]:
    """Counts (``state.<table>.found`` / ``.remaining``, ``state.requests``) and what is
    still held, from the workers' erasure."""
    counts: Counter[str] = Counter({f"{k}.found": v for k, v in state.found.items()})
    counts.update({f"{k}.remaining": v for k, v in state.remaining.items() if v})
    if state.sent:
        counts["state.requests"] = state.sent
    retention = PRIVACY_ERASURES.retention_ms // DAY_MS
    waited = (f"still there after {timeout_s:g} s: are the workers running? the request "
              f"waits for them for {retention} day(s); run delete again to confirm"
              if timeout_s > 0 else "requested, not waited for (--state-timeout 0)")
    pending = [f"{name}: {count} (workers' table state, {waited})"
               for name, count in sorted(state.remaining.items()) if count]
    return counts, pending


def delete_member(settings: Settings, member_id: str, community: str | None, operator: str,
                  clock: Clock = _now, state_timeout_s: float = DEFAULT_STATE_TIMEOUT_S,
                  ) -> RequestResult:
    """Have the workers erase the member from their table state (waiting for it, so that
    no worker re-emits their rows afterwards), then erase ClickHouse and the member-keyed
    compacted topics."""
    with PrivacyRequest(settings, "delete", member_id, community, operator, clock) as request:
        subject, store, counts = request.subject, request.store, request.counts
        token = new_token()
        reader = KafkaReader(settings)
        state = erase_workers_state(settings, subject, request.audit.request_id, token,
                                    state_timeout_s, reader)
        found, pending = state_report(state, state_timeout_s)
        counts.update(found)
        messages = store.message_keys(subject)
        store.erase(subject, token, messages, counts)
        remaining = store.remaining(subject, messages)
        for name, records in member_keyed_records(reader, subject).items():
            latest = {r.key: r for r in records}
            live = {key: r.partition for key, r in latest.items() if r.value is not None}
            counts[f"topic.{name}.tombstoned"] = reader.tombstone(settings.topic(name), live)
        for name, records in member_keyed_records(reader, subject).items():
            latest = {r.key: r.value for r in records}
            remaining[f"topic.{name}"] = sum(value is not None for value in latest.values())
        pending.append(f"input topics until their retention ({input_retention()})")
        counts.update({f"{k}.remaining": v for k, v in remaining.items() if v})
        outcome: Outcome = "incomplete" if +remaining or +state.remaining else "done"
        note = "rows remain after erasure" if +remaining else ""
        request.audit.finish(clock(), outcome, counts, pending, note)
        return RequestResult(request.audit.request_id, outcome, counts, pending,
                             remaining=sum(remaining.values()))


def delete_member_state(settings: Settings, member_id: str, community: str | None,
                        state_timeout_s: float = DEFAULT_STATE_TIMEOUT_S) -> RequestResult:
    """Only the workers' part of a deletion, without ClickHouse (so that it runs beside a
    worker owning an embedded chdb); not audited: the full ``delete`` that must follow is."""
    subject = subject_of(settings, member_id, community)
    request_id = new_request_id()
    state = erase_workers_state(settings, subject, request_id, new_token(), state_timeout_s)
    counts, pending = state_report(state, state_timeout_s)
    pending.append("ClickHouse and the compacted topics: run delete without --state-only")
    outcome: Outcome = "incomplete" if +state.remaining else "done"
    return RequestResult(request_id, outcome, counts, pending)
