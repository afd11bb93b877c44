"""Injected hour-scale anomalies with their ground truth, to measure an anomaly detector.

Off by default (``GeneratorConfig.anomalies = 0``: no random draw, no byte of the
stream changes).  With ``anomalies = n`` every community gets ``n`` of them,
kinds in rotation, at seeded random times after the first :data:`WARMUP_DAYS`
days (a detector needs a week of history to know what is normal), at least
:data:`MIN_GAP_MS` apart and away from the negative episodes, each starting at
a random minute and shaped like the real thing:

- **chatter burst** (messages spike): something sets the group talking (a hot
  post, a rumour, a flash sale): member posts run at ``factor`` (4.5-7) times
  their usual rate for 60-120 minutes, ramping up over 2-6 minutes and fading
  out over the last 5-15.  Posters are drawn by chattiness as usual, so many
  members join in and active members rise too.
- **quiet spell** (active-members drop): most members go quiet for 2-3 hours
  (a client outage, a rival live stream): random members, each from a moment
  in the first 5 minutes until one in the last 15, until the expected distinct
  active members per hour are down by 80-92%, and whoever joins during the
  spell.  The others post as usual, so member messages drop by the quiet
  members' share of the chatter (staff and bots carry on).
- **mass leave** (leaves spike): 10 or more members leave within 15-45
  minutes, front-loaded (an unpopular rule, a paywall announcement).  They are
  established members who have no planned episode message or campaign step
  after leaving, and like every member who left they never post again.

Joins drops are not injected: organic joins are a fraction of one an hour, a
drop of which nobody could see, and the rest come in campaign waves that a
seasonal baseline does not expect either, so a drop *during* a wave is a
drop from an unexpected spike, not from a baseline.

Each anomaly is one or two :class:`AnomalyTruth` entries: its metric, and
the metric it moves as a consequence (``primary=False``): a quiet spell's
messages drop, a chatter burst's active-members rise.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from pipeline.devtools.generator.campaigns import Campaign
from pipeline.devtools.generator.chat import BASE_RATE_PER_MINUTE
from pipeline.devtools.generator.clock import (
    CHAT_RHYTHM,
    DAY_MS,
    HOUR_MS,
    JOIN_RHYTHM,
    MINUTE_MS,
    from_ms,
    rhythm,
    sample_time,
    shanghai_hour,
)
from pipeline.devtools.generator.episodes import Episode
from pipeline.devtools.generator.truth import AnomalyTruth
from pipeline.devtools.generator.world import NEVER, Community, Membership, World

CHATTER_BURST, QUIET_SPELL, MASS_LEAVE = "chatter_burst", "quiet_spell", "mass_leave"
KINDS = (CHATTER_BURST, QUIET_SPELL, MASS_LEAVE)

WARMUP_DAYS = 8
"""Anomalies start after this many days: a week of seasonal history, and a day more."""
MIN_GAP_MS = 12 * HOUR_MS
"""Anomalies of one community are at least this far apart."""
EPISODE_GAP_MS = 3 * HOUR_MS
"""...and this far from its negative episodes (their bursts and angry leaves)."""
TAIL_MS = 4 * HOUR_MS
"""Every anomaly ends this long before the period does, so a detector can see it end."""

ONSET_HOURS = {CHATTER_BURST: (8, 21), QUIET_SPELL: (8, 19), MASS_LEAVE: (8, 22)}
"""Local (Asia/Shanghai) hours an anomaly may start in: when the group is awake enough
for it to matter, and so that it is over by 23:00."""

REAL_SHARE = 0.8
"""About this share of member posts are real interactions (not stickers, 收到, copies)."""


@dataclass(slots=True)
class Injection:
    """One planned anomaly of one community, as the simulation applies it.

    ``factor``: member posts' rate at the plateau relative to usual (a burst's
    multiplier, a spell's remaining share); ``active_factor``: the expected
    distinct active members per hour relative to usual; ``quiet``: a spell's
    quiet members, each with their own ``[from, to)``; ``member_ids``: who leaves.
    """

    anomaly_id: str
    kind: str
    community: int
    start_ms: int
    end_ms: int
    factor: float = 1.0
    active_factor: float = 1.0
    ramp_ms: int = 0
    fade_ms: int = 0
    quiet: dict[str, tuple[int, int]] = field(default_factory=dict)
    weight: float = 0.0
    """A spell's total chattiness of the members who could post when it began."""
    newcomers: dict[str, tuple[int, int]] = field(default_factory=dict)
    """A spell's members who joined during it: quiet from joining to near its end."""
    member_ids: list[str] = field(default_factory=list)

    @property
    def adds_posts(self) -> bool:
        return self.kind == CHATTER_BURST

    def envelope(self, ms: int) -> float:
        """0..1: how far into its plateau a burst is at ``ms`` (ramp up, hold, fade out)."""
        if not self.start_ms <= ms < self.end_ms:
            return 0.0
        since, left = ms - self.start_ms, self.end_ms - ms
        level = 1.0
        if self.ramp_ms and since < self.ramp_ms:
            level = min(level, since / self.ramp_ms)
        if self.fade_ms and left < self.fade_ms:
            level = min(level, left / self.fade_ms)
        return level

    def is_quiet(self, member_id: str, ms: int) -> bool:
        span = self.quiet.get(member_id) or self.newcomers.get(member_id)
        return span is not None and span[0] <= ms < span[1]


