"""One person's journey (channel touches, community joins, campaign participations) and
the channel attribution and fission rows it adds to the sales totals.

Pure logic, no Kafka.  The member-keyed sales agent also receives, re-keyed by
member / person id, the person's campaign funnel events and the member's
community joins, and keeps them in a :class:`Journey` next to the member's
``MemberLedger``.  As with the ledger, the journey holds facts by id (at most
one per touch id, join event id and campaign), so its content depends only
on the set of events delivered, never on their order, duplicates or replays;
the rows are derived from it (:func:`member_contribution`) and applied as a
diff (``totals.apply_rows``), never counted incrementally.  A late touch
therefore moves the attribution of earlier conversions exactly.

Attribution rule (the product's rule):

- **Conversions.**  Each join (at its time), each campaign participation (the
  earliest time the person reached campaign C's participation step) and each
  paid order of the member's ledger (at its paid time, its gross amount;
  refunds are not attributed).
- **Window.**  A conversion at time ``t`` is attributed among the person's
  touches with ``t - window_ms <= ts <= t`` (default 7 days, both ends
  included); touches after the conversion never count.  A participation in
  campaign C only looks at touches of campaign C; joins and orders at all.
- **Models.**  First touch is the touch with the smallest (``ts``,
  ``touch_id``), last touch the one with the largest: the id breaks ties so
  the choice is deterministic.
- **Fallback.**  No touch in the window: the conversion's own channel (a
  join's channel, an order's ``channel`` attribute) with campaign ``-``;
  neither (None or ""): channel ``(direct)``, campaign ``-``.  A
  participation has no channel of its own.
- **Rows.**  For each model, ``(model, "campaign|channel", kind, start)`` in
  the windows of the conversion time (hour, local day, all, as the sales
  rows) adds ``joins`` (+1 per join), ``invited_joins`` (+1 per join with an
  inviter), ``participants`` (+1 per participation), ``orders`` (+1 per paid
  order) and ``gmv_fen`` (its amount).  Nothing else: distinct members are
  not counted in these rows.
- **Fission.**  Each invited join adds ``invited_joins`` +1 to
  ``("inviter", "campaign|inviter_id", "all", 0)``, campaign being the join's
  last-touch campaign (``-`` without one), and to the same row under
  campaign ``*`` (all campaigns), so top inviters need no grouping.

Keys: campaign ids never contain ``|`` (channels and inviter ids may), so a
key splits at its first ``|`` (:func:`split_attribution_key`); ``-`` and
``*`` are reserved campaign names.  The window and the calendar are part of
the function that makes the rows: changing either needs the partials rebuilt
from the stored ledgers and journeys, as a diff assumes both sides were
computed alike.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.compute.health.calendar import CommunityCalendar
from pipeline.compute.sales.ledger import MemberLedger
from pipeline.compute.sales.totals import Totals, TotalsKey, contribution, windows

DAY_MS = 86_400_000
ATTRIBUTION_WINDOWS = ("day", "all")
"""Credit is reported per local day and cumulative; hour rows would multiply the rows
(and their updates) for little use in marketing reports."""
DEFAULT_WINDOW_MS = 7 * DAY_MS
"""The attribution look-back window: touches at most this long before a conversion."""
MODELS = ("first_touch", "last_touch")
NO_CAMPAIGN = "-"
"""Campaign of a conversion attributed to no touch."""
ALL_CAMPAIGNS = "*"
"""Campaign of the inviter rows summed over campaigns."""
DIRECT = "(direct)"
"""Channel of a conversion with neither a touch nor a channel of its own."""


def _opt(value: str | None) -> tuple[bool, str]:
    """Sort key of an optional attribute: missing sorts before any string, "" included."""
    return (value is not None, value or "")


def attribution_key(campaign_id: str | None, channel: str) -> str:
    """The key part ``campaign|channel`` (``-`` for no campaign)."""
    return f"{campaign_id or NO_CAMPAIGN}|{channel}"


def split_attribution_key(key: str) -> tuple[str, str]:
    """(campaign, channel or inviter id): the inverse of :func:`attribution_key`."""
    campaign, sep, rest = key.partition("|")
    if not sep:
        raise ValueError(f"not an attribution key: {key!r}")
    return campaign, rest


@dataclass(frozen=True, slots=True)
class Touch:
    """A funnel event of the person that carries a channel (UTM source / QR code id).

    Events without a channel are not touches (the caller skips them).
    """

    ts_ms: int
    touch_id: str
    campaign_id: str
    channel: str

    def sort_key(self) -> tuple:
        """Total order of versions of one touch id: the smaller wins a conflict."""
        return (self.ts_ms, self.touch_id, self.campaign_id, self.channel)

    def to_wire(self) -> list:
        return [self.ts_ms, self.touch_id, self.campaign_id, self.channel]

    @classmethod
    def from_wire(cls, data: list) -> Touch:
        return cls(*data)


@dataclass(frozen=True, slots=True)
class Join:
    """The member joined a community; channel: the QR code id or UTM scanned to join."""

    ts_ms: int
    event_id: str
    community_id: str
    inviter_id: str | None = None
    channel: str | None = None

    def sort_key(self) -> tuple:
        """Total order of versions of one event id: the smaller wins a conflict."""
        return (self.ts_ms, self.event_id, self.community_id, _opt(self.inviter_id),
                _opt(self.channel))

    def to_wire(self) -> list:
        return [self.ts_ms, self.event_id, self.community_id, self.inviter_id, self.channel]

    @classmethod
    def from_wire(cls, data: list) -> Join:
        return cls(*data)


def _keep_smaller(facts: dict, key: str, fact: Touch | Join) -> bool:
    held = facts.get(key)
    if held is not None and held.sort_key() <= fact.sort_key():
        return False
    facts[key] = fact
    return True


@dataclass(slots=True)
class Journey:
    """One person's touches by id, joins by event id and participations by campaign."""

    touches: dict[str, Touch] = field(default_factory=dict)
    joins: dict[str, Join] = field(default_factory=dict)
    participations: dict[str, int] = field(default_factory=dict)
    """Campaign id -> earliest time the person reached its participation step."""

    def add_touch(self, touch: Touch) -> bool:
        """Record a touch; a redelivered id keeps the smaller version.  True if changed."""
        return _keep_smaller(self.touches, touch.touch_id, touch)

    def add_join(self, join: Join) -> bool:
        """Record a join; a redelivered event id keeps the smaller version.  True if changed."""
        return _keep_smaller(self.joins, join.event_id, join)

    def add_participation(self, campaign_id: str, ts_ms: int) -> bool:
        """Record reaching campaign's participation step; the earliest time wins.  True if
        changed."""
        held = self.participations.get(campaign_id)
        if held is not None and held <= ts_ms:
            return False
        self.participations[campaign_id] = ts_ms
        return True

    def copy(self) -> Journey:
        """An independent copy (facts are immutable): keep one before adding to diff."""
        return Journey(dict(self.touches), dict(self.joins), dict(self.participations))

    def to_wire(self) -> dict[str, list | dict[str, int]]:
        """``{"t": [touch wire], "j": [join wire], "p": {campaign: ts_ms}}``, each sorted and
        left out when empty; touch ``[ts_ms, touch_id, campaign, channel]``, join ``[ts_ms,
        event_id, community, inviter, channel]``."""
        wire: dict[str, list | dict[str, int]] = {}
        if self.touches:
            wire["t"] = [t.to_wire() for _, t in sorted(self.touches.items())]
        if self.joins:
            wire["j"] = [j.to_wire() for _, j in sorted(self.joins.items())]
        if self.participations:
            wire["p"] = dict(sorted(self.participations.items()))
        return wire

    @classmethod
    def from_wire(cls, data: dict | None) -> Journey:
        if not data:
            return cls()
        touches = (Touch.from_wire(w) for w in data.get("t", ()))
        joins = (Join.from_wire(w) for w in data.get("j", ()))
        return cls({t.touch_id: t for t in touches}, {j.event_id: j for j in joins},
                   dict(data.get("p", {})))


