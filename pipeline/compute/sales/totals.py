"""Additive sales totals per window and dimension: GMV, refunds, paying and repeat members.

Pure logic, no Kafka.  Exactness under at-least-once delivery comes from
diffing, not counting: a member's :func:`contribution` (everything the member
adds to every row) is a function of the member's ledger alone, and a
partition's totals are the sum of its members' contributions, kept up to date
by :func:`apply_rows` (``+ contribution(new) - contribution(old)``;
:func:`apply_change` for a ledger alone).  Applying the same state again is a
zero diff, so duplicates, replays and out-of-order arrival cannot double count.
The same holds for any contribution that is a function of one member's state:
``journeys.member_contribution`` adds the channel attribution and fission rows
(dimensions ``first_touch``, ``last_touch`` and ``inviter``, with the fields
``joins``, ``invited_joins`` and ``participants``) to these sales rows.

Rows are keyed ``(dimension, key, window_kind, window_start_ms)``:

- windows: ``("hour", hour start)``, ``("day", local midnight of the
  deployment's calendar)`` and ``("all", 0)``, the cumulative total;
- dimensions: ``("all", "*")``, ``("community", id)``, ``("campaign", id)``,
  ``("channel", name)``.  An order without the attribute (None or "") has no
  row in that dimension.  ``first_touch`` / ``last_touch`` (key
  ``campaign|channel``) and ``inviter`` (key ``campaign|inviter``) are the
  attribution rows of ``journeys``, which states their rules.

A paid order counts in the windows of its paid time; a refund in the windows
of its refund time, in its order's dimensions (``ledger`` states the refund
rules).  A refund whose order is unknown counts only as unmatched, in
dimension ``all`` (its dimensions are unknown).

Distinct members: a member adds 0 or 1 to ``paying_members`` and
``repeat_members`` of a row, so these counts are additive across members, and
across partitions, because each member lives on exactly one partition.

Partitions are combined downstream (:class:`CombinedWindow`): each partition
publishes a changed row with a revision that only grows; the combined
revision is the sum of the partitions' latest revisions.  The revision must
be a function of the partition's input position, not of batching (the
source offset after the batch: a replay from a checkpoint reaches the same
totals at the same offset), so it is the caller's, not stored here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields

from pipeline.compute.health.calendar import CommunityCalendar, hour_start_ms
from pipeline.compute.sales.ledger import MemberLedger, Paid

TotalsKey = tuple[str, str, str, int]
"""(dimension, key, window_kind, window_start_ms)."""

DIMENSIONS = ("all", "community", "campaign", "channel", "first_touch", "last_touch", "inviter")
WINDOW_KINDS = ("hour", "day", "all")
ALL_KEY = "*"
"""The key of dimension ``all``."""


@dataclass(slots=True)
class Totals:
    """One row's partial or combined totals; every field an integer, so sums are exact.

    New fields go at the end: the wire is the fields in order and a shorter
    (older) wire reads the missing ones as 0.
    """

    orders: int = 0
    """Paid orders with paid time in the window (attributed ones in attribution rows)."""
    gmv_fen: int = 0
    """Their gross amounts (refunds are not subtracted)."""
    refunds: int = 0
    """Matched refunds with refund time in the window."""
    refund_fen: int = 0
    """Matched refunds' amounts, each capped at its order's amount."""
    refunds_capped: int = 0
    """Matched refunds larger than their order."""
    unmatched_refunds: int = 0
    """Refunds whose order is unknown, by refund time (dimension ``all`` only)."""
    unmatched_refund_fen: int = 0
    paying_members: int = 0
    """Distinct members with at least one paid order in the window and dimension."""
    repeat_members: int = 0
    """Distinct members with at least two paid orders in the window and dimension."""
    joins: int = 0
    """Community joins with join time in the window (attribution rows only)."""
    invited_joins: int = 0
    """Joins with an inviter (attribution rows; in ``inviter`` rows, the inviter's)."""
    participants: int = 0
    """Campaign participations (first time a person reached the participation step) with
    that time in the window (attribution rows only)."""

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def __sub__(self, other: Totals) -> Totals:
        return Totals(*(a - b for a, b in zip(self.values(), other.values(), strict=True)))

    def is_zero(self) -> bool:
        return not any(self.values())

    @property
    def net_gmv_fen(self) -> int:
        return self.gmv_fen - self.refund_fen

    @property
    def aov_fen(self) -> int | None:
        """Average order value, rounded half to even in integer arithmetic; None without
        orders."""
        if self.orders <= 0:
            return None
        quotient, remainder = divmod(self.gmv_fen, self.orders)
        if 2 * remainder > self.orders or (2 * remainder == self.orders and quotient % 2):
            quotient += 1
        return quotient

    @property
    def repurchase_rate(self) -> float | None:
        """Repeat members over paying members; None without paying members."""
        if self.paying_members <= 0:
            return None
        return self.repeat_members / self.paying_members

    def to_wire(self) -> list[int]:
        """The fields in declaration order; trailing zeros may be missing on read (a field
        added later reads as 0 from an older record)."""
        return list(self.values())

    @classmethod
    def from_wire(cls, data: list[int] | None) -> Totals:
        return cls(*data) if data else cls()


_FIELDS = tuple(f.name for f in fields(Totals))


def totals_key(dimension: str, key: str, kind: str, start: int) -> str:
    """Table / record key ``dimension|key|kind|start``.

    Only ``key`` may contain ``|`` (channels are free text): the dimension is
    the part before the first ``|``, kind and start the parts after the last
    two, so no escaping is needed.
    """
    if dimension not in DIMENSIONS or kind not in WINDOW_KINDS:
        raise ValueError(f"bad totals key part: {dimension!r} / {kind!r}")
    return f"{dimension}|{key}|{kind}|{start}"


def split_totals_key(text: str) -> TotalsKey:
    """The inverse of :func:`totals_key`."""
    dimension, sep, rest = text.partition("|")
    parts = rest.rsplit("|", 2)
    if not sep or len(parts) != 3 or dimension not in DIMENSIONS or parts[1] not in WINDOW_KINDS:
        raise ValueError(f"not a totals key: {text!r}")
    key, kind, start = parts
    return dimension, key, kind, int(start)


def _dimensions(paid: Paid) -> list[tuple[str, str]]:
    dims = [("all", ALL_KEY)]
    if paid.community_id:
        dims.append(("community", paid.community_id))
    if paid.campaign_id:
        dims.append(("campaign", paid.campaign_id))
    if paid.channel:
        dims.append(("channel", paid.channel))
    return dims


def windows(ts_ms: int, calendar: CommunityCalendar) -> tuple[tuple[str, int], ...]:
    """The (kind, start) of every window holding ``ts_ms``."""
    day_start, _ = calendar.day_bounds_ms(calendar.day_number(ts_ms))
    return (("hour", hour_start_ms(ts_ms)), ("day", day_start), ("all", 0))


def _keys(dims: Iterable[tuple[str, str]], wins: tuple[tuple[str, int], ...]
          ) -> Iterator[TotalsKey]:
    for dimension, key in dims:
        for kind, start in wins:
            yield dimension, key, kind, start


def contribution(ledger: MemberLedger, calendar: CommunityCalendar) -> dict[TotalsKey, Totals]:
    """Everything one member adds to the rows: a function of the ledger alone."""
    rows: dict[TotalsKey, Totals] = {}
    paid_orders: dict[TotalsKey, int] = {}

    def row(key: TotalsKey) -> Totals:
        totals = rows.get(key)
        if totals is None:
            totals = rows[key] = Totals()
        return totals

    for entry in ledger.orders.values():
        paid, refund = entry.paid, entry.refund
        if paid is not None:
            dims = _dimensions(paid)
            for key in _keys(dims, windows(paid.ts_ms, calendar)):
                totals = row(key)
                totals.orders += 1
                totals.gmv_fen += paid.amount_fen
                paid_orders[key] = paid_orders.get(key, 0) + 1
            if refund is not None:
                applied, capped = entry.refund_applied_fen, int(entry.excess_fen > 0)
                for key in _keys(dims, windows(refund.ts_ms, calendar)):
                    totals = row(key)
                    totals.refunds += 1
                    totals.refund_fen += applied
                    totals.refunds_capped += capped
        elif refund is not None:
            for key in _keys([("all", ALL_KEY)], windows(refund.ts_ms, calendar)):
                totals = row(key)
                totals.unmatched_refunds += 1
                totals.unmatched_refund_fen += refund.amount_fen
    for key, count in paid_orders.items():
        rows[key].paying_members = 1
        rows[key].repeat_members = int(count >= 2)
    return rows


@dataclass(slots=True)
class PartitionTotals:
    """The partial totals of one partition: the sum of its members' contributions.

    Rows that sum to zero are dropped, so the map holds only rows with content.
    """

    rows: dict[TotalsKey, Totals] = field(default_factory=dict)

    def get(self, key: TotalsKey) -> Totals:
        """A row's totals; zero when absent (what to publish for a dropped row)."""
        totals = self.rows.get(key)
        return Totals() if totals is None else totals

    def to_wire(self) -> dict[str, list[int]]:
        """``{totals_key: Totals wire}``."""
        return {totals_key(*key): totals.to_wire() for key, totals in sorted(self.rows.items())}

    @classmethod
    def from_wire(cls, data: dict[str, list[int]] | None) -> PartitionTotals:
        if not data:
            return cls()
        return cls({split_totals_key(text): Totals.from_wire(wire) for text, wire in data.items()})


def apply_rows(
    partials: PartitionTotals,
    old_rows: dict[TotalsKey, Totals],
    new_rows: dict[TotalsKey, Totals],
) -> set[TotalsKey]:
    """Replace one member's contribution ``old_rows`` by ``new_rows`` in place.

    Both must come from the same function of the member's state before and
    after the change (``{}`` for no state), so the partials stay the sum of
    the members' current contributions.  Returns the rows whose totals
    changed (dropped rows included: publish ``partials.get(key)``, zero).
    Equal contributions are a zero diff.
    """
    changed: set[TotalsKey] = set()
    zero = Totals()
    for key in old_rows.keys() | new_rows.keys():
        delta = new_rows.get(key, zero) - old_rows.get(key, zero)
        if delta.is_zero():
            continue
        totals = partials.get(key) + delta
        if totals.is_zero():
            partials.rows.pop(key, None)
        else:
            partials.rows[key] = totals
        changed.add(key)
    return changed


def apply_change(
    partials: PartitionTotals,
    old: MemberLedger | None,
    new: MemberLedger | None,
    calendar: CommunityCalendar,
) -> set[TotalsKey]:
    """:func:`apply_rows` of the sales rows of ledger ``old`` and ``new`` (None: no ledger).

    The same ledger twice is a zero diff.
    """
    before = contribution(old, calendar) if old is not None else {}
    after = contribution(new, calendar) if new is not None else {}
    return apply_rows(partials, before, after)


def combine(parts: dict[int, tuple[int, Totals]]) -> tuple[int, Totals]:
    """(sum of revisions, sum of totals) of the partitions' latest partial totals.

    The revision sum only grows, as each partition's revision only grows.
    """
    revision, totals = 0, Totals()
    for part_revision, part_totals in parts.values():
        revision += part_revision
        totals = totals + part_totals
    return revision, totals


@dataclass(slots=True)
class CombinedWindow:
    """One row's latest (revision, partial totals) per source partition."""

    parts: dict[int, tuple[int, Totals]] = field(default_factory=dict)

    def offer(self, partition: int, revision: int, totals: Totals) -> bool:
        """Take a partition's partial totals unless stale or a duplicate (revision not above
        the one held); True if the combined totals changed."""
        held = self.parts.get(partition)
        if held is not None and revision <= held[0]:
            return False
        self.parts[partition] = (revision, totals)
        return totals != (Totals() if held is None else held[1])

    def value(self) -> tuple[int, Totals]:
        """(revision, totals) of the row across partitions."""
        return combine(self.parts)

    def to_wire(self) -> dict[str, list]:
        """``{str(partition): [revision, Totals wire]}`` (JSON object keys are strings)."""
        return {str(partition): [revision, totals.to_wire()]
                for partition, (revision, totals) in sorted(self.parts.items())}

    @classmethod
    def from_wire(cls, data: dict[str, list] | None) -> CombinedWindow:
        if not data:
            return cls()
        return cls({int(partition): (int(revision), Totals.from_wire(wire))
                    for partition, (revision, wire) in data.items()})
