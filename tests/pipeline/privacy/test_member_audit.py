"""Audit rows of privacy requests: who, what, when, counts; never the member id."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.privacy.audit import AuditEntry, subject_digest

M = "wx-m-7"


def test_subject_digest_is_keyed_or_absent() -> None:
    assert subject_digest(M, None) == "" and subject_digest(M, "") == ""
    digest = subject_digest(M, "k1")
    assert len(digest) == 64 and M not in digest
    assert digest == subject_digest(M, "k1") != subject_digest(M, "k2")
    assert digest != subject_digest("wx-m-8", "k1")


def test_audit_row_holds_counts_and_outcome() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    entry = AuditEntry("r1", "delete", "", None, "ops", start)
    assert entry.row()[6] == start and entry.row()[7] == "failed"
    end = datetime(2026, 11, 2, 0, 1, tzinfo=UTC)
    entry.finish(end, "done", {"b": 2, "a": 1}, ["x"])
    row = dict(zip(AuditEntry.COLUMNS, entry.row(), strict=True))
    assert row["completed_at"] == end and row["outcome"] == "done"
    assert list(row["counts"].items()) == [("a", 1), ("b", 2)]
    assert row["pending"] == ["x"] and M not in repr(row)
