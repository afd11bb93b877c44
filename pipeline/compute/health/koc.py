"""Member profiles: an explainable KOC score per member over a rolling 30 days, and layers.

Inputs are counted per member when an hour folds (:func:`hour_contributions`), summed
per local day when the day closes (:func:`day_contributions`, one table value per
community-day holding only the members who did something that day), and judged at
the day's end over the last 30 days (:func:`judge_members`).  Nothing per member is
kept beyond those day values, so a million mostly silent members cost nothing here.

Definitions (docs/metrics.md, "KOC and member layers"), all from real interactions
(the DAU definition: member messages that are not mechanical and not copies):

- **messages**: the member's real interactions;
- **engagement**: replies and @mentions received from *other* members' real
  interactions; a reply counts when the message it quotes is a member message (not a
  system message) of the same community in the same or the previous clock hour (the
  windows at hand when the reply's hour folds; quoting older messages is rare in group
  chat and is not credited);
- **content**: mean characters of the member's real text messages, each counted up
  to :data:`LENGTH_CAP` (a pasted essay is not ten times the quality);
- **sentiment**: positive share of the member's scored real interactions;
- **invitations**: joins naming the member as inviter (裂变).

Each component earns points up to its weight, linearly to its cap
(:data:`SCORE_PARTS`); the score is their sum (0-100), published with every part so an
operator sees why.  KOC: the top ``share`` of the community's *active* members (a real
interaction in the 30 days; ``ceil``), ranked by score then member id, whose score is at
least ``min_score``.  Layers of present members: **core** (核心) = KOC or real
interactions on at least ``core_days`` of the 30 days; **participating** (参与) = any
real interaction in the 30 days; **onlooker** (围观) = none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.compute.health.hours import SYSTEM, HourSummary, HourWindow

PROFILE_DAYS = 30
"""Days of the rolling window, the closing day included."""
LENGTH_CAP = 300
REAL, TEXTS, CHARS, REPLIED, MENTIONED, POSITIVE, SCORED, INVITED = range(8)
FIELDS = 8
"""A member's counts of one hour or day: real interactions, real text messages, their
characters, replies and mentions received, positive and scored real interactions,
invited joins."""

Counts = list[int]

SCORE_PARTS: tuple[tuple[str, float, float], ...] = (
    ("messages", 30.0, 60.0),
    ("engagement", 25.0, 20.0),
    ("content", 15.0, 30.0),
    ("sentiment", 15.0, 1.0),
    ("invitations", 15.0, 5.0),
)
"""(component, points at or above the cap, cap): 60 real interactions in 30 days, 20
replies and mentions received, a mean of 30 characters, an all-positive share, 5 invited
joins."""


@dataclass(frozen=True)
class KocRules:
    share: float = 0.06
    """Share of the community's active members flagged KOC (5-8% expected)."""
    min_score: float = 30.0
    core_days: int = 10


def _row(rows: dict[str, Counts], member: str) -> Counts:
    found = rows.get(member)
    if found is None:
        found = rows[member] = [0] * FIELDS
    return found


def hour_contributions(window: HourWindow, previous: HourWindow | None,
                       summary: HourSummary) -> dict[str, Counts]:
    """Per member, what one folded hour adds to their profile (``previous``: the
    community's hour before it, where quoted messages may be)."""
    rows: dict[str, Counts] = {}
    earlier = previous.messages if previous is not None else {}
    for message_id in summary.real_messages:
        entry = window.messages[message_id]
        sender = entry[2]
        row = _row(rows, sender)
        row[REAL] += 1
        if len(entry) > 6 and entry[6]:
            row[TEXTS] += 1
            row[CHARS] += min(entry[6], LENGTH_CAP)
        polarity = window.scores.get(message_id)
        if polarity is not None:
            row[SCORED] += 1
            row[POSITIVE] += polarity == 1
        if len(entry) <= 8:
            continue
        target = (window.messages.get(entry[7]) or earlier.get(entry[7])) if entry[7] else None
        if target is not None and target[1] == 0 and target[3] != SYSTEM and target[2] != sender:
            _row(rows, target[2])[REPLIED] += 1
        for mentioned in entry[8]:
            _row(rows, mentioned)[MENTIONED] += 1
    for _ts, _member, action, *rest in window.member_events.values():
        if action == "join" and len(rest) > 1:
            _row(rows, rest[1])[INVITED] += 1
    return rows


