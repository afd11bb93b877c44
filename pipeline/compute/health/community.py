"""A community's membership and history: one small record, updated as hours close.

Presence lives here, not in the members' records, so that the member count
and who is present change in one write: hours are folded in event-time
order, ``through`` is the last folded hour, and ``undo`` remembers the
membership as it was before the latest batch that folded hours into it.  A
crash after this state is saved but before the partition's clock is leaves
the state ahead of the clock; the replay rewinds it (:meth:`rewind`) and folds
the batch's hours again, so the member count, conflicts, anchor and presence
seen at every fold, silence boundary and day end are the first run's (a
state saved before ``undo`` existed falls back to skipping hours up to
``through``).

Membership rules (docs/metrics.md, "Member count"), applied in (event
time, id) order within an hour:

- a join of a present member, or a leave or removal of a member known to be
  absent, contradicts the state: counted in ``conflicts``, ignored;
- a leave or removal of a member never seen: while the count is *relative*
  (no snapshot yet) the member predates tracking, so the count goes down;
  once anchored by a snapshot the snapshot says they were not there, so it is
  a conflict, ignored;
- a snapshot replaces who is present (members it lists are present, the
  others absent; the differences are counted in ``reconciled``) and anchors
  the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.outputs import MemberCountAnchor

HISTORY_DAYS = 30



MEMBERSHIP_CONFLICTS = ("join_while_present", "leave_while_absent", "leave_unknown")
"""What :meth:`CommunityState.apply` may report: a join of a present member, a leave
or removal of one already gone, or of one the anchoring snapshot did not list."""

@dataclass(slots=True)
class Undo:
    """The membership of a community before a batch's first fold: its counters and, per
    member whose entries the batch changed, their present and absent entries then."""

    anchor: MemberCountAnchor
    departed_unknown: int
    conflicts: int
    reconciled: int
    through_ms: int
    members: dict[str, list[int | None]] = field(default_factory=dict)
    """Member -> [present since, absent since] before the batch (None: no entry)."""

    def to_wire(self, known: Callable[[str], bool]) -> dict:
        """Only members still ``known`` (present or absent): every member a fold changes
        is, so this drops exactly the ones erased since (``erasure.forget_presence``)."""
        return {"a": self.anchor, "u": self.departed_unknown, "c": self.conflicts,
                "r": self.reconciled, "t": self.through_ms,
                "m": {m: entries for m, entries in self.members.items() if known(m)}}

    @classmethod
    def from_wire(cls, data: dict | None) -> Undo | None:
        if not data:
            return None
        return cls(data["a"], data["u"], data["c"], data["r"], data["t"],
                   {m: list(entries) for m, entries in data["m"].items()})


@dataclass(slots=True)
class CommunityState:
    anchor: MemberCountAnchor = "relative"
    present: dict[str, int] = field(default_factory=dict)
    """Present member -> event time they became present."""
    absent: dict[str, int] = field(default_factory=dict)
    """Member seen leaving (or missing from a snapshot) -> when; tells a repeated leave
    from the leave of a member who predates tracking."""
    departed_unknown: int = 0
    """Leaves of members never seen, while relative: the count is below len(present)."""
    conflicts: int = 0
    reconciled: int = 0
    through_ms: int = -1
    """Start of the last hour folded into this state."""
    history: dict[int, int] = field(default_factory=dict)
    """Closed day -> its real interactions (30 days, for interactions per member)."""
    channels: list[str] = field(default_factory=list)
    """Join channels in the order joins first named them, at most ``MAX_CHANNELS``;
    members' records hold an id into it (``retention.channel_id``)."""
    cohorts: dict[int, dict[int, list[int]]] = field(default_factory=dict)
    """Join cohorts not yet final: cohort day -> channel id -> counts (``retention.py``)."""
    retention_through: int = -1
    """Last day whose end the cohorts were judged at: a replay does not judge it again with
    a later presence."""
    undo: Undo | None = None
    """The membership before the latest batch that folded hours (:meth:`checkpoint`)."""
    profile_days: list[int] = field(default_factory=list)
    """Closed days whose profile counts are stored (the last 31 with any: ``koc.py``)."""

    @property
    def member_count(self) -> int:
        return len(self.present) - self.departed_unknown

    def checkpoint(self) -> None:
        """Remember the membership as it is now: a batch calls this before its first fold."""
        self.undo = Undo(self.anchor, self.departed_unknown, self.conflicts, self.reconciled,
                         self.through_ms)

    def rewind(self) -> bool:
        """Put the membership back as it was at the last :meth:`checkpoint` (idempotent);
        False if there is none to go back to."""
        undo = self.undo
        if undo is None:
            return False
        for member, (present, absent) in undo.members.items():
            for entries, value in ((self.present, present), (self.absent, absent)):
                if value is None:
                    entries.pop(member, None)
                else:
                    entries[member] = value
        self.anchor, self.departed_unknown = undo.anchor, undo.departed_unknown
        self.conflicts, self.reconciled = undo.conflicts, undo.reconciled
        self.through_ms = undo.through_ms
        return True

    def _note(self, member: str) -> None:
        """Before the member's entries change: remember them for :meth:`rewind`."""
        if self.undo is not None and member not in self.undo.members:
            self.undo.members[member] = [self.present.get(member), self.absent.get(member)]

    def apply(self, ts_ms: int, action: str, payload: object) -> str | None:
        """Apply one membership change; returns the conflict it was, if any."""
        if action == "snapshot":
            listed = set(payload)  # type: ignore[arg-type]
            before = set(self.present)
            for member in sorted((before ^ listed) | (listed & set(self.absent))):
                self._note(member)
            self.reconciled += len(before ^ listed)
            for member in before - listed:
                self.absent[member] = ts_ms
            self.present = {m: self.present.get(m, ts_ms) for m in sorted(listed)}
            for member in listed:
                self.absent.pop(member, None)
            self.departed_unknown = 0
            self.anchor = "snapshot"
            return None
        member = str(payload)
        if action == "join":
            if member in self.present:
                self.conflicts += 1
                return "join_while_present"
            self._note(member)
            self.present[member] = ts_ms
            self.absent.pop(member, None)
            return None
        if member in self.present:
            self._note(member)
            del self.present[member]
            self.absent[member] = ts_ms
            return None
        if member in self.absent:
            self.conflicts += 1
            return "leave_while_absent"
        if self.anchor == "snapshot":
            self.conflicts += 1
            return "leave_unknown"
        self._note(member)
        self.absent[member] = ts_ms
        self.departed_unknown += 1
        return None

    def close_day(self, day: int, real_interactions: int) -> None:
        self.history[day] = real_interactions
        for old in [d for d in self.history if d <= day - HISTORY_DAYS]:
            del self.history[old]

    def interactions_before(self, day: int) -> int:
        """Real interactions of the 29 closed days before ``day``."""
        return sum(n for d, n in self.history.items() if day - HISTORY_DAYS < d < day)

    def to_wire(self) -> dict:
        return {"a": self.anchor, "p": self.present, "x": self.absent, "u": self.departed_unknown,
                "c": self.conflicts, "r": self.reconciled, "t": self.through_ms,
                "h": {str(d): n for d, n in self.history.items()}, "ch": self.channels,
                "co": {str(c): {str(ch): counts for ch, counts in by_channel.items()}
                       for c, by_channel in self.cohorts.items()},
                "rt": self.retention_through,
                "un": None if self.undo is None else self.undo.to_wire(
                    lambda m: m in self.present or m in self.absent),
                "pd": self.profile_days}

    @classmethod
    def from_wire(cls, data: dict | None) -> CommunityState:
        if not data:
            return cls()
        cohorts = {int(c): {int(ch): list(counts) for ch, counts in by_channel.items()}
                   for c, by_channel in data.get("co", {}).items()}
        return cls(data["a"], dict(data["p"]), dict(data["x"]), data["u"], data["c"],
                   data["r"], data["t"], {int(d): n for d, n in data["h"].items()},
                   list(data.get("ch", ())), cohorts, data.get("rt", -1),
                   Undo.from_wire(data.get("un")), list(data.get("pd", ())))
