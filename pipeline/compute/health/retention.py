"""Retention cohorts: of the members who first joined on a local day, how many are still
present and active 1, 7 and 30 days later (docs/metrics.md, "Retention cohorts").

A member's cohort is the local day of their first join event in the community
(``MemberRecord.joined_ms``: a re-join keeps the first), its channel that join's
(``MemberRecord.channel``, a small id into the community's channel list, so a member
record grows by one small integer).  Members known only from a snapshot have no join
event and belong to no cohort.

When day *D* ends (after its hours were folded), cohorts *D*, *D*-1, *D*-7 and *D*-30
are counted from the member records and the community's presence at that instant:
counts are recomputed, never incremented, so a re-evaluation gives the same numbers.
Presence at a past day's end is not kept, so each evaluation stores its counts in the
community's state (``CommunityState.cohorts``, 31 cohort days at most) and the record
of a cohort is rebuilt from them; ``CommunityState.retention_through`` guards against
evaluating a day twice with a later presence.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date

from schemas.retention import MAX_CHANNELS, CommunityRetentionCohort

RETENTION_DAYS = (1, 7, 30)
"""Days after the cohort day whose end is judged: next-day, day-7, day-30 retention."""
LAST_DAY = RETENTION_DAYS[-1]
ALL = "*"
NO_CHANNEL, OTHER_CHANNEL = 0, 1
NO_CHANNEL_LABEL, OTHER_LABEL = "(none)", "other"
_RESERVED = {ALL: OTHER_CHANNEL, OTHER_LABEL: OTHER_CHANNEL, NO_CHANNEL_LABEL: NO_CHANNEL}
"""Channel names that are labels of their own: never a channel of the list."""
UNKNOWN = -1
"""A retained count whose day has not closed yet (in stored counts)."""

Counts = list[int]
"""[cohort size, retained day 1, retained day 7, retained day 30], UNKNOWN until judged."""
Cohorts = dict[int, dict[int, Counts]]
"""Cohort day -> channel id -> counts."""


def join_channel(channel: str | None, qr_code_id: str | None) -> str | None:
    """The join's channel: its UTM channel, else the QR code it came through."""
    return channel or qr_code_id or None


def channel_id(channels: list[str], name: str | None, cap: int = MAX_CHANNELS) -> int:
    """The id of ``name`` in the community's ``channels`` (appended while fewer than
    ``cap``): 0 without a channel, 1 for ``other`` (over the cap), 2 + index otherwise."""
    if not name:
        return NO_CHANNEL
    if name in _RESERVED:
        return _RESERVED[name]
    if name in channels:
        return channels.index(name) + 2
    if len(channels) < cap:
        channels.append(name)
        return len(channels) + 1
    return OTHER_CHANNEL


def channel_label(channels: list[str], ident: int) -> str:
    if ident == NO_CHANNEL:
        return NO_CHANNEL_LABEL
    if ident == OTHER_CHANNEL or ident - 2 >= len(channels):
        return OTHER_LABEL
    return channels[ident - 2]


def evaluate_day(cohorts: Cohorts, day: int, members: Iterable[tuple[int, int, bool]],
                 ) -> Cohorts:
    """Count the cohorts judged at the end of ``day`` into ``cohorts`` and return them.

    ``members``: (cohort day, channel id, present and active on ``day``) of the members
    who joined in the 31 days ending with ``day``.  Cohort ``day`` gets its size; cohorts
    ``day - n`` (n in 1, 7, 30) get their size again and the retained count of day n.
    Cohorts past day 30 are dropped from ``cohorts`` (the returned copy still has them).
    """
    sizes: dict[int, Counter[int]] = defaultdict(Counter)
    retained: dict[int, Counter[int]] = defaultdict(Counter)
    for cohort, channel, kept in members:
        offset = day - cohort
        if offset == 0 or offset in RETENTION_DAYS:
            sizes[cohort][channel] += 1
            retained[cohort][channel] += offset > 0 and kept
    judged: Cohorts = {}
    for cohort, by_channel in sizes.items():
        offset = day - cohort
        stored = cohorts.get(cohort, {})
        counts: dict[int, Counts] = {}
        for channel, size in sorted(by_channel.items()):
            row = list(stored.get(channel, [0] + [UNKNOWN] * len(RETENTION_DAYS)))
            row[0] = size
            if offset:
                row[1 + RETENTION_DAYS.index(offset)] = retained[cohort][channel]
            counts[channel] = row
        cohorts[cohort] = judged[cohort] = counts
    for old in [c for c in cohorts if c <= day - LAST_DAY]:
        del cohorts[old]
    return judged


def _rate(part: int | None, whole: int) -> float | None:
    return None if part is None else round(part / whole, 6)


def _add(total: Counts | None, row: Counts) -> Counts:
    if total is None:
        return list(row)
    return [UNKNOWN if UNKNOWN in (a, b) else a + b for a, b in zip(total, row, strict=True)]


def cohort_records(community_id: str, cohort: int, counts: dict[int, Counts],
                   channels: list[str], zone: str, revision: Callable[[bool], int],
                   ) -> list[CommunityRetentionCohort]:
    """The cohort's records: the whole cohort (``*``) and one per channel label;
    ``revision(final)`` is the revision to publish with (final: day 30 judged)."""
    rows: dict[str, Counts] = {}
    for channel, row in counts.items():
        for label in (ALL, channel_label(channels, channel)):
            rows[label] = _add(rows.get(label), row)
    records = []
    for label, (size, *kept) in rows.items():
        if size <= 0:
            continue
        d1, d7, d30 = (None if n == UNKNOWN else n for n in kept)
        final = d30 is not None
        records.append(CommunityRetentionCohort(
            community_id=community_id, cohort_day=date.fromordinal(cohort), timezone=zone,
            channel=label, cohort_size=size, retained_d1=d1, retained_d7=d7, retained_d30=d30,
            retention_d1=_rate(d1, size), retention_d7=_rate(d7, size),
            retention_d30=_rate(d30, size), is_final=final, revision=revision(final)))
    return records


def latest_rates(records: Iterable[CommunityRetentionCohort],
                 ) -> dict[tuple[str, str], float]:
    """(community, ``d1`` / ``d7`` / ``d30``) -> the rate of the latest whole cohort
    (channel ``*``) with that day judged, among ``records`` (for a gauge)."""
    best: dict[tuple[str, str], tuple[date, float]] = {}
    for record in records:
        if record.channel != ALL:
            continue
        for n in RETENTION_DAYS:
            rate = getattr(record, f"retention_d{n}")
            key = (record.community_id, f"d{n}")
            if rate is not None and (key not in best or record.cohort_day >= best[key][0]):
                best[key] = (record.cohort_day, rate)
    return {key: rate for key, (_, rate) in best.items()}
