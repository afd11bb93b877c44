"""One member's orders and refunds, idempotent by order id.

Pure logic, no Kafka: the agent re-keys transactions by member id, so one
partition holds every order of a member, loads the member's ledger, calls
:func:`apply` for each transaction and saves the ledger back.  The ledger
holds at most one paid and one refund fact per order id (the dedup id is
``order_id:status``), so its content depends only on the set of transactions
delivered, never on their order, duplicates or replays.  Totals are derived
from it (``totals.contribution``), never counted incrementally.

Rules:

- **Duplicates.**  The same fact again (same order id, status and content)
  changes nothing: :data:`Outcome` ``"duplicate"``.
- **Conflicts.**  The same order id and status with different content keeps
  the smaller fact by (``ts_ms``, ``amount_fen``, community, campaign,
  channel; a missing attribute sorts first), whichever arrived first, so the
  result is order-independent; ``"conflict"`` is returned for the caller to
  count (a counter here would grow again on every replay of the record).
- **Refund before its order.**  A refund whose order is unknown is held in
  the order's entry (``"refund_before_order"``) and applies once the paid
  event arrives, so a refund is applied exactly once whichever comes first.
- **Unmatched refunds.**  A refund whose order never arrives stays unmatched:
  counted in ``unmatched_refunds`` / ``unmatched_refund_fen`` at its refund
  time, never subtracted from GMV.
- **Refund larger than its order.**  Capped at the order amount when counted
  (:attr:`OrderEntry.refund_applied_fen`); the excess is flagged
  (:attr:`OrderEntry.excess_fen`, ``refunds_capped`` in the totals).  The raw
  amount is kept, so a late correction of either side recomputes the cap.
- **Dimensions.**  A refund's community, campaign and channel are its order's
  (a refund event's own attributes are ignored): the refund undoes the sale
  where the sale was counted.
- **Member id.**  Transactions are re-keyed by member, so a refund carrying a
  different member id than its order lands in the other member's ledger,
  where the order is unknown: it stays unmatched there (and the order stays
  unrefunded).  A ledger never compares member ids, it is one member's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from schemas.events import Transaction

Outcome = Literal["new", "duplicate", "conflict", "refund_before_order"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of an aware time, exact (integer arithmetic, floor)."""
    return (ts - _EPOCH) // _MS


def _opt(value: str | None) -> tuple[bool, str]:
    """Sort key of an optional attribute: missing sorts before any string, "" included."""
    return (value is not None, value or "")


@dataclass(frozen=True, slots=True)
class Paid:
    """An order's payment: when, how much, and where it is attributed."""

    ts_ms: int
    amount_fen: int
    community_id: str | None = None
    campaign_id: str | None = None
    channel: str | None = None

    def sort_key(self) -> tuple:
        """Total order of paid facts: the smaller wins a conflict."""
        return (self.ts_ms, self.amount_fen, _opt(self.community_id),
                _opt(self.campaign_id), _opt(self.channel))

    def to_wire(self) -> list:
        return [self.ts_ms, self.amount_fen, self.community_id, self.campaign_id, self.channel]

    @classmethod
    def from_wire(cls, data: list) -> Paid:
        return cls(*data)


@dataclass(frozen=True, slots=True)
class Refund:
    """An order's refund, as requested (uncapped)."""

    ts_ms: int
    amount_fen: int

    def sort_key(self) -> tuple[int, int]:
        return (self.ts_ms, self.amount_fen)

    def to_wire(self) -> list[int]:
        return [self.ts_ms, self.amount_fen]

    @classmethod
    def from_wire(cls, data: list) -> Refund:
        return cls(*data)


@dataclass(slots=True)
class OrderEntry:
    """What is known of one order id: its payment, its refund, either or both."""

    paid: Paid | None = None
    refund: Refund | None = None

    @property
    def matched(self) -> bool:
        """A refund whose order is known (it counts against the order's GMV)."""
        return self.paid is not None and self.refund is not None

    @property
    def refund_applied_fen(self) -> int:
        """The matched refund, capped at the order amount; 0 when not matched."""
        if self.paid is None or self.refund is None:
            return 0
        return min(self.refund.amount_fen, self.paid.amount_fen)

    @property
    def excess_fen(self) -> int:
        """How much a matched refund exceeds its order (cut off by the cap); 0 otherwise."""
        if self.paid is None or self.refund is None:
            return 0
        return max(0, self.refund.amount_fen - self.paid.amount_fen)

    def to_wire(self) -> list:
        return [None if self.paid is None else self.paid.to_wire(),
                None if self.refund is None else self.refund.to_wire()]

    @classmethod
    def from_wire(cls, data: list) -> OrderEntry:
        paid, refund = data
        return cls(None if paid is None else Paid.from_wire(paid),
                   None if refund is None else Refund.from_wire(refund))


@dataclass(slots=True)
class MemberLedger:
    """Every order of one member, by order id (the member id is the table key)."""

    orders: dict[str, OrderEntry] = field(default_factory=dict)

    def copy(self) -> MemberLedger:
        """An independent copy: keep one before :func:`apply` to diff the totals."""
        return MemberLedger({order_id: OrderEntry(entry.paid, entry.refund)
                             for order_id, entry in self.orders.items()})

    def to_wire(self) -> dict[str, list]:
        """``{order_id: [paid, refund]}``; paid ``[ts_ms, amount_fen, community, campaign,
        channel]``, refund ``[ts_ms, amount_fen]``, either null when unknown."""
        return {order_id: entry.to_wire() for order_id, entry in sorted(self.orders.items())}

    @classmethod
    def from_wire(cls, data: dict[str, list] | None) -> MemberLedger:
        if not data:
            return cls()
        return cls({order_id: OrderEntry.from_wire(wire) for order_id, wire in data.items()})


def apply(ledger: MemberLedger, txn: Transaction) -> Outcome:
    """Record ``txn`` in its member's ledger (in place) and say what it was.

    A paid event for an order whose refund is held returns ``"new"``: the held
    refund becomes matched with it.
    """
    entry = ledger.orders.get(txn.order_id)
    if entry is None:
        entry = ledger.orders[txn.order_id] = OrderEntry()
    ts_ms = to_ms(txn.ts)
    if txn.status == "paid":
        paid = Paid(ts_ms, txn.amount_fen, txn.community_id, txn.campaign_id, txn.channel)
        if entry.paid is None:
            entry.paid = paid
            return "new"
        if entry.paid == paid:
            return "duplicate"
        if paid.sort_key() < entry.paid.sort_key():
            entry.paid = paid
        return "conflict"
    if txn.status == "refunded":
        refund = Refund(ts_ms, txn.amount_fen)
        if entry.refund is None:
            entry.refund = refund
            return "new" if entry.paid is not None else "refund_before_order"
        if entry.refund == refund:
            return "duplicate"
        if refund.sort_key() < entry.refund.sort_key():
            entry.refund = refund
        return "conflict"
    raise ValueError(f"unknown transaction status {txn.status!r}")
