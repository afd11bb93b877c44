"""The simulated world: communities, their members and staff, and id allocation.

Modules fill it in stages (population, campaigns, leaves, silences, episodes)
before chat is simulated over the final membership, so a member never posts
before joining, after leaving or while silent.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from pipeline.devtools.generator.clock import DAY_MS, to_ms
from pipeline.devtools.generator.config import GeneratorConfig
from pipeline.devtools.generator.themes import PLATFORMS, THEMES, Theme
from pipeline.devtools.generator.vocabulary import nickname

NEVER = 2**62
"""A time after every simulated event (for open intervals)."""

ACTIVITY_LEVELS = (1.5, 1.2, 1.0, 0.9, 0.75, 0.65)
"""Relative activity of communities: a few busy groups and several quieter ones."""


@dataclass(slots=True)
class Membership:
    """One person's stay in one community."""

    member_id: str
    community: int
    join_ms: int
    weight: float
    """Relative chattiness; heavy-tailed (a few KOCs, many lurkers)."""
    initial: bool = False
    channel: str | None = None
    qr_code_id: str | None = None
    inviter_id: str | None = None
    leave_ms: int = NEVER
    leave_action: str | None = None
    silent_from: int = NEVER
    spammer: bool = False
    ad_ms: int = NEVER

    def can_post(self, ms: int) -> bool:
        return self.join_ms <= ms < self.leave_ms and ms < self.silent_from

    def is_member(self, ms: int) -> bool:
        return self.join_ms <= ms < self.leave_ms


@dataclass(slots=True)
class Community:
    index: int
    community_id: str
    platform: str
    theme: Theme
    activity: float
    staff_ids: tuple[str, ...]
    bot_id: str
    system_id: str
    memberships: list[Membership] = field(default_factory=list)
    by_member: dict[str, Membership] = field(default_factory=dict)
    _cumulative: list[float] = field(default_factory=list)

    def add(self, membership: Membership) -> None:
        self.memberships.append(membership)
        self.by_member[membership.member_id] = membership
        self._cumulative = []

    def pick_poster(self, rng: random.Random, ms: int, tries: int = 60,
                    quiet: Callable[[str], bool] | None = None) -> Membership | None:
        """A member who can post at ``ms``, drawn by chattiness (and not ``quiet``)."""
        if not self._cumulative:
            self._cumulative = list(accumulate(m.weight for m in self.memberships))
        cumulative = self._cumulative
        total = cumulative[-1] if cumulative else 0.0
        if total <= 0:
            return None
        for _ in range(tries):
            index = bisect.bisect_right(cumulative, rng.random() * total)
            member = self.memberships[min(index, len(self.memberships) - 1)]
            if (member.can_post(ms) and not member.spammer
                    and (quiet is None or not quiet(member.member_id))):
                return member
        return None

    def members_at(self, ms: int) -> list[Membership]:
        return [m for m in self.memberships if m.is_member(ms) and not m.spammer]


class Ids:
    """Deterministic, readable ids (a counter per prefix)."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, prefix: str, width: int = 7) -> str:
        value = self._next.get(prefix, 0) + 1
        self._next[prefix] = value
        return f"{prefix}{value:0{width}d}"


@dataclass(slots=True)
class World:
    config: GeneratorConfig
    start_ms: int
    end_ms: int
    communities: list[Community]
    ids: Ids
    nicks: dict[str, str]

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / DAY_MS

    def rng(self, name: str) -> random.Random:
        """An independent random stream per concern: a change in one keeps the others stable."""
        return random.Random(f"{self.config.seed}/{self.start_ms}/{name}")

    def new_person(self, rng: random.Random) -> str:
        member_id = self.ids.next("u")
        self.nicks[member_id] = nickname(rng)
        return member_id

    def nick(self, member_id: str) -> str:
        return self.nicks.get(member_id, "群友")


STAFF_NICKS = ("运营小美", "群管家阿杰", "小助手", "运营-Tina", "社群主理人", "运营小鹿")


def build_world(config: GeneratorConfig, start_ms: int, end_ms: int) -> World:
    """Communities cycling through platforms and themes, each with staff, a bot and a system id."""
    world = World(config, start_ms, end_ms, [], Ids(), {})
    rng = world.rng("world")
    for index in range(config.communities):
        theme = THEMES[index % len(THEMES)]
        platform = PLATFORMS[index % len(PLATFORMS)]
        community_id = f"{platform}-{theme.code}-{index + 1:02d}"
        staff = (f"staff-{index + 1:02d}-a", f"staff-{index + 1:02d}-b")
        for k, staff_id in enumerate(staff):
            world.nicks[staff_id] = STAFF_NICKS[(index * 2 + k) % len(STAFF_NICKS)]
        bot_id = f"bot-{index + 1:02d}"
        world.nicks[bot_id] = "群助手"
        activity = ACTIVITY_LEVELS[index % len(ACTIVITY_LEVELS)] * rng.uniform(0.9, 1.1)
        world.communities.append(Community(index, community_id, platform, theme, activity,
                                           staff, bot_id, f"system-{index + 1:02d}"))
    return world


def start_end_ms(config: GeneratorConfig) -> tuple[int, int]:
    """The simulated period ``[start, end)`` in epoch milliseconds."""
    start = config.resolved_start()
    start_ms = to_ms(start)
    return start_ms, start_ms + int(round(config.days * DAY_MS))
