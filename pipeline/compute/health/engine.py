"""One partition's batch of chat, membership and snapshot events, applied exactly.

Event time: each input topic of a partition keeps its own watermark (the
highest event time taken from it), and an event is accepted unless its
topic's watermark has passed ``hour end + lateness``, so acceptance depends
only on the order within that topic-partition, whatever way the consumer
interleaves the three topics (a low-volume topic fetched in one go runs
hours ahead of chat after a restart).  Hours are folded up to a horizon
that follows the *slowest* topic with records still waiting (``idle``
topics, caught up with their partition's end, do not hold it back), minus
the lateness; an event for an hour already folded is too late as well (only
possible when a caught-up topic later receives an event older than the
others by more than the lateness).  A day accepts what its hours accept and
closes with its last hour.  Too-late events are counted (raw storage still
has them).  An event already in its hour window moves the clock (watermark,
open day) and re-emits its hour and day as if taken: a window saved before a
crash that lost the clock holds the replayed batch already, and the replay
must close what the first run closed.

When an hour closes it is *folded*, in event-time order per community:
its counts go to the day's store (assigned per hour, so a re-fold changes
nothing), its speakers' activity bits to their member records (setting a
bit twice changes nothing) and its membership changes to the community
state.  A community state found saved ahead of the clock (it folded an hour
ending after the saved horizon: a crash between saving it and the clock) is
first rewound to where the clock is (``CommunityState.rewind``, from the
``undo`` that the batch's first fold of it checkpointed), and the batch's
hours are folded again: a replay sees the member count, conflicts, anchor
and presence at every fold, silence boundary and day end that the first run
saw, not the state at the end of the batch.  (``through_ms`` still skips
hours already folded in a state saved before ``undo`` existed.)  At every
local day end the horizon passes, retention cohorts are judged from the
member records and the community's presence (``retention.py``; guarded by
``retention_through``).  So the wiring may save in any order that puts the
clock last, and a crash at any point replays to the same result.

Revisions: every record carries ``2 * position + final``, where position
is the sum of the partition's next offsets on the three topics; it grows
with every batch and is the same when a batch is replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.compute.activity import split_window_key, to_millis, window_key
from pipeline.compute.health.calendar import HOUR_MS, CommunityCalendar, hour_start_ms
from pipeline.compute.health.community import CommunityState
from pipeline.compute.health.directory import MONTH_DAYS, WEEK_DAYS, Directory
from pipeline.compute.health.hours import (
    HourSummary,
    HourWindow,
    Terms,
    join_channel_of,
    membership_changes,
    summarize,
)
from pipeline.compute.health.koc import (
    CHARS,
    INVITED,
    MENTIONED,
    POSITIVE,
    PROFILE_DAYS,
    REPLIED,
    SCORED,
    TEXTS,
    KocRules,
    Layers,
    Profile,
    day_contributions,
    hour_contributions,
    judge_members,
    quotable,
    window_totals,
)
from pipeline.compute.health.retention import (
    LAST_DAY,
    channel_id,
    cohort_records,
    evaluate_day,
)
from pipeline.compute.health.silence import (
    ACTIVE,
    CHURN_RISK,
    LEFT,
    REACTIVATED,
    STATUS_NAMES,
    WIN_BACK,
    MemberTransition,
    judge_silence,
    next_deadline,
    silence_start,
    status_counts,
)
from pipeline.compute.hot_words import merge_counts, top_terms
from pipeline.compute.interaction import COPY_WINDOW_MS
from schemas.base import InputEvent
from schemas.events import ChatMessage, MemberEvent, MembershipSnapshot
from schemas.members import MemberProfile
from schemas.outputs import CommunityDayHealth, CommunityHourActivity, HotWord
from schemas.retention import MAX_CHANNELS, CommunityRetentionCohort
from schemas.scores import ScoredMessage

HOT_WORDS = 20


hour_key = day_key = window_key
"""``<community_id>|<hour start ms>`` and ``<community_id>|<day number>``: the minute
windows' key format (:func:`pipeline.compute.activity.window_key`)."""
split_key = split_window_key