def _posts_per_hour(world: World, community: Community, ms: int) -> float:
    return (BASE_RATE_PER_MINUTE * 60 * community.activity * world.config.scale
            * rhythm(CHAT_RHYTHM, ms))


def _distinct(weights: list[float], total: float, posts: float) -> float:
    """Expected distinct posters in an hour of ``posts`` real posts drawn by weight."""
    if total <= 0:
        return 0.0
    return sum(1 - math.exp(-posts * w / total) for w in weights)


def _posters(community: Community, ms: int) -> list[Membership]:
    return [m for m in community.memberships if m.can_post(ms) and not m.spammer]


def _busy(world: World, episodes: list[Episode]) -> dict[int, list[tuple[int, int]]]:
    """Per community, the spans of its episodes' messages (a severe one's angry leaves
    follow its last message by up to 3 hours)."""
    busy: dict[int, list[tuple[int, int]]] = {c.index: [] for c in world.communities}
    for episode in episodes:
        times: dict[int, list[int]] = {}
        for message in episode.messages:
            times.setdefault(message.community, []).append(message.ts)
        after = 3 * HOUR_MS if episode.tier == "severe" else 0
        for index, stamps in times.items():
            busy[index].append((min(stamps), max(stamps) + after))
    return busy


def _free(spans: list[tuple[int, int]], lo: int, hi: int, gap: int) -> bool:
    return all(hi + gap <= start or end + gap <= lo for start, end in spans)


def _duration(rng: random.Random, kind: str) -> int:
    if kind == CHATTER_BURST:
        return rng.randint(60, 120) * MINUTE_MS
    if kind == QUIET_SPELL:
        return rng.randint(120, 180) * MINUTE_MS
    return rng.randint(15, 45) * MINUTE_MS


def _windows(world: World, rng: random.Random, episodes: list[Episode],
             ) -> list[tuple[int, int, str, int]]:
    """(start, end, kind, community) of every anomaly, in time order."""
    lo = world.start_ms + WARMUP_DAYS * DAY_MS
    hi = world.end_ms - TAIL_MS
    busy = _busy(world, episodes)
    planned: list[tuple[int, int, str, int]] = []
    for community in world.communities:
        taken: list[tuple[int, int]] = []
        for k in range(world.config.anomalies):
            kind = KINDS[(community.index + k) % len(KINDS)]
            duration = _duration(rng, kind)
            profile = JOIN_RHYTHM if kind == MASS_LEAVE else CHAT_RHYTHM
            first, last = ONSET_HOURS[kind]
            for _ in range(2000):
                if hi - duration <= lo:
                    break
                start = sample_time(rng, lo, hi - duration, profile)
                end = start + duration
                if (first <= shanghai_hour(start) < last
                        and _free(taken, start, end, MIN_GAP_MS)
                        and _free(busy[community.index], start, end, EPISODE_GAP_MS)):
                    taken.append((start, end))
                    planned.append((start, end, kind, community.index))
                    break
    planned.sort(key=lambda p: (p[0], p[3]))
    return planned


def _burst(world: World, rng: random.Random, injection: Injection) -> None:
    community = world.communities[injection.community]
    injection.factor = round(rng.uniform(4.5, 7.0), 2)
    injection.ramp_ms = rng.randint(2, 6) * MINUTE_MS
    injection.fade_ms = rng.randint(5, 15) * MINUTE_MS
    middle = (injection.start_ms + injection.end_ms) // 2
    posters = _posters(community, middle)
    weights = [m.weight for m in posters]
    total = sum(weights)
    posts = REAL_SHARE * _posts_per_hour(world, community, middle)
    usual = _distinct(weights, total, posts)
    burst = _distinct(weights, total, posts * injection.factor)
    injection.active_factor = round(burst / usual, 3) if usual else 1.0


