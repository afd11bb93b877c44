"""Negative episodes with their expected alert tier (the sentiment ground truth).

- mild: one member's isolated complaint, far from any other episode;
- moderate: several members of one community complaining within minutes with
  complaint terms (投诉, 退款, 退货, 质量问题, 客服);
- severe: many members using crisis terms (曝光, 维权, 起诉, 律师, 315, 媒体 ...)
  with heated replies and mentions, spreading to a second community.

Episodes are planned before chat is simulated; chat posts their messages at
the planned times and fills in the message ids.  Staff replies to complaints
are planned here too but are not part of the episode.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.devtools.generator import vocabulary as vocab
from pipeline.devtools.generator.clock import (
    CHAT_RHYTHM,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    sample_time,
    shanghai_day_start,
    shanghai_hour,
)
from pipeline.devtools.generator.world import NEVER, Community, Membership, World

SAME_COMMUNITY_GAP_MS = 3 * HOUR_MS
"""Episodes in one community are this far apart, so each is graded on its own."""

ANY_COMMUNITY_GAP_MS = 45 * MINUTE_MS
"""...and this far from episodes elsewhere, so none looks like another one spreading."""


@dataclass(slots=True)
class PlannedMessage:
    ts: int
    community: int
    member_id: str
    text: str
    role: str = "member"
    reply_to: int | None = None
    """Index of an earlier message of the same episode this one replies to."""
    mentions: tuple[str, ...] = ()
    in_episode: bool = True
    message_id: str | None = None


@dataclass(slots=True)
class Episode:
    episode_id: str
    tier: str
    messages: list[PlannedMessage] = field(default_factory=list)

    @property
    def own_messages(self) -> list[PlannedMessage]:
        return [m for m in self.messages if m.in_episode]


class _Calendar:
    def __init__(self) -> None:
        self.taken: list[tuple[int, int, int]] = []

    def free(self, community: int, lo: int, hi: int) -> bool:
        for other, start, end in self.taken:
            gap = SAME_COMMUNITY_GAP_MS if other == community else ANY_COMMUNITY_GAP_MS
            if lo < end + gap and hi > start - gap:
                return False
        return True

    def take(self, community: int, lo: int, hi: int) -> None:
        self.taken.append((community, lo, hi))


def _eligible(community: Community, lo: int, hi: int) -> list[Membership]:
    """Members who were in the group for a while and can post throughout ``[lo, hi]``."""
    return [m for m in community.memberships
            if not m.spammer and m.join_ms < lo - HOUR_MS and m.can_post(lo) and m.can_post(hi)]


def _burst(world: World, rng: random.Random, episode: Episode, community: Community,
           members: list[Membership], t0: int, duration: int,
           write: Callable[[], str], extra: float) -> None:
    """Members post 1-3 messages each within ``duration`` of ``t0``, replying to each other."""
    speakers = []
    for member in members:
        speakers += [member] * (1 + (rng.random() < extra) + (rng.random() < extra / 3))
    rng.shuffle(speakers)
    times = sorted([t0] + [t0 + rng.randrange(SECOND_MS, max(duration, 2 * SECOND_MS))
                           for _ in speakers[1:]])
    first = len(episode.messages)
    staff = community.staff_ids[0]
    for member, ms in zip(speakers, times, strict=True):
        text, mentions, reply_to = write(), [], None
        local = len(episode.messages) - first
        if local and rng.random() < 0.45:
            reply_to = first + rng.randrange(local)
            target = episode.messages[reply_to].member_id
            if target != member.member_id and rng.random() < 0.3:
                text = f"@{world.nick(target)} {text}"
                mentions.append(target)
        if rng.random() < 0.22:
            text = f"@{world.nick(staff)} {text}"
            mentions.append(staff)
        episode.messages.append(PlannedMessage(ms, community.index, member.member_id, text,
                                               reply_to=reply_to, mentions=tuple(mentions)))


def _staff_reply(episode: Episode, community: Community, ms: int, text: str,
                 reply_to: int | None = None, mentions: tuple[str, ...] = ()) -> None:
    episode.messages.append(PlannedMessage(ms, community.index, community.staff_ids[0], text,
                                           role="staff", reply_to=reply_to, mentions=mentions,
                                           in_episode=False))


def _severe(world: World, rng: random.Random, calendar: _Calendar) -> Episode | None:
    span = world.end_ms - world.start_ms
    largest = sorted(world.communities, key=lambda c: (-len(c.memberships), c.index))
    source = rng.choice(largest[:2])
    others = [c for c in world.communities if c is not source]
    target = max(others, key=lambda c: (sum(p in source.by_member for p in c.by_member),
                                        -c.index)) if others else None
    dur_a = int(min(45 * MINUTE_MS, 0.15 * span))
    lag = int(min(20 * MINUTE_MS, 0.08 * span))
    dur_b = int(min(30 * MINUTE_MS, 0.12 * span))
    lo = world.start_ms + int(0.55 * span)
    hi = world.end_ms - max(dur_a, lag + dur_b) - 5 * MINUTE_MS
    evenings = []
    day = shanghai_day_start(lo)
    while day < hi:
        evening = day + 19 * HOUR_MS + 30 * MINUTE_MS
        if lo <= evening < hi:
            evenings.append(evening + rng.randint(-20 * MINUTE_MS, 40 * MINUTE_MS))
        day += DAY_MS
    t0 = rng.choice(evenings[-2:]) if evenings else world.start_ms + int(0.6 * span)
    members = _eligible(source, t0, t0 + dur_a)
    if len(members) < 3:
        return None
    episode = Episode("ep-severe-01", "severe")
    crowd = rng.sample(members, min(len(members), rng.randint(12, 16)))
    _burst(world, rng, episode, source, crowd, t0, dur_a,
           lambda: vocab.severe_complaint(rng, source.theme), 0.7)
    _staff_reply(episode, source, t0 + min(8 * MINUTE_MS, dur_a // 3),
                 vocab.staff_complaint_reply(rng, None))
    calendar.take(source.index, t0, t0 + dur_a)
    if target is not None:
        t1 = t0 + lag
        eligible = _eligible(target, t1, t1 + dur_b)
        shared = [m for m in eligible if m.member_id in source.by_member]
        picked = rng.sample(shared, min(3, len(shared)))
        rest = [m for m in eligible if m not in picked]
        picked += rng.sample(rest, min(len(rest), rng.randint(6, 9) - len(picked)))
        if picked:
            def spread() -> str:
                if rng.random() < 0.7:
                    return vocab.spread_complaint(rng, target.theme, source.theme)
                return vocab.severe_complaint(rng, source.theme)

            _burst(world, rng, episode, target, picked, t1, dur_b, spread, 0.5)
            _staff_reply(episode, target, t1 + dur_b // 2, vocab.staff_complaint_reply(rng, None))
            calendar.take(target.index, t1, t1 + dur_b)
    _angry_leaves(world, rng, episode, source)
    return episode


def _angry_leaves(world: World, rng: random.Random, episode: Episode, source: Community) -> None:
    """A few crisis participants leave the group within hours (a spike in leaves)."""
    last: dict[str, int] = {}
    for message in episode.own_messages:
        if message.community == source.index:
            last[message.member_id] = message.ts
    candidates = [source.by_member[m] for m in last
                  if source.by_member[m].leave_ms == NEVER
                  and source.by_member[m].silent_from == NEVER]
    for member in rng.sample(candidates, min(len(candidates), rng.randint(3, 5))):
        leave = last[member.member_id] + rng.randint(10 * MINUTE_MS, 3 * HOUR_MS)
        if leave < world.end_ms:
            member.leave_ms, member.leave_action = leave, "leave"


def _moderate(world: World, rng: random.Random, calendar: _Calendar, number: int,
              avoid: set[int]) -> Episode | None:
    span = world.end_ms - world.start_ms
    duration = int(min(12 * MINUTE_MS, 0.05 * span))
    pool = [c for c in world.communities if c.index not in avoid] or world.communities
    lo, hi = world.start_ms + int(0.05 * span), world.end_ms - duration - 10 * MINUTE_MS
    if number == 1:
        lo, hi = world.start_ms + int(0.2 * span), world.start_ms + int(0.6 * span)
    for attempt in range(300):
        community = rng.choice(pool)
        t0 = sample_time(rng, lo, max(hi, lo + 1), CHAT_RHYTHM)
        if not 9 <= shanghai_hour(t0) < 22 and attempt < 200:
            continue  # office hours, when complaints reach staff, unless there are none
        if not calendar.free(community.index, t0, t0 + duration):
            continue
        members = _eligible(community, t0, t0 + duration)
        if len(members) < 4:
            continue
        episode = Episode(f"ep-moderate-{number:02d}", "moderate")
        crowd = rng.sample(members, min(len(members), rng.randint(5, 7)))
        _burst(world, rng, episode, community, crowd, t0, duration,
               lambda c=community: vocab.moderate_complaint(rng, c.theme), 0.5)
        _staff_reply(episode, community, t0 + duration + 3 * MINUTE_MS,
                     vocab.staff_complaint_reply(rng, None))
        calendar.take(community.index, t0, t0 + duration)
        return episode
    return None


def _mild(world: World, rng: random.Random, calendar: _Calendar, number: int) -> Episode | None:
    span = world.end_ms - world.start_ms
    lo, hi = world.start_ms + int(0.03 * span), world.end_ms - int(0.03 * span)
    for _ in range(100):
        community = rng.choice(world.communities)
        t0 = sample_time(rng, lo, hi, CHAT_RHYTHM)
        if not calendar.free(community.index, t0, t0 + MINUTE_MS):
            continue
        members = _eligible(community, t0, t0)
        if not members:
            continue
        member = rng.choice(members)
        episode = Episode(f"ep-mild-{number:02d}", "mild")
        episode.messages.append(PlannedMessage(t0, community.index, member.member_id,
                                               vocab.mild_complaint(rng, community.theme)))
        reply_at = t0 + rng.randint(2 * MINUTE_MS, 15 * MINUTE_MS)
        if rng.random() < 0.5 and reply_at < world.end_ms:
            _staff_reply(episode, community, reply_at,
                         vocab.staff_complaint_reply(rng, world.nick(member.member_id)),
                         reply_to=0, mentions=(member.member_id,))
        calendar.take(community.index, t0, t0 + MINUTE_MS)
        return episode
    return None


def plan_episodes(world: World) -> list[Episode]:
    """One severe crisis, a moderate cluster every two days, and scattered mild complaints."""
    rng = world.rng("episodes")
    calendar = _Calendar()
    episodes: list[Episode] = []
    severe = _severe(world, rng, calendar)
    avoid: set[int] = set()
    if severe is not None:
        episodes.append(severe)
        avoid = {m.community for m in severe.messages}
    for number in range(1, max(1, round(world.days / 2)) + 1):
        moderate = _moderate(world, rng, calendar, number, avoid)
        if moderate is not None:
            episodes.append(moderate)
    mild_count = max(2, round(len(world.communities) * world.days * 0.75))
    for number in range(1, mild_count + 1):
        mild = _mild(world, rng, calendar, number)
        if mild is not None:
            episodes.append(mild)
    return episodes
