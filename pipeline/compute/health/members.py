"""One small record per (community, member): activity days, join time, last activity.

The record is the member's whole state, a handful of fields whatever their
history (it must stay small for a million members):

- ``day`` and two bit masks: bit *k* says the member interacted (``spoke``)
  or really interacted (``active``, docs/product.md "Real interaction rate")
  on local day ``day - k``; 31 days are kept, enough for MAU and 30-day
  retention.  Setting a bit twice changes nothing, so replays are harmless.
- when the member first joined and through which channel (an id into the
  community's channel list, ``retention.py``), the event time of their last real
  interaction and their silence status (``silence.py``); presence itself lives
  in the community's state, so the member count and who is present change in
  one write.

A community's records are saved together, one table value per community.
"""

from __future__ import annotations

from dataclasses import dataclass

DAYS_KEPT = 31
_MASK = (1 << DAYS_KEPT) - 1


@dataclass(slots=True)
class MemberRecord:
    day: int = 0
    spoke: int = 0
    active: int = 0
    joined_ms: int = 0
    last_active_ms: int = 0
    status: int = 0
    """Silence status (``silence.STATUS_NAMES``): active, churn_risk, win_back, left."""
    channel: int = 0
    """Channel of the first join: an id into ``CommunityState.channels`` (``retention.py``)."""

    def has(self, mask_name: str, day: int) -> bool:
        offset = self.day - day
        return 0 <= offset < DAYS_KEPT and bool(getattr(self, mask_name) >> offset & 1)

    def any_in(self, mask_name: str, first_day: int, last_day: int) -> bool:
        """Whether a bit is set for a day in [first_day, last_day]."""
        first, last = max(first_day, self.day - DAYS_KEPT + 1), min(last_day, self.day)
        if first > last:
            return False
        window = ((1 << (last - first + 1)) - 1) << (self.day - last)
        return bool(getattr(self, mask_name) & window)

    def mark(self, day: int, active: bool) -> tuple[bool, bool]:
        """Set the day's bits; returns which of (spoke, active) were newly set."""
        if day > self.day:
            shift = day - self.day
            self.spoke = (self.spoke << shift) & _MASK if shift < DAYS_KEPT else 0
            self.active = (self.active << shift) & _MASK if shift < DAYS_KEPT else 0
            self.day = day
        offset = self.day - day
        if offset >= DAYS_KEPT:
            return False, False
        bit = 1 << offset
        new_spoke = not self.spoke & bit
        self.spoke |= bit
        new_active = active and not self.active & bit
        if active:
            self.active |= bit
        return new_spoke, new_active

    def days(self, mask_name: str) -> list[int]:
        """Days with the bit set, oldest first."""
        mask = getattr(self, mask_name)
        return [self.day - k for k in range(DAYS_KEPT - 1, -1, -1) if mask >> k & 1]

    def to_wire(self) -> list:
        wire = [self.day, self.spoke, self.active, self.joined_ms, self.last_active_ms]
        if self.channel:
            return wire + [self.status, self.channel]
        return wire + [self.status] if self.status else wire

    @classmethod
    def from_wire(cls, data: list | None) -> MemberRecord:
        return cls(*data) if data else cls()