def quotes_key(key: str) -> str:
    """Where a folded hour's quotable messages are kept beside the open windows."""
    return f"{key}|quotes"


@dataclass(frozen=True)
class HealthConfig:
    calendar: CommunityCalendar
    lateness_ms: int
    terms: Terms
    copy_window_ms: int = COPY_WINDOW_MS
    followers: frozenset[str] = frozenset()
    """Topics derived from another (scored messages): they never lead the fold horizon."""
    max_channels: int = MAX_CHANNELS
    """Distinct join channels per community in retention cohorts (then ``other``)."""
    koc: KocRules = KocRules()
    member_ref: Callable[[str], str] = lambda member_id: member_id
    """The salted reference alerts show for a member (``escalation.signals.member_ref``)."""


@dataclass(slots=True)
class HealthClock:
    """Watermarks of one partition's topics, how far hours are folded, what is open, and the
    consumed positions."""

    marks: dict[str, int] = field(default_factory=dict)
    horizon_ms: int = 0
    """Every hour ending at or before this is folded."""
    open_hours: set[str] = field(default_factory=set)
    open_days: set[str] = field(default_factory=set)
    positions: dict[str, int] = field(default_factory=dict)
    communities: set[str] = field(default_factory=set)
    """Every community seen on the partition (their silent hours are judged too)."""
    kept_hours: set[str] = field(default_factory=set)
    """Folded hours whose quotable messages are stored (:func:`quotes_key`): the next
    hour's replies may quote them (``koc.py``); deleted once the hour after is folded."""

    @property
    def position(self) -> int:
        return sum(self.positions.values())

    def to_wire(self) -> dict:
        return {"wm": self.marks, "hz": self.horizon_ms, "h": sorted(self.open_hours),
                "d": sorted(self.open_days), "p": self.positions, "c": sorted(self.communities),
                "k": sorted(self.kept_hours)}

    @classmethod
    def from_wire(cls, data: dict | None) -> HealthClock:
        if not data:
            return cls()
        return cls(dict(data["wm"]), data["hz"], set(data["h"]), set(data["d"]),
                   dict(data["p"]), set(data.get("c", ())), set(data.get("k", ())))

    def advance(self, waiting: frozenset[str], lateness_ms: int,
                followers: frozenset[str] = frozenset()) -> None:
        """Move the fold horizon to the slowest topic with records waiting (one never read
        from holds it where it is), or to the fastest when all are caught up, less the
        lateness.  ``followers`` (topics derived from another, like scored messages) may
        hold the horizon back but never lead it: a worker ahead of this one on the source
        topic must not close hours this one has not read yet."""
        leaders = [mark for topic, mark in self.marks.items() if topic not in followers]
        if not leaders:
            return
        marks = [self.marks.get(topic, 0) for topic in waiting]
        leading = min(marks) if marks else max(leaders)
        self.horizon_ms = max(self.horizon_ms, min(leading, max(leaders)) - lateness_ms)


@dataclass(slots=True)
class DayStore:
    """Closed hours of one community-day: hour start -> [counts, words]."""

    hours: dict[int, list] = field(default_factory=dict)

    def to_wire(self) -> dict:
        return {str(h): v for h, v in self.hours.items()}

    @classmethod
    def from_wire(cls, data: dict | None) -> DayStore:
        return cls({int(h): v for h, v in (data or {}).items()})


class HealthState:
    """Where the engine reads saved state (the wiring backs it with Faust tables)."""

    def __init__(self, hour: Callable[[str], dict | None], day: Callable[[str], dict | None],
                 community: Callable[[str], dict | None], directory: Directory,
                 member_day: Callable[[str], dict | None] = lambda key: None) -> None:
        self._hour, self._day, self._community = hour, day, community
        self.directory = directory
        self.member_day = member_day
        """``<community>|<day>`` -> member -> the day's profile counts (``koc.py``)."""

    def hour(self, key: str) -> HourWindow:
        return HourWindow.from_wire(self._hour(key))

    def day(self, key: str) -> DayStore:
        return DayStore.from_wire(self._day(key))

    def community(self, community_id: str) -> CommunityState:
        return CommunityState.from_wire(self._community(community_id))


