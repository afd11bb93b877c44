"""Access and erasure requests of one member (PIPL): ``pulse members export | delete``.

Operator tooling run from the CLI, never imported by a worker (``lint-imports``):
the stores it reads and erases are listed in one place each, beside a test that fails
when a store gains member data it does not cover:

- ClickHouse tables: :data:`pipeline.privacy.clickhouse.MEMBER_TABLES`;
- compacted topics keyed by member: :data:`pipeline.privacy.topics.MEMBER_KEYED_TOPICS`;
- input topics scanned by an export: :data:`pipeline.privacy.topics.SCANNED_TOPICS`;
- Faust table state: :data:`pipeline.compute.erasure.STATE_TABLES` (read from the
  changelog topics; erased by the workers, DESIGN.md "Privacy").

Every request leaves an audit row (:mod:`pipeline.privacy.audit`) with counts only; the
console and the logs never show the member's data.
"""

DEFAULT_SCAN_LIMIT = 1_000_000
"""Newest records of each input topic an export scans (``--scan-limit``; 0: none)."""
DEFAULT_STATE_TIMEOUT_S = 120
"""How long ``delete`` waits for the workers to erase the member from their table state
(``--state-timeout``)."""
