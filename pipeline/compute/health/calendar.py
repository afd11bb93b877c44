"""Time in community terms: hour windows, Beijing days and the "3+2" posting slots.

Hours are UTC-aligned; a day is the set of hours whose start falls between two
local midnights of the configured zone (Asia/Shanghai by default), so the
zone must have whole-hour offsets (checked).  Days are numbered by their local
date's ordinal, so numbers are consecutive across daylight-saving changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
DEFAULT_ZONE = "Asia/Shanghai"
DEFAULT_SLOTS = (9, 12, 20)
"""The "3+2" slots (docs/product.md): 9:00, 12:00 and 20:00 local time."""


def hour_start_ms(ts_ms: int) -> int:
    return ts_ms - ts_ms % HOUR_MS


@dataclass(frozen=True)
class CommunityCalendar:
    """Day boundaries and posting slots of one deployment."""

    zone: str = DEFAULT_ZONE
    slot_hours: tuple[int, ...] = DEFAULT_SLOTS
    slot_minutes: int = 60
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tz = ZoneInfo(self.zone)
        object.__setattr__(self, "_tz", tz)
        for month in (1, 7):
            offset = datetime(2026, month, 1, tzinfo=tz).utcoffset() or timedelta(0)
            if offset.total_seconds() % 3600:
                raise ValueError(f"zone {self.zone} has a non-whole-hour offset {offset}")
        if not 1 <= self.slot_minutes <= 180:
            raise ValueError("slot_minutes must be in [1, 180]")
        if any(not 0 <= h <= 23 for h in self.slot_hours):
            raise ValueError("slot hours must be in [0, 23]")

    def local(self, ts_ms: int) -> datetime:
        return datetime.fromtimestamp(ts_ms / 1000, self._tz)

    def day_number(self, ts_ms: int) -> int:
        """The local date of ``ts_ms`` as an ordinal (consecutive days differ by 1)."""
        return self.local(ts_ms).date().toordinal()

    def day_bounds_ms(self, day: int) -> tuple[int, int]:
        """[start, end) of local day ``day`` in UTC epoch milliseconds."""
        return _day_bounds(self.zone, day)

    def day_date(self, day: int) -> date:
        return date.fromordinal(day)

    def local_hour(self, ts_ms: int) -> int:
        return self.local(ts_ms).hour

    def in_slot(self, ts_ms: int) -> bool:
        """Whether ``ts_ms`` falls in a 3+2 slot: [slot hour, + slot_minutes) local time."""
        local = self.local(ts_ms)
        minute_of_day = local.hour * 60 + local.minute
        return any(0 <= minute_of_day - h * 60 < self.slot_minutes for h in self.slot_hours)


@lru_cache(maxsize=4096)
def _day_bounds(zone: str, day: int) -> tuple[int, int]:
    tz = ZoneInfo(zone)
    local_date = date.fromordinal(day)
    start = datetime(local_date.year, local_date.month, local_date.day, tzinfo=tz)
    following = local_date + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return (int(start.astimezone(UTC).timestamp() * 1000),
            int(end.astimezone(UTC).timestamp() * 1000))
