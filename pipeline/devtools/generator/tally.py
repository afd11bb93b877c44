"""Build the ground truth from the simulation itself (not from the serialised bytes).

Tests recompute the same numbers independently from the records, so a bug
in serialisation or delivery cannot hide behind a matching bug here.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from pipeline.devtools.generator.campaigns import Campaign
from pipeline.devtools.generator.chat import Message
from pipeline.devtools.generator.clock import MINUTE_MS, SHANGHAI_OFFSET_MS, from_ms, minute_iso
from pipeline.devtools.generator.episodes import Episode
from pipeline.devtools.generator.orders import Order
from pipeline.devtools.generator.stream import OutRecord
from pipeline.devtools.generator.truth import (
    AnomalyTruth,
    CommunityTruth,
    EpisodeTruth,
    ExpectedDeadLetter,
    FunnelTruth,
    GroundTruth,
    KindCounts,
    OrdersTruth,
    OrderTotals,
    PiiMessage,
    SilentMember,
)
from pipeline.devtools.generator.vocabulary import terms_in
from pipeline.devtools.generator.world import NEVER, World
from pipeline.topics import INPUT_TOPICS
from schemas.events import FUNNEL_STEPS

FUNNEL_TARGET = 0.85


def minute_activity(world: World, messages: list[Message]) -> list[tuple[str, str, int, int]]:
    counts: dict[tuple[int, int], int] = Counter()
    speakers: dict[tuple[int, int], set[str]] = defaultdict(set)
    for m in messages:
        key = (m.community, m.ts - m.ts % MINUTE_MS)
        counts[key] += 1
        if m.role == "member":
            speakers[key].add(m.member_id)
    return [(world.communities[c].community_id, minute_iso(ms), counts[(c, ms)],
             len(speakers[(c, ms)])) for c, ms in sorted(counts)]


def communities(world: World, messages: list[Message]) -> list[CommunityTruth]:
    by_community: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        by_community[m.community].append(m)
    out = []
    for c in world.communities:
        joined = [m for m in c.memberships if world.start_ms <= m.join_ms < world.end_ms]
        posted = by_community[c.index]
        roles = Counter(m.role for m in posted)
        out.append(CommunityTruth(
            community_id=c.community_id, platform=c.platform, theme=c.theme.code,
            name=c.theme.group_name,
            initial_members=sum(m.join_ms < world.start_ms for m in c.memberships),
            joins=len(joined), invited_joins=sum(m.inviter_id is not None for m in joined),
            joins_by_channel=dict(sorted(Counter(m.channel or "" for m in joined).items())),
            leaves=sum(m.leave_action == "leave" for m in c.memberships),
            removed=sum(m.leave_action == "removed" for m in c.memberships),
            members_at_end=sum(m.join_ms < world.end_ms and m.leave_ms == NEVER
                               for m in c.memberships),
            messages=len(posted), member_messages=roles["member"],
            staff_messages=roles["staff"], bot_messages=roles["bot"],
            mechanical_messages=sum(m.mechanical for m in posted),
            speakers=len({m.member_id for m in posted if m.role == "member"}),
        ))
    return out


def silent_members(world: World, messages: list[Message]) -> list[SilentMember]:
    last: dict[tuple[int, str], int] = {}
    for m in messages:
        key = (m.community, m.member_id)
        if last.get(key, -1) < m.ts:
            last[key] = m.ts
    out = []
    for c in world.communities:
        for member in c.memberships:
            seen = last.get((c.index, member.member_id))
            if member.silent_from != NEVER and seen is not None:
                out.append(SilentMember(community_id=c.community_id, member_id=member.member_id,
                                        last_active=from_ms(seen),
                                        silent_since=from_ms(member.silent_from)))
    return out


def episodes(world: World, planned: list[Episode]) -> list[EpisodeTruth]:
    out = []
    for episode in planned:
        own = episode.own_messages
        terms: list[str] = []
        for m in own:
            terms += [t for t in terms_in(m.text) if t not in terms]
        out.append(EpisodeTruth(
            episode_id=episode.episode_id, expected_tier=episode.tier,  # type: ignore[arg-type]
            community_ids=list(dict.fromkeys(world.communities[m.community].community_id
                                             for m in own)),
            start=from_ms(min(m.ts for m in own)), end=from_ms(max(m.ts for m in own)),
            message_ids=[m.message_id for m in own if m.message_id],
            member_ids=list(dict.fromkeys(m.member_id for m in own)), terms=terms,
        ))
    return out


def funnels(world: World, campaigns: list[Campaign]) -> list[FunnelTruth]:
    out = []
    for campaign in campaigns:
        steps = {step: len(campaign.reached[step]) for step in FUNNEL_STEPS}
        conversion = {
            f"{a}->{b}": round(steps[b] / steps[a], 4)
            for a, b in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:], strict=False) if steps[a]
        }
        by_channel: dict[str, dict[str, int]] = {}
        for step in FUNNEL_STEPS:
            for person in campaign.reached[step]:
                channel = by_channel.setdefault(campaign.channel_of[person], {})
                channel[step] = channel.get(step, 0) + 1
        out.append(FunnelTruth(
            campaign_id=campaign.campaign_id, title=campaign.title,
            community_id=world.communities[campaign.community].community_id,
            peak_day=from_ms(campaign.activity_ms + SHANGHAI_OFFSET_MS).date(), steps=steps,
            conversion=conversion,
            below_target=[k for k, v in conversion.items() if v < FUNNEL_TARGET],
            by_channel=dict(sorted(by_channel.items())), events=len(campaign.events),
            joined_community=len(campaign.joined),
        ))
    return out


def _totals(orders: list[Order]) -> OrderTotals:
    paid = [o for o in orders if o.status == "paid"]
    refunds = [o for o in orders if o.status == "refunded"]
    per_buyer = Counter(o.member_id for o in paid)
    return OrderTotals(orders=len(paid), gmv_fen=sum(o.amount_fen for o in paid),
                       buyers=len(per_buyer), repeat_buyers=sum(n > 1 for n in per_buyer.values()),
                       refunds=len(refunds), refund_fen=sum(o.amount_fen for o in refunds))


def orders(all_orders: list[Order]) -> OrdersTruth:
    def grouped(attribute: str) -> dict[str, OrderTotals]:
        groups: dict[str, list[Order]] = defaultdict(list)
        for o in all_orders:
            value = getattr(o, attribute)
            if value is not None:
                groups[value].append(o)
        return {k: _totals(v) for k, v in sorted(groups.items())}

    return OrdersTruth(total=_totals(all_orders), by_community=grouped("community_id"),
                       by_campaign=grouped("campaign_id"), by_channel=grouped("channel"))


def pii_messages(world: World, messages: list[Message]) -> list[PiiMessage]:
    return [PiiMessage(message_id=m.message_id,
                       community_id=world.communities[m.community].community_id,
                       kinds=list(m.pii.kinds), values=list(m.pii.values))
            for m in messages if m.pii is not None]


def topic_counts(records: list[OutRecord]) -> dict[str, KindCounts]:
    counts = {t.name: Counter() for t in INPUT_TOPICS}
    for r in records:
        counts[r.topic][r.kind] += 1
    return {topic: KindCounts(**c) for topic, c in counts.items()}


def build_truth(world: World, messages: list[Message], planned: list[Episode],
                campaigns: list[Campaign], all_orders: list[Order], records: list[OutRecord],
                dead_letters: list[ExpectedDeadLetter],
                anomalies: list[AnomalyTruth] | None = None) -> GroundTruth:
    return GroundTruth(
        config=world.config.echo(from_ms(world.start_ms)),
        start=from_ms(world.start_ms), end=from_ms(world.end_ms), records=len(records),
        topic_counts=topic_counts(records), minute_activity=minute_activity(world, messages),
        dead_letters=dead_letters, communities=communities(world, messages),
        silent_members=silent_members(world, messages), episodes=episodes(world, planned),
        funnels=funnels(world, campaigns), orders=orders(all_orders),
        pii_messages=pii_messages(world, messages), anomalies=anomalies or [],
    )