def _spell(world: World, rng: random.Random, injection: Injection) -> None:
    """Quiet members in random order until the expected active members are down enough."""
    community = world.communities[injection.community]
    posters = _posters(community, injection.start_ms)
    weights = {m.member_id: m.weight for m in posters}
    total = injection.weight = sum(weights.values())
    posts = REAL_SHARE * _posts_per_hour(world, community, injection.start_ms
                                         + (injection.end_ms - injection.start_ms) // 2)
    usual = _distinct(list(weights.values()), total, posts)
    target = 1 - rng.uniform(0.8, 0.92)
    order = [m.member_id for m in posters]
    rng.shuffle(order)
    talking = dict(weights)
    for member_id in order:
        if usual and _distinct(list(talking.values()), total, posts) <= target * usual:
            break
        del talking[member_id]
        injection.quiet[member_id] = (
            injection.start_ms + rng.randint(0, 5 * MINUTE_MS),
            injection.end_ms - rng.randint(0, 15 * MINUTE_MS))
    for member in community.memberships:
        if injection.start_ms < member.join_ms < injection.end_ms and not member.spammer:
            injection.newcomers[member.member_id] = (
                member.join_ms, injection.end_ms - rng.randint(0, 15 * MINUTE_MS))
    kept = sum(talking.values())
    injection.factor = round(kept / total, 3) if total else 1.0
    active = _distinct(list(talking.values()), total, posts)
    injection.active_factor = round(active / usual, 3) if usual else 1.0


def _mass_leave(world: World, rng: random.Random, injection: Injection,
                episodes: list[Episode], campaigns: list[Campaign]) -> bool:
    """Members leave in a burst; False (nothing changed) if fewer than 10 can."""
    community = world.communities[injection.community]
    start = injection.start_ms
    # what is already planned for after the burst must not involve a leaver
    involved = {m.member_id for e in episodes for m in e.messages
                if m.community == community.index and m.ts >= start}
    involved |= {e.person_id for c in campaigns if c.community == community.index
                 for e in c.events if e.ts >= start}
    eligible = [m for m in community.memberships
                if m.is_member(start) and not m.spammer and m.join_ms < start - DAY_MS
                and m.leave_ms == NEVER and m.silent_from == NEVER
                and m.member_id not in involved]
    count = min(len(eligible), rng.randint(10, 16) + round(0.02 * len(eligible)))
    if count < 10:
        return False
    span = injection.end_ms - start
    leavers = rng.sample(eligible, count)
    times = sorted([start] + [start + int(span * rng.random() ** 1.6) for _ in leavers[1:]])
    for member, ms in zip(leavers, times, strict=True):
        member.leave_ms, member.leave_action = ms, "leave"
        injection.member_ids.append(member.member_id)
    injection.factor = float(count)
    return True


def plan_anomalies(world: World, episodes: list[Episode],
                   campaigns: list[Campaign]) -> list[Injection]:
    """Choose and prepare every community's anomalies (mass leaves change memberships now,
    before chat is simulated); in time order."""
    if world.config.anomalies <= 0:
        return []
    rng = world.rng("anomalies")
    injections = []
    numbers: dict[int, int] = {}
    for start, end, kind, index in _windows(world, rng, episodes):
        numbers[index] = numbers.get(index, 0) + 1
        community = world.communities[index]
        injection = Injection(f"anomaly-{community.community_id}-{numbers[index]:02d}", kind,
                              index, start, end)
        if kind == CHATTER_BURST:
            _burst(world, rng, injection)
        elif kind == QUIET_SPELL:
            _spell(world, rng, injection)
        elif not _mass_leave(world, rng, injection, episodes, campaigns):
            numbers[index] -= 1
            continue
        injections.append(injection)
    return injections


def anomaly_truth(world: World, injections: list[Injection]) -> list[AnomalyTruth]:
    out = []
    for injection in injections:
        common = dict(anomaly_id=injection.anomaly_id, cause=injection.kind,
                      community_id=world.communities[injection.community].community_id,
                      start=from_ms(injection.start_ms), end=from_ms(injection.end_ms))
        if injection.kind == CHATTER_BURST:
            out.append(AnomalyTruth(**common, metric="messages", direction="spike",
                                    magnitude=injection.factor))
            out.append(AnomalyTruth(**common, metric="active_members", direction="spike",
                                    magnitude=injection.active_factor, primary=False))
        elif injection.kind == QUIET_SPELL:
            out.append(AnomalyTruth(**common, metric="active_members", direction="drop",
                                    magnitude=injection.active_factor))
            out.append(AnomalyTruth(**common, metric="messages", direction="drop",
                                    magnitude=injection.factor, primary=False))
        else:
            out.append(AnomalyTruth(**common, metric="leaves", direction="spike",
                                    magnitude=injection.factor,
                                    member_ids=list(injection.member_ids)))
    return out
