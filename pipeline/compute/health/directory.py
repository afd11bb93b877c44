"""Distinct member counts per community-day, derived from the members' records.

The records (``members.MemberRecord``) are the persisted truth; this
directory is an in-memory view of them that a worker rebuilds from its
table after every start, so it can never disagree with what was saved.
Counts of a day (members who spoke, DAU, WAU, MAU) are computed by one scan
of the community's members the first time they are asked for, then kept up
to date as bits are set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.compute.health.members import MemberRecord

WEEK_DAYS = 7
MONTH_DAYS = 30


@dataclass(slots=True)
class DayCounts:
    speakers: int = 0
    dau: int = 0
    wau: int = 0
    mau: int = 0


def _active_in(record: MemberRecord, first_day: int, last_day: int) -> bool:
    return record.any_in("active", first_day, last_day)


def count_day(records: Iterable[MemberRecord], day: int) -> DayCounts:
    counts = DayCounts()
    for record in records:
        counts.speakers += record.has("spoke", day)
        counts.dau += record.has("active", day)
        counts.wau += _active_in(record, day - WEEK_DAYS + 1, day)
        counts.mau += _active_in(record, day - MONTH_DAYS + 1, day)
    return counts


class Directory:
    """Every member record of this worker's communities, and cached day counts."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, MemberRecord]] = {}
        self._counts: dict[str, dict[int, DayCounts]] = {}
        self.silence_due: dict[str, int] = {}
        """Community -> earliest instant a present member's silence status can change
        (absent: unknown, judge them all); a cache, rebuilt on demand."""

    def load(self, items: Iterable[tuple[str, dict[str, list]]]) -> None:
        """Replace the view with the records of a table: one value per community, mapping
        member id to record (:meth:`community_wire`)."""
        self.members.clear()
        self._counts.clear()
        self.silence_due.clear()
        for community_id, wires in items:
            self.members[community_id] = {
                member_id: MemberRecord.from_wire(wire) for member_id, wire in wires.items()}

    def community_wire(self, community_id: str) -> dict[str, list]:
        """Every member record of a community, as saved: one table value per community, so
        a fold writes one record per community, not one per member (a million members
        were a million changelog records in flight)."""
        return {member_id: record.to_wire()
                for member_id, record in self.members.get(community_id, {}).items()}

    def record(self, community_id: str, member_id: str) -> MemberRecord:
        members = self.members.setdefault(community_id, {})
        record = members.get(member_id)
        if record is None:
            record = members[member_id] = MemberRecord()
        return record

    def peek(self, community_id: str, member_id: str) -> MemberRecord | None:
        return self.members.get(community_id, {}).get(member_id)

    def joined_between(self, community_id: str, first_ms: int, end_ms: int,
                       ) -> list[tuple[str, MemberRecord]]:
        """Members whose first join lies in [first_ms, end_ms) (retention cohorts): one
        comparison per member of the community."""
        return [(member_id, record)
                for member_id, record in self.members.get(community_id, {}).items()
                if first_ms <= record.joined_ms < end_ms]

    def counts(self, community_id: str, day: int) -> DayCounts:
        cached = self._counts.setdefault(community_id, {})
        if day not in cached:
            cached[day] = count_day(self.members.get(community_id, {}).values(), day)
        return cached[day]

    def mark(self, community_id: str, member_id: str, day: int, active: bool) -> bool:
        """Record that the member (really) interacted on ``day``; True if the record changed."""
        record = self.record(community_id, member_id)
        cached = self._counts.get(community_id, {})
        before = {d: (_active_in(record, d - WEEK_DAYS + 1, d),
                      _active_in(record, d - MONTH_DAYS + 1, d))
                  for d in cached if day <= d < day + MONTH_DAYS} if active else {}
        new_spoke, new_active = record.mark(day, active)
        if day in cached:
            cached[day].speakers += new_spoke
            cached[day].dau += new_active
        if new_active:
            for d, (in_week, in_month) in before.items():
                cached[d].wau += not in_week and d < day + WEEK_DAYS
                cached[d].mau += not in_month
        return new_spoke or new_active

    def forget_days(self, community_id: str, before_day: int) -> None:
        """Drop cached counts of days that can no longer be emitted."""
        cached = self._counts.get(community_id)
        if cached:
            for day in [d for d in cached if d < before_day]:
                del cached[day]