def quotable(window: HourWindow) -> HourWindow:
    """What the next hour's replies need of a folded window: its member messages' time,
    role, sender and kind."""
    return HourWindow(messages={message_id: entry[:4] for message_id, entry
                                in window.messages.items() if entry[1] == 0 and entry[3] != SYSTEM})


def day_contributions(hours: Iterable[Mapping[str, Counts]]) -> dict[str, Counts]:
    """The day's counts per member: the sum of its hours'."""
    total: dict[str, Counts] = {}
    for rows in hours:
        for member, counts in rows.items():
            row = _row(total, member)
            for index, value in enumerate(counts):
                row[index] += value
    return total


@dataclass(frozen=True, slots=True)
class Totals:
    """One member's counts over the 30 days."""

    counts: tuple[int, ...]
    active_days: int

    @property
    def real(self) -> int:
        return self.counts[REAL]


def window_totals(days: Iterable[Mapping[str, Counts]]) -> dict[str, Totals]:
    """Per member, the sum of the 30 days' counts and the days with a real interaction."""
    days = list(days)
    active = Counter(member for rows in days for member, counts in rows.items()
                     if counts[REAL] > 0)
    return {member: Totals(tuple(row), active[member])
            for member, row in day_contributions(days).items()}


def points(totals: Totals) -> dict[str, float]:
    """The five components' points (each rounded to 0.01)."""
    c = totals.counts
    values = {
        "messages": c[REAL],
        "engagement": c[REPLIED] + c[MENTIONED],
        "content": c[CHARS] / c[TEXTS] if c[TEXTS] else 0.0,
        "sentiment": c[POSITIVE] / c[SCORED] if c[SCORED] else 0.0,
        "invitations": c[INVITED],
    }
    return {name: round(weight * min(1.0, values[name] / cap), 2)
            for name, weight, cap in SCORE_PARTS}


@dataclass(frozen=True, slots=True)
class Profile:
    member_id: str
    layer: str
    is_koc: bool
    rank: int | None
    score: float
    points: dict[str, float]
    totals: Totals


@dataclass(frozen=True, slots=True)
class Layers:
    koc: int
    core: int
    participating: int
    onlooker: int


def judge_members(present: Iterable[str], recent: Mapping[str, Totals],
                  seen: Iterable[str], rules: KocRules) -> tuple[list[Profile], Layers]:
    """Profiles of the present members ``seen`` in the last 31 days (``recent``: their 30
    days' totals, absent for members seen only on the 31st) and the layer counts of all
    present members."""
    present = set(present)
    scored = {member: points(totals) for member, totals in recent.items() if member in present}
    scores = {member: round(sum(parts.values()), 2) for member, parts in scored.items()}
    active = sorted((m for m in scores if recent[m].real > 0), key=lambda m: (-scores[m], m))
    ranks = {member: index + 1 for index, member in enumerate(active)}
    quota = math.ceil(len(active) * rules.share)
    koc = {m for m in active[:quota] if scores[m] >= rules.min_score}
    profiles = []
    seen = set(seen)
    core = participating = 0
    empty = Totals((0,) * FIELDS, 0)
    for member in sorted(present):
        totals = recent.get(member, empty)
        layer = layer_of(totals, member in koc, rules)
        core += layer == "core"
        participating += layer == "participating"
        if member in seen:
            profiles.append(Profile(member, layer, member in koc, ranks.get(member),
                                    scores.get(member, 0.0),
                                    scored.get(member) or points(empty), totals))
    return profiles, Layers(len(koc), core, participating, len(present) - core - participating)


def layer_of(totals: Totals, is_koc: bool, rules: KocRules) -> str:
    if is_koc or totals.active_days >= rules.core_days:
        return "core"
    return "participating" if totals.real > 0 else "onlooker"
