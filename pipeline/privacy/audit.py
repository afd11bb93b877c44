"""One audit row per access or erasure request, without the member's data.

The row says who asked (operator), what was done, when, with what outcome, and how
many rows or records each store held or changed.  It does not hold the member id:
keeping it would keep, after an erasure, the very link the erasure removed.  With
``PULSE_PRIVACY_AUDIT_KEY`` set, it holds a keyed hash (HMAC-SHA256) of the id, so an
auditor holding the key can answer "was member X's request done?" by hashing X;
without the key the digest cannot be recomputed, and destroying the key makes every
digest unlinkable.  Without a key the row records the fact only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from clickhouse_connect.driver.client import Client

AUDIT_TABLE = "privacy_requests"
Action = Literal["export", "delete"]
Outcome = Literal["done", "incomplete", "failed"]
"""incomplete: rows remained after the erasure, or the workers had not erased the member
from their table state when the command stopped waiting; ``pending`` says where.  The input
topics are always pending until their retention and do not make a request incomplete."""


def subject_digest(member_id: str, key: str | None) -> str:
    """Keyed hash of the member id, or '' without a key (the fact only)."""
    if not key:
        return ""
    return hmac.new(key.encode(), member_id.encode(), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class AuditEntry:
    request_id: str
    action: Action
    subject_digest: str
    community_id: str | None
    operator: str
    requested_at: datetime
    completed_at: datetime | None = None
    outcome: Outcome = "failed"
    counts: dict[str, int] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    """Stores still holding the member after this request (to erase elsewhere)."""
    note: str = ""

    COLUMNS = ("request_id", "action", "subject_digest", "community_id", "operator",
               "requested_at", "completed_at", "outcome", "counts", "pending", "note")

    def row(self) -> tuple:
        return (self.request_id, self.action, self.subject_digest, self.community_id,
                self.operator, self.requested_at, self.completed_at or self.requested_at,
                self.outcome, dict(self.counts), list(self.pending), self.note)

    def finish(self, at: datetime, outcome: Outcome, counts: Mapping[str, int],
               pending: list[str], note: str = "") -> None:
        self.completed_at, self.outcome, self.note = at, outcome, note
        self.counts = {k: int(v) for k, v in sorted(counts.items())}
        self.pending = pending


def write_audit(client: Client, database: str, entry: AuditEntry) -> None:
    client.insert(f"{database}.{AUDIT_TABLE}", [entry.row()],
                  column_names=list(AuditEntry.COLUMNS))
