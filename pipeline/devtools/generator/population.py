"""Who is in which community, and when: initial members, joins, leaves, silences.

Joins come through channels (UTM source, parameterised QR code) or invitations
(``inviter_id``), and invited members invite others in turn, so invitation
trees grow deeper than one level.  Initial members joined during the week
before the period; their join events are part of the stream so that member
counts can be computed from events alone.
"""

from __future__ import annotations

import random

from pipeline.devtools.generator.clock import (
    DAY_MS,
    HOUR_MS,
    JOIN_RHYTHM,
    MINUTE_MS,
    poisson,
    sample_time,
)
from pipeline.devtools.generator.world import NEVER, Community, Membership, World

HISTORY_DAYS = 7
"""Initial members joined during this many days before the period starts."""

BASE_MEMBERS = 300
"""Initial members of a community of average activity at scale 1."""

MIN_MEMBERS = 60
"""Enough people for a crisis and a complaint cluster even at small scales."""

JOIN_CHANNELS: tuple[tuple[str, float], ...] = (
    ("poster", 0.26), ("article", 0.16), ("douyin", 0.15), ("xiaohongshu", 0.15),
    ("offline", 0.1), ("moments", 0.1), ("search", 0.08),
)
INVITED_SHARE = 0.45
SHARED_PERSON_SHARE = 0.08
"""Share of members who are also in another of the simulated communities."""

SILENT_PER_COMMUNITY = 3
SILENCE_DAYS = 3


def _channel(rng: random.Random) -> str:
    return rng.choices([c for c, _ in JOIN_CHANNELS], [w for _, w in JOIN_CHANNELS])[0]


def chattiness(rng: random.Random) -> float:
    """Heavy-tailed: a third are lurkers (围观), a few post a lot (KOC)."""
    if rng.random() < 0.35:
        return 0.005
    return rng.lognormvariate(0.0, 1.0)


def _qr_code(rng: random.Random, community: Community, channel: str) -> str:
    return f"qr-{community.community_id}-{channel}-{rng.randint(1, 3):02d}"


def _pick_inviter(rng: random.Random, earlier: list[Membership], ms: int) -> Membership | None:
    """Recent joiners invite eagerly (fission), otherwise the chatty ones do."""
    if not earlier:
        return None
    for _ in range(20):
        if rng.random() < 0.4:
            candidate = earlier[-1 - min(int(rng.expovariate(1 / 15)), len(earlier) - 1)]
        else:
            candidate = rng.choices(earlier, [m.weight + 0.2 for m in earlier])[0]
        if candidate.is_member(ms) and not candidate.spammer:
            return candidate
    return None


def _join(world: World, rng: random.Random, community: Community, ms: int,
          earlier: list[Membership], initial: bool, existing: list[str]) -> Membership:
    if existing and rng.random() < SHARED_PERSON_SHARE:
        member_id = rng.choice(existing)
        if member_id in community.by_member:
            member_id = world.new_person(rng)
    else:
        member_id = world.new_person(rng)
    membership = Membership(member_id, community.index, ms, chattiness(rng), initial=initial)
    inviter = _pick_inviter(rng, earlier, ms) if rng.random() < INVITED_SHARE else None
    if inviter is not None:
        membership.inviter_id = inviter.member_id
        membership.channel = "invite"
        membership.qr_code_id = f"qr-{community.community_id}-inv-{inviter.member_id}"
    else:
        membership.channel = _channel(rng)
        membership.qr_code_id = _qr_code(rng, community, membership.channel)
    community.add(membership)
    earlier.append(membership)
    return membership


def seed_members(world: World) -> None:
    """Initial members, organic joins over the period and spammers (joined, then removed)."""
    rng = world.rng("population")
    scale, days = world.config.scale, world.days
    existing: list[str] = []
    for community in world.communities:
        size = max(MIN_MEMBERS, round(BASE_MEMBERS * community.activity * scale))
        history_start = world.start_ms - HISTORY_DAYS * DAY_MS
        times = sorted(sample_time(rng, history_start, world.start_ms - MINUTE_MS, JOIN_RHYTHM)
                       for _ in range(size))
        earlier: list[Membership] = []
        others = list(existing)
        for ms in times:
            _join(world, rng, community, ms, earlier, True, others)
        joins = poisson(rng, 0.05 * size * days)
        for ms in sorted(sample_time(rng, world.start_ms, world.end_ms, JOIN_RHYTHM)
                         for _ in range(joins)):
            _join(world, rng, community, ms, earlier, False, others)
        _add_spammers(world, rng, community)
        existing.extend(m.member_id for m in community.memberships if not m.spammer)


def _add_spammers(world: World, rng: random.Random, community: Community) -> None:
    """Accounts that join, post an ad and are removed by staff a few minutes later."""
    for _ in range(poisson(rng, 0.8 * world.days)):
        join = sample_time(rng, world.start_ms, world.end_ms, JOIN_RHYTHM)
        member = Membership(world.new_person(rng), community.index, join, 0.0, spammer=True,
                            channel="search", qr_code_id=_qr_code(rng, community, "search"))
        ad = join + rng.randint(1, 20) * MINUTE_MS
        if ad < world.end_ms:
            member.ad_ms = ad
            removed = ad + rng.randint(2 * MINUTE_MS, 25 * MINUTE_MS)
            if removed < world.end_ms:
                member.leave_ms, member.leave_action = removed, "removed"
        community.add(member)


def assign_leaves(world: World) -> None:
    """Some members leave (or are removed for breaking rules); new ones leave more often."""
    rng = world.rng("leaves")
    established = 1 - (1 - 0.006) ** world.days
    for community in world.communities:
        for member in community.memberships:
            if member.spammer or member.leave_ms != NEVER:
                continue
            if member.join_ms < world.start_ms:
                if rng.random() >= established:
                    continue
                leave = sample_time(rng, world.start_ms, world.end_ms, JOIN_RHYTHM)
            else:
                if rng.random() >= 0.12:
                    continue
                leave = member.join_ms + int(rng.expovariate(1 / (8 * HOUR_MS))) + MINUTE_MS
                if leave >= world.end_ms:
                    continue
            member.leave_ms = leave
            member.leave_action = "removed" if rng.random() < 0.08 else "leave"


def choose_silent(world: World) -> None:
    """A few formerly chatty members stop posting (churn risk) and stay silent to the end.

    When the period is long enough they fall silent at least ``SILENCE_DAYS`` days
    before the end; otherwise from the middle of the period.
    """
    rng = world.rng("silent")
    span = world.end_ms - world.start_ms
    latest = world.end_ms - SILENCE_DAYS * DAY_MS
    earliest = world.start_ms + min(DAY_MS, span // 10)
    for community in world.communities:
        candidates = [m for m in community.memberships
                      if m.join_ms < world.start_ms and m.leave_ms == NEVER and not m.spammer]
        candidates.sort(key=lambda m: -m.weight)
        pool = candidates[: max(SILENT_PER_COMMUNITY, len(candidates) // 4)]
        for member in rng.sample(pool, min(SILENT_PER_COMMUNITY, len(pool))):
            if latest > earliest:
                member.silent_from = rng.randrange(earliest, latest)
            else:
                member.silent_from = world.start_ms + span // 2
