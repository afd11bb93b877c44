"""The member's rows in ClickHouse: every table naming a member, how to read and erase them.

Two kinds of rows per table:

- **owned**: the member's own rows (their messages, joins and leaves, orders, funnel
  steps, status changes, the sentiment of their messages, the inviter rows crediting
  them): exported whole, deleted with ``ALTER TABLE ... DELETE`` (a mutation rewrites
  the parts, so the data leaves the disk rather than being hidden);
- **references**: other members' rows naming the member (an @mention, an inviter id,
  a snapshot's member list, an alert excerpt under the member's salted reference):
  exported as context only (which row, when: never the other member's data) and
  anonymised with ``ALTER TABLE ... UPDATE``, the member's id replaced by a random
  token stored nowhere, so what those rows count stays as it was.

``tests/pipeline/privacy/test_clickhouse_tables.py`` fails when a DDL table gains a
member column that :data:`MEMBER_TABLES` does not cover.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from clickhouse_connect.driver.binding import format_query_value
from clickhouse_connect.driver.client import Client

from pipeline.privacy.document import jsonable

OwnerForm = Literal["id", "ref", "inviter_row"]
ReferenceForm = Literal["value", "array", "alert_excerpts"]
MESSAGE_CHUNK = 500
"""Message keys per ``IN`` list (a member may have written thousands of messages)."""
MUTATION_SETTINGS = {"mutations_sync": 2}
"""Wait until the mutation has rewritten every part (all replicas on a cluster)."""
ERASED_TEXT = ""


def quote(value: str) -> str:
    """A string literal, escaped by clickhouse-connect (member ids are opaque text)."""
    return format_query_value(value)


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom a request is about: the member id, the salted reference alerts use for them,
    and the one community it is limited to (None: all)."""

    member_id: str
    member_ref: str
    community: str | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """A column whose value makes a row the member's."""

    column: str
    form: OwnerForm = "id"
    """``id``: the column is the member id; ``ref``: the member's salted reference (member
    profiles); ``inviter_row``: a sales totals row of the ``inviter`` dimension, value
    ``<campaign>|<inviter id>``."""

    def condition(self, subject: Subject) -> str:
        member = quote(subject.member_id)
        if self.form == "ref":
            return f"{self.column} = {quote(subject.member_ref)}"
        if self.form == "inviter_row":
            return (f"(dimension = 'inviter' AND substring({self.column}, "
                    f"position({self.column}, '|') + 1) = {member})")
        return f"{self.column} = {member}"


@dataclass(frozen=True, slots=True)
class Reference:
    """A column of other rows that may name the member."""

    column: str
    form: ReferenceForm
    """``value``: a member id (inviter); ``array``: member ids (mentions, snapshot lists);
    ``alert_excerpts``: an Alert record (JSON) whose excerpts name members by salted
    reference."""

    def condition(self, subject: Subject) -> str:
        if self.form == "value":
            return f"{self.column} = {quote(subject.member_id)}"
        if self.form == "array":
            return f"has({self.column}, {quote(subject.member_id)})"
        return f"position({self.column}, {quote(orjson.dumps(subject.member_ref).decode())}) > 0"

    def replacement(self, subject: Subject, token: str) -> str:
        """The UPDATE expression that puts ``token`` in place of the member's id."""
        if self.form == "value":
            return quote(token)
        if self.form == "array":
            return (f"arrayMap(x -> if(x = {quote(subject.member_id)}, {quote(token)}, x), "
                    f"{self.column})")
        raise ValueError("alert excerpts are rewritten row by row")


@dataclass(frozen=True, slots=True)
class MemberTable:
    name: str
    owners: tuple[Owner, ...] = ()
    references: tuple[Reference, ...] = ()
    context: tuple[str, ...] = ()
    """Columns of a referencing row that go into an export: which row, where, when."""
    community: str | None = "community_id"
    """Column limiting a request to one community; None: rows are member-wide and a
    request limited to a community leaves them (only a request for all communities
    reads or erases them)."""
    of_messages: bool = False
    """Rows of the member's chat messages, by ``(community_id, message_id)``."""

    @property
    def member_columns(self) -> frozenset[str]:
        return frozenset(o.column for o in self.owners) | {r.column for r in self.references}