@dataclass(slots=True)
class HealthResult:
    """What the wiring must publish, then save (clock last), after one batch."""

    hours: dict[str, HourWindow] = field(default_factory=dict)
    days: dict[str, DayStore] = field(default_factory=dict)
    communities: dict[str, CommunityState] = field(default_factory=dict)
    member_communities: set[str] = field(default_factory=set)
    """Communities whose member records changed (save them from the directory)."""
    closed_hours: list[str] = field(default_factory=list)
    closed_days: list[str] = field(default_factory=list)
    hour_records: list[CommunityHourActivity] = field(default_factory=list)
    day_records: list[CommunityDayHealth] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    too_late: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    transitions: list[MemberTransition] = field(default_factory=list)
    """Silence status changes of members, in the order they happened (``silence.py``)."""
    cohort_records: dict[str, CommunityRetentionCohort] = field(default_factory=dict)
    """Retention cohorts judged in this batch, by key: the latest judgement of each."""
    kept_hours: dict[str, HourWindow] = field(default_factory=dict)
    """Folded hours' windows reduced to what the next hour's replies may quote
    (``koc.quotable``), by :func:`quotes_key`, to save (deleted an hour later)."""
    member_days: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Closed days' profile counts per member, to save (``koc.py``)."""
    dropped_member_days: list[str] = field(default_factory=list)
    """Profile counts past the 31 days, to delete (after the clock)."""
    profiles: list[MemberProfile] = field(default_factory=list)


Item = tuple[str, int, InputEvent | ScoredMessage]
"""(topic name, offset, event) in the partition's arrival order."""


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole > 0 else None


