"""The hour window: one community's event-time hour, the unit of exact counting.

A window keeps one compact entry per distinct message and membership event
(keyed by their ids, so a redelivery or a replay changes nothing) and the
word counts of the messages it took.  Everything a record shows is derived
from those entries when it is emitted, which keeps rules that look at
several messages (a copy is a repeat of an *earlier* message, whatever the
arrival order) exact.  Windows live for an hour plus the allowed lateness;
then :mod:`pipeline.compute.health.engine` folds their summary into the day
and into members' records and drops them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.compute.health.calendar import HOUR_MS, CommunityCalendar
from pipeline.compute.health.retention import join_channel
from pipeline.compute.interaction import COPY_WINDOW_MS, copy_key, is_mechanical
from schemas.events import ChatMessage, MemberEvent, MembershipSnapshot
from schemas.scores import ScoredMessage

ROLES = ("member", "staff", "bot")
POLARITIES = ("neutral", "positive", "negative")
CONTENT, MECHANICAL, SYSTEM = 0, 1, 2
"""Message kinds: content, a mechanical reply, a system message (never an interaction)."""

Terms = Callable[[str], list[str]]


def message_kind(message: ChatMessage) -> int:
    if message.msg_type == "system":
        return SYSTEM
    if message.msg_type == "sticker" or (message.msg_type == "text"
                                         and is_mechanical(message.text)):
        return MECHANICAL
    return CONTENT


@dataclass(slots=True)
class HourWindow:
    """What one community-hour has taken so far.

    ``messages``: id -> [ts_ms, role index, sender id, kind, copy key, in a 3+2 slot,
    text length, replied-to message id or "", mentioned member ids] (the last three for
    member profiles, ``koc.py``; entries saved before them have six fields);
    ``member_events``: id -> [ts_ms, member id, action] (+ [channel or ""] for a join
    through one, ``retention.join_channel``, + [inviter id] for an invited join);
    ``snapshots``: id -> [ts_ms, sorted member ids];
    ``scores``: scored message id -> polarity index (from the sentiment path);
    ``words``: hot-word counts of the members' text messages.
    """

    messages: dict[str, list] = field(default_factory=dict)
    member_events: dict[str, list] = field(default_factory=dict)
    snapshots: dict[str, list] = field(default_factory=dict)
    words: Counter[str] = field(default_factory=Counter)
    scores: dict[str, int] = field(default_factory=dict)

    def add_message(self, message: ChatMessage, ts_ms: int, calendar: CommunityCalendar,
                    terms: Terms) -> bool:
        """Take a message; False if it was already taken."""
        if message.message_id in self.messages:
            return False
        kind = message_kind(message)
        role = ROLES.index(message.sender_role)
        key = copy_key(message.text) if message.msg_type == "text" and kind == CONTENT else ""
        length = len(message.text) if message.msg_type == "text" and message.text else 0
        self.messages[message.message_id] = [
            ts_ms, role, message.member_id, kind, key, int(calendar.in_slot(ts_ms)), length,
            message.reply_to or "", sorted(set(message.mentions) - {message.member_id})]
        if role == 0 and kind == CONTENT and message.msg_type == "text" and message.text:
            self.words.update(terms(message.text))
        return True

    def add_member_event(self, event: MemberEvent, ts_ms: int) -> bool:
        if event.event_id in self.member_events:
            return False
        entry: list = [ts_ms, event.member_id, event.action]
        channel = join_channel(event.channel, event.qr_code_id)
        inviter = event.inviter_id if event.inviter_id != event.member_id else None
        if event.action == "join" and (channel or inviter):
            entry.append(channel or "")
            if inviter:
                entry.append(inviter)
        self.member_events[event.event_id] = entry
        return True

    def add_snapshot(self, snapshot: MembershipSnapshot, ts_ms: int) -> bool:
        if snapshot.snapshot_id in self.snapshots:
            return False
        self.snapshots[snapshot.snapshot_id] = [ts_ms, sorted(set(snapshot.member_ids))]
        return True

    def add_score(self, scored: ScoredMessage) -> bool:
        if scored.message_id in self.scores:
            return False
        self.scores[scored.message_id] = POLARITIES.index(scored.polarity)
        return True

    def to_wire(self) -> dict:
        return {"m": self.messages, "e": self.member_events, "s": self.snapshots,
                "w": dict(self.words), "p": self.scores}

    @classmethod
    def from_wire(cls, data: dict | None) -> HourWindow:
        if not data:
            return cls()
        return cls(dict(data.get("m", {})), dict(data.get("e", {})), dict(data.get("s", {})),
                   Counter(data.get("w", {})), dict(data.get("p", {})))


@dataclass(slots=True)
class HourSummary:
    """Counts of one community-hour, and the members behind its distinct counts."""

    messages: int = 0
    by_role: list[int] = field(default_factory=lambda: [0, 0, 0])
    system_messages: int = 0
    interactions: int = 0
    mechanical: int = 0
    copies: int = 0
    slot_interactions: int = 0
    joins: int = 0
    leaves: int = 0
    removals: int = 0
    polarity: list[int] = field(default_factory=lambda: [0, 0, 0])
    """Scored messages: neutral, positive, negative."""
    speakers: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    words: Counter[str] = field(default_factory=Counter)
    real_times: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Member -> (first, last) event time of their real interactions in the hour (silence
    and its end: ``silence.py``)."""
    real_messages: list[str] = field(default_factory=list)
    """Ids of the members' real interactions (member profiles: ``koc.py``)."""

    @property
    def real_interactions(self) -> int:
        return self.interactions - self.mechanical - self.copies

    @property
    def staff_bot_content(self) -> int:
        """Staff and bot messages that are not system messages (the non-UGC content)."""
        return self.by_role[1] + self.by_role[2] - self.system_by_staff_bot

    system_by_staff_bot: int = 0

    @property
    def net_growth(self) -> int:
        return self.joins - self.leaves - self.removals

    @property
    def scored(self) -> int:
        return sum(self.polarity)

    def counts(self) -> list[int]:
        """The additive part, for the day's store of closed hours."""
        return [self.messages, *self.by_role, self.system_messages, self.system_by_staff_bot,
                self.interactions, self.mechanical, self.copies, self.slot_interactions,
                self.joins, self.leaves, self.removals, *self.polarity]

    @classmethod
    def from_counts(cls, counts: list[int], words: dict[str, int]) -> HourSummary:
        (messages, member, staff, bot, system, system_sb, interactions, mechanical, copies,
         slot, joins, leaves, removals, neutral, positive, negative) = counts
        return cls(messages, [member, staff, bot], system, interactions, mechanical, copies,
                   slot, joins, leaves, removals, [neutral, positive, negative],
                   words=Counter(words), system_by_staff_bot=system_sb)


