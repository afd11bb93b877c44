"""A member's data inside saved table state: find it (access) and take it out (erasure).

Faust table values are JSON.  A member appears in three shapes: as a dict key (their
entry: ``health-members`` community value -> member -> record), inside a record list
(an hour window's message entry ``[ts, role, sender, ...]``), or in a list of ids (a
minute window's speakers, a snapshot's members).  :func:`find_member` walks any value
for those shapes, so an export also covers state formats added later.

Erasure rules, per table (:data:`STATE_TABLES`, DESIGN.md "Privacy"):

- ``drop_entry``: the member's own entry in a community value is dropped
  (``health-members``: activity days, join time, silence status);
- ``forget_presence``: the member leaves a community's membership state without a
  leave being counted (``health-communities``): the open days' member count drops
  by one, published days keep theirs;
- ``tombstone_or_anonymise``: a value keyed by the member (their sales ledger, their
  journey, their funnel progress) is deleted; in values keyed by someone else the
  member's id is replaced by an unlinkable token;
- ``anonymise``: the member's id is replaced by the token wherever it appears, so
  counts already taken (messages in an open hour, speakers of a minute) stay exact
  and nothing links them to the member;
- ``none``: holds no member data (clocks, baselines, alert deliveries).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from pipeline.compute.health.community import CommunityState

Rule = Literal["drop_entry", "forget_presence", "tombstone_or_anonymise", "anonymise", "none"]
TOMBSTONE = None
"""What :func:`erase_state` returns for a value that must be deleted (a null changelog value)."""


@dataclass(frozen=True, slots=True)
class StateTable:
    """A Faust table, the form of its keys and how a member is erased from it."""

    name: str
    key: str
    rule: Rule
    person_keyed: bool = False
    """Keys name one person (member or inviter): another person's key is not shown in an
    export (only that the member appears in it)."""
    writer: str | None = None
    """The agent that writes the table (its single writer), which applies erasures to it
    under its batch lock; None for tables without member data (rule ``none``)."""


STATE_TABLES: tuple[StateTable, ...] = (
    StateTable("activity-minute-windows", "<community>|<window start>", "anonymise",
               writer="community-activity"),
    StateTable("activity-minute-clocks", "partition", "none"),
    StateTable("health-hours", "<community>|<hour start>", "anonymise",
               writer="community-activity"),
    StateTable("health-days", "<community>|<day>", "anonymise", writer="community-activity"),
    StateTable("health-communities", "community", "forget_presence",
               writer="community-activity"),
    StateTable("health-members", "community", "drop_entry", writer="community-activity"),
    StateTable("health-member-days", "<community>|<day>", "drop_entry",
               writer="community-activity"),
    StateTable("health-clocks", "partition", "none"),
    StateTable("anomaly-baselines", "<community>|<metric>", "none"),
    StateTable("funnel-persons", "<campaign>|<person>", "tombstone_or_anonymise",
               person_keyed=True, writer="campaign-funnels"),
    StateTable("funnel-alerts", "campaign", "none"),
    StateTable("funnel-clocks", "partition", "none"),
    StateTable("sales-ledgers", "member", "tombstone_or_anonymise", person_keyed=True,
               writer="sales-ledgers"),
    StateTable("sales-journeys", "member", "tombstone_or_anonymise", person_keyed=True,
               writer="sales-ledgers"),
    StateTable("sales-partials", "<totals row>#<partition> (inviter rows name the inviter)",
               "tombstone_or_anonymise", person_keyed=True, writer="sales-ledgers"),
    StateTable("sales-combined", "<totals row> (inviter rows name the inviter)",
               "tombstone_or_anonymise", person_keyed=True, writer="sales-totals"),
    StateTable("incident-state", "community (members by salted reference)", "anonymise",
               writer="sentiment-incidents"),
    StateTable("incident-notified", "incident", "none"),
    StateTable("spread-state", "complaint fingerprint", "anonymise", writer="sentiment-spread"),
    StateTable("anomaly-delivered", "anomaly", "none"),
    StateTable("conversion-delivered", "conversion alert", "none"),
)
STATE_TABLE_BY_NAME = {table.name: table for table in STATE_TABLES}


@dataclass(frozen=True, slots=True)
class Fragment:
    """Where the member appears in a value (path of dict keys and list indexes) and what is
    there: their entry, the record naming them, or just their id (member of a set)."""

    path: tuple[str, ...]
    value: Any


def key_names(key: str, ids: Collection[str]) -> bool:
    """Whether a table or topic key names one of ``ids`` (alone, or between ``|``/``#``)."""
    if key in ids:
        return True
    for member in ids:
        if (key.startswith(f"{member}|") or key.endswith(f"|{member}")
                or f"|{member}|" in key or f"|{member}#" in key):
            return True
    return False


def find_member(value: Any, ids: Collection[str], path: tuple[str, ...] = ()) -> list[Fragment]:
    """Every place of ``value`` naming one of ``ids``, smallest enclosing unit first.

    A list of strings is a set of ids: only the member's id is reported, never the other
    members listed with it.  Any other list naming the member directly is a record about
    them (their message, their leave) and is reported whole.
    """
    if isinstance(value, dict):
        found: list[Fragment] = []
        for key, item in value.items():
            name = str(key)
            if name in ids:
                found.append(Fragment((*path, name), item))
            else:
                found += find_member(item, ids, (*path, name))
        return found
    if isinstance(value, list):
        if value and all(isinstance(item, str) for item in value):
            return [Fragment(path, item) for item in value if item in ids]
        if any(isinstance(item, str) and item in ids for item in value):
            return [Fragment(path, value)]
        found = []
        for index, item in enumerate(value):
            found += find_member(item, ids, (*path, str(index)))
        return found
    if isinstance(value, str) and value in ids:
        return [Fragment(path, value)]
    return []


def anonymise(value: Any, ids: Collection[str], token: str) -> Any:
    """``value`` with every dict key and string equal to one of ``ids`` replaced by
    ``token`` (a random id stored nowhere else, so nothing links it back)."""
    if isinstance(value, dict):
        return {(token if str(key) in ids else key): anonymise(item, ids, token)
                for key, item in value.items()}
    if isinstance(value, list):
        return [anonymise(item, ids, token) for item in value]
    if isinstance(value, str) and value in ids:
        return token
    return value


def drop_member_entry(members: dict[str, Any], member_id: str) -> dict[str, Any]:
    """A ``health-members`` value (member -> record) without the member's record."""
    return {member: record for member, record in members.items() if member != member_id}


def forget_presence(community: dict | None, member_id: str) -> dict | None:
    """A ``health-communities`` value without the member among the present or absent ones
    (no leave is counted: the erased member is simply no longer known)."""
    if not community:
        return community
    state = CommunityState.from_wire(community)
    state.present.pop(member_id, None)
    state.absent.pop(member_id, None)
    return state.to_wire()


def erase_state(table: StateTable, key: str, value: Any, member_id: str,
                ids: Collection[str], token: str) -> Any:
    """The value to save in place of ``value`` (``TOMBSTONE``: delete the key).

    ``ids`` are the member's id and its pseudonymous references (alerts name members
    by salted hash); ``token`` replaces them where a record is kept.
    """
    if value is None or table.rule == "none":
        return value
    if table.rule == "drop_entry":
        return drop_member_entry(value, member_id)
    if table.rule == "forget_presence":
        return forget_presence(value, member_id)
    if table.rule == "tombstone_or_anonymise" and key_names(key, ids):
        return TOMBSTONE
    return anonymise(value, ids, token)


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """One partition's share of a ``pulse members delete`` (topic
    ``pipeline.privacy-erasures.v1``): the table keys of that partition whose values name
    the member, as found on the changelogs, and the token replacing the member's ids.

    The keys are listed because a worker cannot tell which partition a key of a
    ``memory://`` table lives on; the deleting command read them from that partition's
    changelogs, so the agents rewrite exactly those, on the same changelog partition.
    """

    request_id: str
    member_id: str
    member_ref: str
    token: str
    community: str | None = None
    keys: tuple[tuple[str, str], ...] = ()
    """(table, key) pairs of this partition."""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset({self.member_id, self.member_ref})

    def to_json(self) -> bytes:
        return orjson.dumps({"request_id": self.request_id, "member_id": self.member_id,
                             "member_ref": self.member_ref, "token": self.token,
                             "community": self.community, "keys": self.keys})

    @classmethod
    def from_json(cls, raw: bytes) -> ErasureRequest:
        data = orjson.loads(raw)
        keys = tuple((str(table), str(key)) for table, key in data.get("keys", ()))
        return cls(str(data["request_id"]), str(data["member_id"]), str(data["member_ref"]),
                   str(data["token"]), data.get("community"), keys)


def erasure_writes(request: ErasureRequest, tables: Collection[str],
                   get: Callable[[str, str], Any]) -> list[tuple[str, str, Any]]:
    """What to write to erase the request's keys of ``tables`` (the tables one agent owns):
    (table, key, new value or ``TOMBSTONE``), read through ``get(table, key)``.

    A key already erased (absent, or its value unchanged by the rule) gives no write, so a
    replayed request changes nothing more.
    """
    writes: list[tuple[str, str, Any]] = []
    for name, key in request.keys:
        table = STATE_TABLE_BY_NAME.get(name)
        if table is None or name not in tables or table.rule == "none":
            continue
        value = get(name, key)
        if value is None:
            continue
        erased = erase_state(table, key, value, request.member_id, request.ids, request.token)
        if erased != value:
            writes.append((name, key, erased))
    return writes