class _Batch:
    """The working set of one batch: loaded state, changes and records."""

    def __init__(self, clock: HealthClock, state: HealthState, config: HealthConfig) -> None:
        self.clock, self.state, self.config = clock, state, config
        self.calendar = config.calendar
        self.result = HealthResult()
        self.windows: dict[str, HourWindow] = {}
        self.summaries: dict[str, HourSummary] = {}
        self.touched_days: set[str] = set()
        self.loaded_communities: dict[str, CommunityState] = {}
        self.checkpointed: set[str] = set()
        self.start_horizon = clock.horizon_ms
        """The saved clock's horizon: a community state that folded an hour ending after
        it was saved ahead of the clock (a crash before the clock) and is rewound."""
        self._open_index: dict[str, list[int]] | None = None

    # --- loading ---------------------------------------------------------------------

    def window(self, key: str) -> HourWindow:
        if key not in self.windows:
            self.windows[key] = self.state.hour(key)
        return self.windows[key]

    def community(self, community_id: str, changing: bool = False) -> CommunityState:
        """The community's state, loaded once per batch; ``changing``: it is to be saved."""
        found = self.loaded_communities.get(community_id)
        if found is None:
            found = self.loaded_communities[community_id] = self.state.community(community_id)
            if found.through_ms >= 0 and found.through_ms + HOUR_MS > self.start_horizon:
                found.rewind()  # saved by this batch before a crash: fold its hours again
        if changing:
            self.result.communities[community_id] = found
        return found

    def day_store(self, key: str) -> DayStore:
        found = self.result.days.get(key)
        if found is None:
            found = self.result.days[key] = self.state.day(key)
        return found

    def summary(self, key: str) -> HourSummary:
        if key not in self.summaries:
            self.summaries[key] = summarize(self.window(key), self.config.copy_window_ms)
        return self.summaries[key]

    # --- taking events ---------------------------------------------------------------

    def take(self, items: Iterable[Item]) -> None:
        lateness = self.config.lateness_ms
        for topic, offset, event in items:
            self.clock.positions[topic] = max(self.clock.positions.get(topic, 0), offset + 1)
            ts_ms = event.ts_ms if isinstance(event, ScoredMessage) else to_millis(event.ts)
            start = hour_start_ms(ts_ms)
            community_id = event.community_id  # type: ignore[attr-defined]
            key = hour_key(community_id, start)
            mark = self.clock.marks.get(topic, 0)
            if start + HOUR_MS + lateness <= mark or start + HOUR_MS <= self.clock.horizon_ms:
                # decided by the topic's own order: an hour past due but not yet folded
                # (that happens at the end of the batch) takes nothing more either
                self.result.too_late += 1
                continue
            if key not in self.clock.open_hours:
                self.clock.open_hours.add(key)
                self.windows[key] = HourWindow()
                self._open_index = None
            window = self.window(key)
            if isinstance(event, ChatMessage):
                new = window.add_message(event, ts_ms, self.calendar, self.config.terms)
            elif isinstance(event, MemberEvent):
                new = window.add_member_event(event, ts_ms)
            elif isinstance(event, MembershipSnapshot):
                new = window.add_snapshot(event, ts_ms)
            elif isinstance(event, ScoredMessage):
                new = window.add_score(event)
            else:
                raise TypeError(f"not a community event: {type(event).__name__}")
            if new:
                self.result.accepted[type(event).__name__] += 1
                self.summaries.pop(key, None)
            else:  # the clock as if taken: its window may have been saved without the clock
                self.result.duplicates += 1
            self.clock.communities.add(community_id)
            self.result.hours[key] = window
            day = day_key(community_id, self.calendar.day_number(ts_ms))
            self.clock.open_days.add(day)
            self.touched_days.add(day)
            self.clock.marks[topic] = max(mark, ts_ms)

    # --- closing ---------------------------------------------------------------------

    def close_due(self, waiting: frozenset[str]) -> None:
        """Fold hours, judge silence at every hour boundary passed, close days and judge
        retention cohorts at every local day end passed, up to the new horizon, in
        event-time order (at one instant: folds, silence, day closes, cohorts)."""
        previous = self.clock.horizon_ms
        self.clock.advance(waiting, self.config.lateness_ms, self.config.followers)
        horizon = self.clock.horizon_ms
        due: list[tuple[int, int, str]] = []
        for key in self.clock.open_hours:
            start = split_key(key)[1]
            if start + HOUR_MS <= horizon:
                due.append((start + HOUR_MS, 0, key))
        for key in self.clock.open_days:
            end = self.calendar.day_bounds_ms(split_key(key)[1])[1]
            if end <= horizon:
                due.append((end, 2, key))
        if not previous and self.clock.open_hours:  # a partition's first horizon: judge
            previous = min(split_key(key)[1] for key in self.clock.open_hours)  # from its
        if previous:  # first hour on, the same boundaries however the input was batched
            boundary = hour_start_ms(previous) + HOUR_MS
            while boundary <= horizon:
                due.append((boundary, 1, ""))
                boundary += HOUR_MS
            day = self.calendar.day_number(previous)
            while (end := self.calendar.day_bounds_ms(day)[1]) <= horizon:
                due.append((end, 3, str(day)))
                day += 1
        for end, kind, key in sorted(due):
            if kind == 0:
                self.fold_hour(key)
            elif kind == 1:
                self.judge_silence(end)
            elif kind == 2:
                self.close_day(key)
            else:
                self.judge_cohorts(int(key))
        for key in sorted(self.clock.kept_hours):
            if split_key(key)[1] + 2 * HOUR_MS <= horizon:  # the hour after it is folded
                self.clock.kept_hours.discard(key)
                self.result.closed_hours.append(quotes_key(key))

    def judge_silence(self, at_ms: int) -> None:
        """Silence transitions due by ``at_ms`` in every community of the partition."""
        directory = self.state.directory
        for community_id in sorted(self.clock.communities):
            cached = directory.silence_due.get(community_id)
            if cached is not None and cached > at_ms:
                continue
            community = self.community(community_id)
            found, next_due = judge_silence(
                community_id, community.present,
                lambda member, c=community_id: directory.peek(c, member),
                lambda member, c=community_id: directory.record(c, member), at_ms)
            directory.silence_due[community_id] = next_due
            if found:
                self.result.transitions.extend(found)
                self.result.member_communities.add(community_id)

    def fold_hour(self, key: str) -> None:
        community_id, start = split_key(key)
        summary = self.summary(key)
        window = self.window(key)
        day = self.calendar.day_number(start)
        dkey = day_key(community_id, day)
        previous = hour_key(community_id, start - HOUR_MS)
        quoted = None
        if previous in self.clock.kept_hours:  # folded: this batch's, else its saved quotes
            quoted = self.windows.get(previous) or self.state.hour(quotes_key(previous))
        contributions = hour_contributions(window, quoted, summary)
        self.day_store(dkey).hours[start] = [summary.counts(), dict(summary.words),
                                             contributions]
        directory = self.state.directory
        first_active = {member: first for member, (first, _) in summary.real_times.items()}
        last_active = {member: last for member, (_, last) in summary.real_times.items()}
        community = self.community(community_id, changing=True)
        for member in summary.speakers:
            changed = directory.mark(community_id, member, day, member in summary.active)
            record = directory.record(community_id, member)
            if record.status in (CHURN_RISK, WIN_BACK) and member in first_active:
                self.result.transitions.append(MemberTransition(
                    community_id, member, REACTIVATED, STATUS_NAMES[record.status],
                    first_active[member],
                    silence_start(community.present.get(member, 0), record)))
                record.status = ACTIVE
                changed = True
            if last_active.get(member, 0) > record.last_active_ms:
                record.last_active_ms = last_active[member]
                changed = True
            if changed:
                self.result.member_communities.add(community_id)
        conflicts = 0
        if start > community.through_ms:
            if community_id not in self.checkpointed:
                community.checkpoint()
                self.checkpointed.add(community_id)
            for ts_ms, change_id, action, payload in membership_changes(window):
                before, gone = set(community.present), set(community.absent)
                conflict = community.apply(ts_ms, action, payload)
                if conflict:
                    conflicts += 1
                    self.result.conflicts[conflict] += 1
                if action == "join":
                    channel = channel_id(community.channels, join_channel_of(window, change_id),
                                         self.config.max_channels)
                    record = directory.record(community_id, str(payload))
                    if not record.joined_ms or ts_ms < record.joined_ms:
                        record.joined_ms = ts_ms
                        record.channel = channel
                        self.result.member_communities.add(community_id)
                self.presence_changed(community_id, community, before, gone, ts_ms)
            community.through_ms = start
        self.clock.open_hours.discard(key)
        self.clock.kept_hours.add(key)
        self.result.kept_hours[quotes_key(key)] = quotable(window)
        self._open_index = None
        self.result.closed_hours.append(key)
        self.result.hours.pop(key, None)
        self.result.hour_records.append(self.hour_record(key, final=True))
        self.touched_days.add(dkey)

    def presence_changed(self, community_id: str, community: CommunityState,
                         before: set[str], gone: set[str], ts_ms: int) -> None:
        """Members who left (or were missing from a snapshot) are ``left``; members present
        again after leaving (``gone``: absent before the change) are ``active``, their
        silence counting from now.  A ``left`` record is always absent in a state saved
        with it; checking both keeps a replay whose member records were saved ahead of a
        rewound (or unsaved) community state from finding a member ``left`` who had not
        left yet."""
        directory = self.state.directory
        after = community.present
        for member in sorted(before - set(after)):
            record = directory.record(community_id, member)
            if record.status != LEFT:
                self.result.transitions.append(MemberTransition(
                    community_id, member, STATUS_NAMES[LEFT], STATUS_NAMES[record.status],
                    ts_ms, None))
                record.status = LEFT
                self.result.member_communities.add(community_id)
        for member in sorted(set(after) - before):
            record = directory.peek(community_id, member)
            if record is not None and record.status == LEFT and member in gone:
                self.result.transitions.append(MemberTransition(
                    community_id, member, STATUS_NAMES[ACTIVE], STATUS_NAMES[LEFT], ts_ms,
                    None))
                record.status = ACTIVE
                self.result.member_communities.add(community_id)
            cached = directory.silence_due.get(community_id)
            if cached is not None:
                directory.silence_due[community_id] = min(
                    cached, next_deadline(ACTIVE, after[member]))

    def close_day(self, key: str) -> None:
        community_id, day = split_key(key)
        layers = self.judge_profiles(community_id, day, key)
        record = self.day_record(key, final=True, layers=layers)
        self.result.day_records.append(record)
        self.community(community_id, changing=True).close_day(day, record.real_interactions)
        self.clock.open_days.discard(key)
        self.result.closed_days.append(key)
        self.result.days.pop(key, None)
        self.touched_days.discard(key)
        self.state.directory.forget_days(community_id, day - 1)

    def judge_profiles(self, community_id: str, day: int, key: str) -> Layers:
        """At the end of the community's ``day``: its counts are summed and kept, and the
        present members' profiles and layers judged over the 30 days ending with it."""
        store = self.day_store(key)
        today = day_contributions(hour[2] for hour in store.hours.values() if len(hour) > 2)
        community = self.community(community_id, changing=True)
        days = set(community.profile_days)
        if today:
            self.result.member_days[key] = today
            days.add(day)
        for old in sorted(d for d in days if d <= day - PROFILE_DAYS - 1):
            days.discard(old)
            self.result.dropped_member_days.append(day_key(community_id, old))
        community.profile_days = sorted(days)
        values: dict[int, dict] = {}
        for d in community.profile_days:
            if d <= day:
                dkey = day_key(community_id, d)
                values[d] = self.result.member_days.get(dkey) or self.state.member_day(
                    dkey) or {}
        recent = window_totals(v for d, v in values.items() if d > day - PROFILE_DAYS)
        seen = set().union(*values.values()) if values else set()
        profiles, layers = judge_members(community.present, recent, seen, self.config.koc)
        self.result.profiles.extend(
            self.profile_record(community_id, day, profile) for profile in profiles)
        return layers

    def profile_record(self, community_id: str, day: int, profile: Profile) -> MemberProfile:
        c = profile.totals.counts
        return MemberProfile(
            community_id=community_id, member_id=profile.member_id,
            member_ref=self.config.member_ref(profile.member_id),
            day=self.calendar.day_date(day), timezone=self.calendar.zone, layer=profile.layer,
            is_koc=profile.is_koc, rank=profile.rank, score=profile.score,
            **{f"points_{name}": value for name, value in profile.points.items()},
            real_interactions=profile.totals.real, active_days=profile.totals.active_days,
            replies_received=c[REPLIED], mentions_received=c[MENTIONED],
            avg_text_length=round(c[CHARS] / c[TEXTS], 2) if c[TEXTS] else None,
            positive_share=_ratio(c[POSITIVE], c[SCORED]), scored_messages=c[SCORED],
            invited_joins=c[INVITED], revision=self.revision(True))

    def judge_cohorts(self, day: int) -> None:
        """At the end of local ``day``: the retention cohorts judged then, in every community
        of the partition with members who joined in the 31 days ending with it (quiet
        communities too), from their records and the presence at this instant."""
        directory = self.state.directory
        first_ms = self.calendar.day_bounds_ms(day - LAST_DAY)[0]
        end_ms = self.calendar.day_bounds_ms(day)[1]
        for community_id in sorted(self.clock.communities):
            joined = directory.joined_between(community_id, first_ms, end_ms)
            if not joined:
                continue
            community = self.community(community_id)
            if day <= community.retention_through:
                continue  # judged before a crash, with the presence of then
            present = community.present
            judged = evaluate_day(community.cohorts, day, [
                (self.calendar.day_number(record.joined_ms), record.channel,
                 member in present and record.has("active", day))
                for member, record in joined])
            community.retention_through = day
            self.community(community_id, changing=True)
            for cohort, counts in judged.items():
                for record in cohort_records(community_id, cohort, counts, community.channels,
                                             self.calendar.zone, self.revision):
                    self.result.cohort_records[record.key] = record

    # --- records ---------------------------------------------------------------------

    def revision(self, final: bool) -> int:
        return 2 * self.clock.position + int(final)

    def open_starts(self, community_id: str) -> list[int]:
        """Starts of the community's open hours, in order (indexed once per change of the
        open set, not scanned per record)."""
        if self._open_index is None:
            index: dict[str, list[int]] = {}
            for key in self.clock.open_hours:
                owner, start = split_key(key)
                index.setdefault(owner, []).append(start)
            for starts in index.values():
                starts.sort()
            self._open_index = index
        return self._open_index.get(community_id, [])

    def pending_growth(self, community_id: str, through_end_ms: int) -> int:
        """Net growth of the community's open hours ending by ``through_end_ms``."""
        return sum(self.summary(hour_key(community_id, start)).net_growth
                   for start in self.open_starts(community_id)
                   if start + HOUR_MS <= through_end_ms)

    def hour_record(self, key: str, final: bool) -> CommunityHourActivity:
        community_id, start = split_key(key)
        s = self.summary(key)
        community = self.community(community_id)
        members = community.member_count
        if not final:
            members += self.pending_growth(community_id, start + HOUR_MS)
        return CommunityHourActivity(
            community_id=community_id, window_start=_utc(start), window_end=_utc(start + HOUR_MS),
            messages=s.messages, member_messages=s.by_role[0], staff_messages=s.by_role[1],
            bot_messages=s.by_role[2], interactions=s.interactions,
            real_interactions=s.real_interactions, mechanical_messages=s.mechanical,
            copy_messages=s.copies, speakers=len(s.speakers), active_members=len(s.active),
            senders=len(s.senders), slot_interactions=s.slot_interactions, joins=s.joins,
            leaves=s.leaves, removals=s.removals, net_growth=s.net_growth,
            member_count=members, member_count_anchor=community.anchor,
            speaking_rate=_ratio(len(s.speakers), members), scored_messages=s.scored,
            positive_messages=s.polarity[1], negative_messages=s.polarity[2],
            negative_share=_ratio(s.polarity[2], s.scored), is_final=final,
            revision=self.revision(final),
        )

    def day_record(self, key: str, final: bool, layers: Layers | None = None,
                   ) -> CommunityDayHealth:
        community_id, day = split_key(key)
        start_ms, end_ms = self.calendar.day_bounds_ms(day)
        store = self.state.day(key) if key not in self.result.days else self.result.days[key]
        parts = [HourSummary.from_counts(counts, words)
                 for counts, words, *_profiles in store.hours.values()]
        hourly = [0] * 24
        for hour, (counts, *_rest) in store.hours.items():
            hourly[self.calendar.local_hour(hour)] += counts[6]
        open_hours = [start for start in self.open_starts(community_id)
                      if start_ms <= start < end_ms]
        open_parts = [self.summary(hour_key(community_id, start)) for start in open_hours]
        for start, part in zip(open_hours, open_parts, strict=True):
            hourly[self.calendar.local_hour(start)] += part.interactions
        directory = self.state.directory
        counts = directory.counts(community_id, day)
        speakers, dau, wau, mau = counts.speakers, counts.dau, counts.wau, counts.mau
        pending_speakers = set().union(*(p.speakers for p in open_parts)) if open_parts else set()
        pending_active = set().union(*(p.active for p in open_parts)) if open_parts else set()
        recent_active = self.open_active_since(community_id, day - MONTH_DAYS + 1, end_ms)
        for member in pending_speakers:
            record = directory.peek(community_id, member)
            speakers += record is None or not record.has("spoke", day)
        for member in pending_active:
            record = directory.peek(community_id, member)
            dau += record is None or not record.has("active", day)
        for member, first_day in recent_active.items():
            record = directory.peek(community_id, member)
            if first_day > day - WEEK_DAYS and (
                    record is None or not record.any_in("active", day - WEEK_DAYS + 1, day)):
                wau += 1
            if record is None or not record.any_in("active", day - MONTH_DAYS + 1, day):
                mau += 1
        total = HourSummary()
        for part in parts + open_parts:
            total.messages += part.messages
            total.by_role = [a + b for a, b in zip(total.by_role, part.by_role, strict=True)]
            total.system_by_staff_bot += part.system_by_staff_bot
            total.interactions += part.interactions
            total.mechanical += part.mechanical
            total.copies += part.copies
            total.slot_interactions += part.slot_interactions
            total.joins += part.joins
            total.leaves += part.leaves
            total.removals += part.removals
            total.polarity = [a + b for a, b in zip(total.polarity, part.polarity, strict=True)]
        words = merge_counts([p.words for p in parts + open_parts])
        community = self.community(community_id)
        members = community.member_count
        if not final:
            members += self.pending_growth(community_id, end_ms)
        ugc = total.real_interactions
        month_interactions = community.interactions_before(day) + ugc
        churn = win_back = None
        if final:  # silence was judged up to the day's end just before it closed
            churn, win_back = status_counts(
                community.present, lambda member: directory.peek(community_id, member))
        return CommunityDayHealth(
            community_id=community_id, day=self.calendar.day_date(day),
            timezone=self.calendar.zone, window_start=_utc(start_ms), window_end=_utc(end_ms),
            messages=total.messages, member_messages=total.by_role[0],
            staff_messages=total.by_role[1], bot_messages=total.by_role[2],
            interactions=total.interactions, real_interactions=ugc,
            mechanical_messages=total.mechanical, copy_messages=total.copies,
            speakers=speakers, dau=dau, wau=wau, mau=mau, stickiness=_ratio(dau, mau),
            ugc_messages=ugc, ugc_share=_ratio(ugc, ugc + total.staff_bot_content),
            slot_interactions=total.slot_interactions,
            slot_share=_ratio(total.slot_interactions, total.interactions),
            hourly_interactions=hourly, joins=total.joins, leaves=total.leaves,
            removals=total.removals, net_growth=total.net_growth, member_count=members,
            member_count_anchor=community.anchor, membership_conflicts=community.conflicts,
            churn_risk_members=churn, win_back_members=win_back,
            koc_members=layers and layers.koc, core_members=layers and layers.core,
            participating_members=layers and layers.participating,
            onlooker_members=layers and layers.onlooker,
            join_rate=_ratio(total.joins, members),
            leave_rate=_ratio(total.leaves + total.removals, members),
            speaking_rate=_ratio(speakers, members), interaction_rate=_ratio(speakers, members),
            real_interaction_rate=_ratio(dau, members), weekly_active_rate=_ratio(wau, members),
            interactions_per_member_30d=_ratio(month_interactions, members),
            hot_words=[HotWord(word=w, count=n) for w, n in top_terms(words, HOT_WORDS)],
            scored_messages=total.scored, positive_messages=total.polarity[1],
            negative_messages=total.polarity[2],
            positive_share=_ratio(total.polarity[1], total.scored),
            negative_share=_ratio(total.polarity[2], total.scored),
            is_final=final, revision=self.revision(final),
        )

    def open_active_since(self, community_id: str, first_day: int, end_ms: int) -> dict[str, int]:
        """Members really active in open hours from ``first_day`` to ``end_ms`` -> first day."""
        found: dict[str, int] = {}
        for start in self.open_starts(community_id):
            if start >= end_ms:
                break
            day = self.calendar.day_number(start)
            if day < first_day:
                continue
            for member in self.summary(hour_key(community_id, start)).active:
                found[member] = min(found.get(member, day), day)
        return found

    def emit_open(self) -> None:
        for key in sorted(self.result.hours):
            self.result.hour_records.append(self.hour_record(key, final=False))
        for key in sorted(self.touched_days & self.clock.open_days):
            self.result.day_records.append(self.day_record(key, final=False))


def apply_batch(clock: HealthClock, state: HealthState, items: Iterable[Item],
                config: HealthConfig, waiting: frozenset[str] = frozenset()) -> HealthResult:
    """Apply one partition's events (arrival order) to its state; ``clock`` is updated in place.

    ``waiting``: the partition's topics that have records after these (not caught up with
    the partition's end); they hold the fold horizon back.
    """
    batch = _Batch(clock, state, config)
    batch.take(items)
    batch.close_due(waiting)
    batch.emit_open()
    return batch.result
