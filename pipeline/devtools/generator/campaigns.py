"""Campaigns (活动): funnels that lose people step by step, and the joins they bring.

Step counts are exact (``round(n * p)`` people move on, chosen at random), so
the intended conversion of each step is what the data shows: most steps at
87-95%, and one campaign with a step clearly below the 85% target.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.devtools.generator.clock import (
    CHAT_RHYTHM,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    SHANGHAI_OFFSET_MS,
    sample_time,
    shanghai_day_start,
)
from pipeline.devtools.generator.population import chattiness
from pipeline.devtools.generator.world import Membership, World
from schemas.events import FUNNEL_STEPS

CAMPAIGN_CHANNELS = ("poster", "article", "douyin", "xiaohongshu", "offline", "moments")
BASE_PARTICIPANTS = 550
"""People clicking a campaign poster in a community of average activity at scale 1."""


@dataclass(slots=True)
class FunnelRecord:
    ts: int
    event_id: str
    campaign_id: str
    person_id: str
    step: str
    channel: str
    community_id: str | None


@dataclass(slots=True)
class Campaign:
    campaign_id: str
    title: str
    community: int
    lo_ms: int
    hi_ms: int
    activity_ms: int
    conversions: tuple[float, ...]
    featured: tuple[str, int]
    channel_of: dict[str, str] = field(default_factory=dict)
    reached: dict[str, list[str]] = field(default_factory=dict)
    """Persons per step, in FUNNEL_STEPS order."""
    entry_ms: dict[str, int] = field(default_factory=dict)
    events: list[FunnelRecord] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)


def _activity_time(rng: random.Random, lo: int, hi: int) -> int:
    """The live session: 20:00 Shanghai if such an evening falls in the window."""
    day = shanghai_day_start(lo)
    evenings = []
    while day < hi:
        evening = day + 20 * HOUR_MS
        if lo <= evening < hi:
            evenings.append(evening)
        day += DAY_MS
    return rng.choice(evenings) if evenings else rng.randrange(lo, max(hi, lo + 1))


def _conversions(rng: random.Random, weak: bool, steps: int) -> tuple[float, ...]:
    values = [rng.uniform(0.87, 0.95) for _ in range(steps - 1)]
    if weak:
        # form abandonment (signup_page -> signup) or no-shows (reminder -> activity_entry)
        values[rng.choice((1, 3))] = rng.uniform(0.55, 0.75)
    return tuple(values)


def run_campaigns(world: World) -> list[Campaign]:
    """Plan campaigns, walk people through their funnels, add the joins they cause."""
    rng = world.rng("campaigns")
    communities = world.communities
    count = max(1, round(len(communities) / 2 * max(1.0, world.days / 2)))
    order = list(range(0, len(communities), 2)) + list(range(1, len(communities), 2))
    span = world.end_ms - world.start_ms
    length = min(span, 2 * DAY_MS)
    campaigns = []
    for index in range(count):
        community = communities[order[index % len(order)]]
        theme = community.theme
        lo = world.start_ms + rng.randrange(0, span - length + 1)
        hi = lo + length
        activity = _activity_time(rng, lo + int(0.55 * length), lo + int(0.85 * length))
        title = theme.campaigns[index // len(order) % len(theme.campaigns)]
        product, price = rng.choice(theme.catalog)
        campaign = Campaign(
            campaign_id=f"cmp-{theme.code}-{index + 1:02d}", title=title,
            community=community.index, lo_ms=lo, hi_ms=hi, activity_ms=activity,
            conversions=_conversions(rng, index == min(1, count - 1), len(FUNNEL_STEPS)),
            featured=(product, int(price * rng.choice((0.5, 0.6, 0.8)) // 100 * 100 - 100)),
        )
        participants = max(30, round(BASE_PARTICIPANTS * community.activity * world.config.scale
                                     * length / (2 * DAY_MS)))
        _walk_funnel(world, rng, campaign, participants, FUNNEL_STEPS)
        campaigns.append(campaign)
    return campaigns


def _walk_funnel(world: World, rng: random.Random, campaign: Campaign, participants: int,
                 steps: tuple[str, ...]) -> None:
    community = world.communities[campaign.community]
    channels = rng.sample(CAMPAIGN_CHANNELS, rng.randint(3, 5))
    channel_weights = [rng.uniform(0.5, 3) for _ in channels]
    length = campaign.hi_ms - campaign.lo_ms
    promo_lo, promo_hi = campaign.lo_ms + int(0.02 * length), campaign.lo_ms + int(0.55 * length)
    reminder_at = campaign.activity_ms - min(HOUR_MS, length // 20)
    end = world.end_ms - 1
    members = community.members_at(promo_lo)

    people: list[str] = []
    for _ in range(participants):
        if members and rng.random() < 0.25:
            person = rng.choice(members).member_id
            if person in campaign.channel_of:
                continue
        else:
            person = world.new_person(rng)
        campaign.channel_of[person] = rng.choices(channels, channel_weights)[0]
        people.append(person)

    reached = [people]
    for conversion in campaign.conversions:
        previous = reached[-1]
        chosen = set(rng.sample(range(len(previous)), round(len(previous) * conversion)))
        reached.append([p for i, p in enumerate(previous) if i in chosen])
    campaign.reached = {step: persons for step, persons in zip(steps, reached, strict=True)}

    times: dict[str, list[int]] = {}
    for person in people:
        click = sample_time(rng, promo_lo, promo_hi, CHAT_RHYTHM)
        page = click + rng.randint(3 * SECOND_MS, 90 * SECOND_MS)
        signup = page + rng.randint(20 * SECOND_MS, 8 * MINUTE_MS)
        reminder = max(reminder_at + rng.randint(0, 120 * SECOND_MS), signup + MINUTE_MS)
        entry = max(campaign.activity_ms + rng.randint(-10 * MINUTE_MS, 25 * MINUTE_MS),
                    reminder + 30 * SECOND_MS)
        follow = entry + rng.randint(HOUR_MS, 12 * HOUR_MS)
        stamps, previous = [], 0
        for ms in (click, page, signup, reminder, entry, follow):
            previous = max(previous, min(ms, end))
            stamps.append(previous)
        times[person] = stamps

    _join_after_signup(world, rng, campaign, times)
    for step_index, step in enumerate(steps):
        for person in campaign.reached[step]:
            ms = times[person][step_index]
            _record(world, campaign, person, step, ms)
            if step == "poster_click" and rng.random() < 0.04:
                again = min(ms + rng.randint(MINUTE_MS, 6 * HOUR_MS), end)
                _record(world, campaign, person, step, again)
            if step == "activity_entry":
                campaign.entry_ms[person] = ms
    campaign.events.sort(key=lambda e: e.ts)


def _join_after_signup(world: World, rng: random.Random, campaign: Campaign,
                       times: dict[str, list[int]]) -> None:
    """Most sign-ups who are not yet members join the campaign's group (some invited)."""
    community = world.communities[campaign.community]
    for person in campaign.reached["signup"]:
        if person in community.by_member or rng.random() >= 0.5:
            continue
        join = times[person][2] + rng.randint(MINUTE_MS, 10 * MINUTE_MS)
        if join >= world.end_ms:
            continue
        channel = campaign.channel_of[person]
        membership = Membership(person, community.index, join, chattiness(rng) * 0.7,
                                channel=channel, qr_code_id=f"qr-{campaign.campaign_id}-{channel}")
        helpers = [community.by_member[p] for p in campaign.joined
                   if community.by_member[p].join_ms < join]
        if helpers and rng.random() < 0.2:
            membership.inviter_id = rng.choice(helpers).member_id
        community.add(membership)
        campaign.joined.append(person)


def _record(world: World, campaign: Campaign, person: str, step: str, ms: int) -> None:
    community = world.communities[campaign.community]
    membership = community.by_member.get(person)
    in_group = membership is not None and membership.is_member(ms)
    campaign.events.append(FunnelRecord(
        ts=ms, event_id=world.ids.next("fe-", 8), campaign_id=campaign.campaign_id,
        person_id=person, step=step, channel=campaign.channel_of[person],
        community_id=community.community_id if in_group else None,
    ))


def shanghai_when(ms: int) -> str:
    """A Chinese date-time phrase for notices: ``5月3日晚上8点``."""
    local = (ms + SHANGHAI_OFFSET_MS) // 1000
    moment = datetime.fromtimestamp(local, UTC)
    part = "晚上" if moment.hour >= 18 else ("下午" if moment.hour >= 12 else "上午")
    hour = moment.hour - 12 if moment.hour > 12 else moment.hour
    return f"{moment.month}月{moment.day}日{part}{hour}点"