class _Touches:
    """Touches sorted by (ts, touch_id), to find a window's first and last by bisection."""

    __slots__ = ("touches", "times")

    def __init__(self, touches: Iterable[Touch]) -> None:
        self.touches = sorted(touches, key=lambda t: (t.ts_ms, t.touch_id))
        self.times = [t.ts_ms for t in self.touches]

    def first_last(self, t_ms: int, window_ms: int) -> tuple[Touch, Touch] | None:
        lo = bisect_left(self.times, t_ms - window_ms)
        hi = bisect_right(self.times, t_ms)
        if lo >= hi:
            return None
        return self.touches[lo], self.touches[hi - 1]


def _attributed(touches: _Touches | None, t_ms: int, window_ms: int,
                own_channel: str | None) -> tuple[str, str]:
    """(first-touch key, last-touch key) of a conversion at ``t_ms``."""
    found = touches.first_last(t_ms, window_ms) if touches is not None else None
    if found is None:
        key = attribution_key(None, own_channel or DIRECT)
        return key, key
    first, last = found
    return (attribution_key(first.campaign_id, first.channel),
            attribution_key(last.campaign_id, last.channel))


def attribution_contribution(
    journey: Journey | None,
    ledger: MemberLedger | None,
    calendar: CommunityCalendar,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> dict[TotalsKey, Totals]:
    """The ``first_touch``, ``last_touch`` and ``inviter`` rows of one person: a function of
    the journey and the ledger alone (None: nothing known yet)."""
    if window_ms < 0:
        raise ValueError("window_ms must be >= 0")
    journey = journey if journey is not None else Journey()
    rows: dict[TotalsKey, Totals] = {}

    def row(key: TotalsKey) -> Totals:
        totals = rows.get(key)
        if totals is None:
            totals = rows[key] = Totals()
        return totals

    def attributed(keys: tuple[str, str], ts_ms: int) -> Iterable[Totals]:
        wins = [w for w in windows(ts_ms, calendar) if w[0] in ATTRIBUTION_WINDOWS]
        for model, key in zip(MODELS, keys, strict=True):
            for kind, start in wins:
                yield row((model, key, kind, start))

    every = _Touches(journey.touches.values())
    by_campaign: dict[str, list[Touch]] = {}
    for touch in journey.touches.values():
        by_campaign.setdefault(touch.campaign_id, []).append(touch)

    for join in journey.joins.values():
        keys = _attributed(every, join.ts_ms, window_ms, join.channel)
        invited = int(bool(join.inviter_id))
        for totals in attributed(keys, join.ts_ms):
            totals.joins += 1
            totals.invited_joins += invited
        if invited:
            campaign, _ = split_attribution_key(keys[1])
            for scope in (campaign, ALL_CAMPAIGNS):
                row(("inviter", f"{scope}|{join.inviter_id}", "all", 0)).invited_joins += 1

    for campaign_id, ts_ms in journey.participations.items():
        own = by_campaign.get(campaign_id)
        keys = _attributed(_Touches(own) if own else None, ts_ms, window_ms, None)
        for totals in attributed(keys, ts_ms):
            totals.participants += 1

    if ledger is not None:
        for entry in ledger.orders.values():
            paid = entry.paid
            if paid is None:
                continue
            keys = _attributed(every, paid.ts_ms, window_ms, paid.channel)
            for totals in attributed(keys, paid.ts_ms):
                totals.orders += 1
                totals.gmv_fen += paid.amount_fen
    return rows


def member_contribution(
    ledger: MemberLedger | None,
    journey: Journey | None,
    calendar: CommunityCalendar,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> dict[TotalsKey, Totals]:
    """Everything one member adds: the sales rows (``totals.contribution``, unchanged) and
    the attribution rows; their dimensions differ, so the keys never collide.

    Diff it with ``totals.apply_rows(partials, member_contribution(old...),
    member_contribution(new...))``.
    """
    rows = contribution(ledger, calendar) if ledger is not None else {}
    rows.update(attribution_contribution(journey, ledger, calendar, window_ms))
    return rows