def summarize(window: HourWindow, copy_window_ms: int = COPY_WINDOW_MS) -> HourSummary:
    """The hour's counts, copies decided in (event time, message id) order."""
    summary = HourSummary(words=Counter(window.words))
    last_by_key: dict[str, int] = {}
    for message_id, (ts_ms, role, sender, kind, key, slot, *_profile) in sorted(
        window.messages.items(), key=lambda item: (item[1][0], item[0])
    ):
        summary.messages += 1
        summary.by_role[role] += 1
        summary.senders.add(sender)
        if kind == SYSTEM:
            summary.system_messages += 1
            summary.system_by_staff_bot += role != 0
            continue
        copied = False
        if key:
            previous = last_by_key.get(key)
            copied = previous is not None and ts_ms - previous <= copy_window_ms
            last_by_key[key] = ts_ms
        if role != 0:
            continue
        summary.interactions += 1
        summary.slot_interactions += slot
        summary.speakers.add(sender)
        if kind == MECHANICAL:
            summary.mechanical += 1
        elif copied:
            summary.copies += 1
        else:
            summary.active.add(sender)
            summary.real_messages.append(message_id)
            first, _last = summary.real_times.get(sender, (ts_ms, ts_ms))
            summary.real_times[sender] = (min(first, ts_ms), ts_ms)  # in time order
    for polarity in window.scores.values():
        summary.polarity[polarity] += 1
    for _ts, _member, action, *_channel in window.member_events.values():
        if action == "join":
            summary.joins += 1
        elif action == "leave":
            summary.leaves += 1
        else:
            summary.removals += 1
    return summary


def membership_changes(window: HourWindow) -> list[tuple[int, str, str, object]]:
    """Membership events and snapshots in (event time, id) order: (ts, id, kind, payload);
    a join's channel is :func:`join_channel_of` its id."""
    changes: list[tuple[int, str, str, object]] = [
        (ts, event_id, action, member) for event_id, (ts, member, action, *_channel)
        in window.member_events.items()
    ]
    changes += [(ts, snapshot_id, "snapshot", members)
                for snapshot_id, (ts, members) in window.snapshots.items()]
    return sorted(changes, key=lambda c: (c[0], c[1]))


def join_channel_of(window: HourWindow, event_id: str) -> str | None:
    """The channel a join event of the window came through, if it named one."""
    entry = window.member_events.get(event_id)
    return (entry[3] or None) if entry is not None and len(entry) > 3 else None


def hour_end_ms(start_ms: int) -> int:
    return start_ms + HOUR_MS