MEMBER_TABLES: tuple[MemberTable, ...] = (
    MemberTable("chat_messages", (Owner("member_id"),), (Reference("mentions", "array"),),
                ("message_id", "community_id", "ts")),
    MemberTable("message_sentiment", of_messages=True),
    MemberTable("member_events", (Owner("member_id"),), (Reference("inviter_id", "value"),),
                ("event_id", "community_id", "action", "ts")),
    MemberTable("membership_snapshots", references=(Reference("member_ids", "array"),),
                context=("snapshot_id", "community_id", "ts")),
    MemberTable("transactions", (Owner("member_id"),)),
    MemberTable("funnel_events", (Owner("person_id"),)),
    MemberTable("member_status_changes", (Owner("member_id"),)),
    MemberTable("member_profile", (Owner("member_id"), Owner("member_ref", "ref"))),
    MemberTable("sales_totals", (Owner("dimension_value", "inviter_row"),), community=None),
    MemberTable("sentiment_alerts", references=(Reference("record", "alert_excerpts"),),
                context=("incident_id", "revision", "community_id")),
)
"""Every ClickHouse table holding a member's data; message_sentiment follows
chat_messages (its rows are found by the member's message keys)."""

MEMBER_FREE_COLUMNS: dict[tuple[str, str], str] = {
    ("chat_messages", "sender_role"): "member, staff or bot: a role, not an id",
    ("message_sentiment", "sender_role"): "member, staff or bot: a role, not an id",
    ("community_activity_hour", "member_count_anchor"): "snapshot or relative",
    ("community_health_day", "member_count_anchor"): "snapshot or relative",
}
"""(table, column) named like a member column that holds no member id: why (the test
of the DDL's coverage reads it)."""


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ClickHouseStore:
    """Reads and erases one subject's rows in ``database`` through a clickhouse-connect
    client (embedded chdb or a server)."""

    def __init__(self, client: Client, database: str,
                 tables: tuple[MemberTable, ...] = MEMBER_TABLES) -> None:
        self.client = client
        self.database = database
        self.tables = tables

    # --- what the SQL selects ---------------------------------------------------------

    def _scope(self, table: MemberTable, subject: Subject) -> str | None:
        """Extra condition limiting to the subject's community; None: skip the table."""
        if subject.community is None:
            return ""
        if table.community is None:
            return None
        return f" AND {table.community} = {quote(subject.community)}"

    def _owned(self, table: MemberTable, subject: Subject,
               messages: Sequence[tuple[str, str]]) -> list[str]:
        """Conditions selecting the member's rows (several for long message lists)."""
        if table.of_messages:
            return [
                "(community_id, message_id) IN ("
                + ", ".join(f"({quote(c)}, {quote(m)})" for c, m in chunk) + ")"
                for chunk in _chunks(messages, MESSAGE_CHUNK)]
        if not table.owners:
            return []
        return ["(" + " OR ".join(o.condition(subject) for o in table.owners) + ")"]

    def _not_owned(self, table: MemberTable, subject: Subject) -> str:
        if not table.owners:
            return ""
        return " AND NOT (" + " OR ".join(o.condition(subject) for o in table.owners) + ")"

    def _query(self, sql: str) -> tuple[list[str], list[tuple]]:
        result = self.client.query(sql)
        return list(result.column_names), list(result.result_rows)

    def _count(self, table: str, where: str, final: bool = True) -> int:
        """Rows matching ``where``: as readers see them (FINAL), or every stored version."""
        return int(self._query(f"SELECT count() FROM {self.database}.{table}"
                               f"{' FINAL' if final else ''} WHERE {where}")[1][0][0])

    def message_keys(self, subject: Subject) -> list[tuple[str, str]]:
        """(community, message id) of the member's chat messages."""
        scope = "" if subject.community is None else \
            f" AND community_id = {quote(subject.community)}"
        _, rows = self._query(
            f"SELECT DISTINCT community_id, message_id FROM {self.database}.chat_messages "
            f"WHERE member_id = {quote(subject.member_id)}{scope} ORDER BY 1, 2")
        return [(str(c), str(m)) for c, m in rows]

    # --- access ------------------------------------------------------------------------

    def export(self, subject: Subject) -> tuple[dict[str, dict[str, list]], Counter[str]]:
        """Per table, the member's rows and the references to them; counts per table."""
        messages = self.message_keys(subject)
        found: dict[str, dict[str, list]] = {}
        counts: Counter[str] = Counter()
        for table in self.tables:
            scope = self._scope(table, subject)
            if scope is None:
                continue
            rows: list[dict] = []
            for condition in self._owned(table, subject, messages):
                columns, values = self._query(
                    f"SELECT * FROM {self.database}.{table.name} FINAL "
                    f"WHERE {condition}{scope}")
                rows += [jsonable(dict(zip(columns, row, strict=True))) for row in values]
            references = [item for reference in table.references
                          for item in self._references(table, reference, subject, scope)]
            if table.owners or table.of_messages:
                counts[f"clickhouse.{table.name}.rows"] += len(rows)
            if table.references:
                counts[f"clickhouse.{table.name}.references"] += len(references)
            if rows or references:
                found[table.name] = {"rows": rows, "references": references}
        return found, counts

    def _references(self, table: MemberTable, reference: Reference, subject: Subject,
                     scope: str) -> list[dict]:
        columns = list(table.context) + (["record"] if reference.form == "alert_excerpts"
                                         else [])
        names, values = self._query(
            f"SELECT {', '.join(columns)} FROM {self.database}.{table.name} FINAL "
            f"WHERE {reference.condition(subject)}{self._not_owned(table, subject)}{scope}")
        out = []
        for row in values:
            item = dict(zip(names, row, strict=True))
            item["column"] = reference.column
            if reference.form == "alert_excerpts":
                record = orjson.loads(item.pop("record"))
                item["excerpts"] = [e for e in record.get("excerpts", ())
                                    if e.get("member_ref") == subject.member_ref]
            out.append(jsonable(item))
        return out

    # --- erasure -----------------------------------------------------------------------

    def erase(self, subject: Subject, token: str, messages: Sequence[tuple[str, str]],
              counts: Counter[str]) -> Counter[str]:
        """Delete the member's rows and anonymise the references, adding the rows changed to
        ``counts`` as it goes (a failure midway still reports what was done).
        ``messages``: :meth:`message_keys`, read before (they go with the chat rows)."""
        for table in self.tables:
            scope = self._scope(table, subject)
            if scope is None:
                continue
            for condition in self._owned(table, subject, messages):
                deleted = self._count(table.name, condition + scope)
                if deleted:
                    self._mutate(f"ALTER TABLE {self.database}.{table.name} "
                                 f"DELETE WHERE {condition}{scope}")
                counts[f"clickhouse.{table.name}.deleted"] += deleted
            for reference in table.references:
                counts[f"clickhouse.{table.name}.anonymised"] += self._anonymise(
                    table, reference, subject, scope, token)
        return counts

    def _anonymise(self, table: MemberTable, reference: Reference, subject: Subject,
                   scope: str, token: str) -> int:
        where = reference.condition(subject) + scope
        if reference.form == "alert_excerpts":
            return self._rewrite_alerts(table, reference, subject, where, token)
        changed = self._count(table.name, where)
        if changed:
            self._mutate(f"ALTER TABLE {self.database}.{table.name} UPDATE "
                         f"{reference.column} = {reference.replacement(subject, token)} "
                         f"WHERE {where}")
        return changed

    def _rewrite_alerts(self, table: MemberTable, reference: Reference, subject: Subject,
                        where: str, token: str) -> int:
        """Each alert revision quoting the member: their excerpts keep score and time, lose
        text, message id and reference (one small mutation per revision)."""
        _, rows = self._query(
            f"SELECT DISTINCT incident_id, revision, {reference.column} "
            f"FROM {self.database}.{table.name} WHERE {where}")
        for incident_id, revision, record in rows:
            rewritten = anonymise_excerpts(record, subject.member_ref, token)
            self._mutate(
                f"ALTER TABLE {self.database}.{table.name} UPDATE {reference.column} = "
                f"{quote(rewritten)} WHERE incident_id = {quote(incident_id)} "
                f"AND revision = {int(revision)}")
        return len(rows)

    def _mutate(self, sql: str) -> None:
        self.client.command(sql, settings=MUTATION_SETTINGS)

    def remaining(self, subject: Subject, messages: Sequence[tuple[str, str]]) -> Counter[str]:
        """Stored rows (every version, merged or not) still naming the member after an
        erasure: empty when it worked."""
        counts: Counter[str] = Counter()
        for table in self.tables:
            scope = self._scope(table, subject)
            if scope is None:
                continue
            for condition in self._owned(table, subject, messages):
                counts[f"clickhouse.{table.name}"] += self._count(
                    table.name, condition + scope, final=False)
            for reference in table.references:
                counts[f"clickhouse.{table.name}"] += self._count(
                    table.name, reference.condition(subject) + scope, final=False)
        return +counts


def anonymise_excerpts(record: str, member_ref: str, token: str) -> str:
    """An Alert record (JSON) whose excerpts of ``member_ref`` keep their score, time and
    terms but lose text, message id and reference."""
    alert = orjson.loads(record)
    for excerpt in alert.get("excerpts", ()):
        if excerpt.get("member_ref") == member_ref:
            excerpt.update(member_ref=token, message_id=token, text=ERASED_TEXT)
    return orjson.dumps(alert).decode()
